"""Compiled loops over the sparse local Jacobian.

The sweeps of the schedules are short loops over CSR index arrays. They are compiled with
numba when it is installed (cached on disk after the first call) and otherwise run as the same
Python code; results are identical either way, only the speed differs.
"""

from __future__ import annotations

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - exercised only where numba is absent
    njit = None


def _compiled(function):
    return njit(cache=True, nogil=True)(function) if njit is not None else function


@_compiled
def back_substitute(node_order, offsets, indptr, indices, data, lam):  # pragma: no cover
    """In place: for node i in ``node_order``, ``lam[Pa(i)] += J[i, Pa(i)]^T lam_i``.

    With ``node_order`` the reverse of a topological order this solves ``A^T lam = e_N`` by
    back-substitution when ``lam`` starts at ``e_N``. Returns the multiply-adds performed.
    """
    spent = 0
    for k in range(node_order.shape[0]):
        i = node_order[k]
        for r in range(offsets[i], offsets[i + 1]):
            g = lam[r]
            if g != 0.0:
                for e in range(indptr[r], indptr[r + 1]):
                    lam[indices[e]] += g * data[e]
                spent += indptr[r + 1] - indptr[r]
    return spent


HAVE_COMPILER = njit is not None


def warm_up() -> None:
    """Compile (or load from the cache) every kernel once."""
    one = np.zeros(1, np.int64)
    back_substitute(np.zeros(0, np.int64), np.zeros(2, np.int64), np.zeros(2, np.int64), one,
                    np.zeros(1), np.zeros(1))
