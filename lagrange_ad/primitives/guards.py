"""Guards: decisions taken at the traced point that the graph cannot recompute, checked on
replay.

numpy code may branch on a failure: ``try: cholesky(k) except LinAlgError: cholesky(k + eps I)``.
The trace raises the matrix row's domain error (`lagrange_ad.linalg.common.checked_call`), the
program takes its except branch, and the graph holds that branch only. The row
``outside_domain(operands; row, row_params)`` records the decision: its value is 0 and its
derivative zero, and its domain rule is the reverse of the guarded row's, so replaying the
graph at a point where the row would succeed (and the program would not take the except
branch) raises `DomainError` instead of returning the other branch's value.
"""

from __future__ import annotations

import numpy as np

from .registry import lookup
from .structure import piecewise_constant


def _still_outside(*xs, row: str, row_params: tuple = ()):
    if lookup(row).domain(*xs, **dict(row_params)) is None:
        return (f"the graph was traced where {row} failed its domain check and the program "
                f"took the branch for that failure (except LinAlgError); here {row} succeeds, "
                f"so the program would take the other branch: trace again at this point "
                f"(la.grad(f) traces at every call), or make the choice without an exception")
    return None


piecewise_constant("outside_domain", lambda *xs, row, row_params=(): np.zeros(()),
                   arity=None, shape=lambda *shapes, **params: (),
                   param_names=("row", "row_params"), domain=_still_outside, compiled=False)
