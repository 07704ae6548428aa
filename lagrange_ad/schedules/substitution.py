"""Back-substitution over the assembled J along a given order of nodes.

For node i in ``order`` (a reverse topological order, or any part of one whose children were
all visited before),

    lam[Pa(i)] += J[i, Pa(i)]^T lam_i,

that is ``lam_c += lam_r J[r, c]`` for every stored partial of the rows r of node i. Started
at ``lam = e_N`` over a whole reverse topological order this solves ``A^T lam = e_N``; the
condensation sweep runs it on the acyclic stretches between cyclic blocks, and the Jacobian
by adjoints runs it once per output entry.

`back_substitute` is the one place where an accelerator of task ``"back-substitution"``
(the compiled loop of `lagrange_ad.accel.sweeps`) replaces the loop `substitute_in_order`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..accel.dispatch import accelerator_for

__all__ = ["back_substitute", "substitute_in_order"]


def substitute_in_order(order: np.ndarray, offsets: np.ndarray, jac: sp.csr_matrix,
                        lam: np.ndarray) -> int:
    """In place, ``lam[Pa(i)] += J[i, Pa(i)]^T lam_i`` for i in ``order``; the multiply-adds.

    A row whose multiplier is zero sends nothing and costs nothing.
    """
    indptr, indices, data = jac.indptr, jac.indices, jac.data
    spent = 0
    for i in np.asarray(order).tolist():
        for r in range(offsets[i], offsets[i + 1]):
            first, last = indptr[r], indptr[r + 1]
            if lam[r] != 0.0 and last > first:
                # add.at, not +=: a row may name one column twice
                np.add.at(lam, indices[first:last], lam[r] * data[first:last])
                spent += int(last - first)
    return spent


def back_substitute(order: np.ndarray, offsets: np.ndarray, jac: sp.csr_matrix,
                    lam: np.ndarray) -> int:
    """`substitute_in_order`, or the accelerator of task ``"back-substitution"`` serving
    ``jac``: ``run(order, offsets, jac, lam) -> multiply-adds``, same result in place."""
    accelerator = accelerator_for("back-substitution", jac)
    if accelerator is not None:
        return int(accelerator.run(order, offsets, jac, lam))
    return substitute_in_order(order, offsets, jac, lam)
