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


@_compiled
def back_substitute_rows(indptr, indices, data, lam):  # pragma: no cover
    """`back_substitute` when nodes are scalars numbered in topological order.

    Then row i of J is node i and the reverse topological order is ``i = n - 1, ..., 0``, so no
    order or offsets need to be read. Returns the multiply-adds performed.
    """
    spent = 0
    for i in range(lam.shape[0] - 1, -1, -1):
        g = lam[i]
        if g != 0.0:
            for e in range(indptr[i], indptr[i + 1]):
                lam[indices[e]] += g * data[e]
            spent += indptr[i + 1] - indptr[i]
    return spent


@_compiled
def rows_update(indptr, indices, data, rhs, lam, out):  # pragma: no cover
    """``out[r] = rhs[r] + sum_k data[k] lam[indices[k]]`` over the rows of a CSR matrix."""
    for r in range(indptr.shape[0] - 1):
        acc = rhs[r]
        for k in range(indptr[r], indptr[r + 1]):
            acc += data[k] * lam[indices[k]]
        out[r] = acc


@_compiled
def sweep_groups(group_ptr, entries, indptr, indices, data, rhs, lam, omega,
                 scratch):  # pragma: no cover
    """In place, group after group: ``lam_G <- (1 - omega) lam_G + omega (e_N + J^T lam)_G``.

    Row r of the CSR arrays is ``J^T`` at plan row r (entry ``entries[r]``); a group's rows are
    all computed from the current ``lam`` before any of them is written.
    """
    for g in range(group_ptr.shape[0] - 1):
        r0 = group_ptr[g]
        r1 = group_ptr[g + 1]
        for r in range(r0, r1):
            acc = rhs[r]
            for k in range(indptr[r], indptr[r + 1]):
                acc += data[k] * lam[indices[k]]
            scratch[r - r0] = acc
        for r in range(r0, r1):
            e = entries[r]
            if omega == 1.0:
                lam[e] = scratch[r - r0]
            else:
                lam[e] = (1.0 - omega) * lam[e] + omega * scratch[r - r0]


def warm_up() -> None:
    """Compile (or load from the cache) every kernel once, so that no timing includes it."""
    ints, one = np.zeros(2, np.int64), np.zeros(1, np.int64)
    back_substitute(np.zeros(0, np.int64), ints, ints, one, np.zeros(1), np.zeros(1))
    back_substitute_rows(one, one, np.zeros(1), np.zeros(0))
    rows_update(one, one, np.zeros(1), np.zeros(0), np.zeros(1), np.zeros(0))
    sweep_groups(one, one, one, one, np.zeros(1), np.zeros(0), np.zeros(1), 1.0, np.zeros(0))
