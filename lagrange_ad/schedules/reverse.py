"""The reverse sweep: backpropagation as back-substitution on ``A^T lam = e_N``.

On a DAG, A is unit lower triangular in a topological order, so visiting nodes in reverse
topological order settles each multiplier block in one step (the lecture's back-propagate
loop)::

    lam <- e_N
    for i = N, ..., 1:                      (reverse topological order)
        lam_Pa(i) += lam_i^T d p_i / d v_Pa(i)

When node i is visited every child of i has already added its term, so lam_i is final and
``lam_j = [j = N] + sum_{i : j in Pa(i)} lam_i d p_i / d v_j`` holds for all j after one sweep.
"""

from __future__ import annotations

import numpy as np

from ..errors import LagrangeADError
from ..kernels import back_substitute
from ..program import Program
from .registry import Outcome, Schedule, register_schedule


def prefers_jacobian(program: Program) -> bool:
    """Whether J is sparse enough to assemble: few partials per scalar entry, as in scalar graphs.

    Nodes with large dense blocks (matrix products) are cheaper through their VJP rules.
    """
    return int(program.multiply_adds.sum()) <= 8 * program.graph.total_size + 1024


def reverse_sweep(program: Program, order: np.ndarray | None = None,
                  via: str = "auto") -> tuple[np.ndarray, int]:
    """One block sweep in the given order (reverse topological by default).

    ``via="jacobian"`` runs the compiled loop over the assembled sparse J, ``via="rules"``
    calls each node's VJP rule; ``"auto"`` picks by `prefers_jacobian`. Returns the
    multipliers and the multiply-adds spent.
    """
    graph = program.graph
    order = graph.topological_order()[::-1] if order is None else np.asarray(order, np.int64)
    lam = program.rhs()
    if via == "jacobian" or (via == "auto" and prefers_jacobian(program)):
        jac = program.local_jacobian()
        spent = back_substitute(np.ascontiguousarray(order), graph.offsets, jac.indptr,
                                jac.indices, jac.data, lam)
        return lam, int(spent)
    if via not in ("auto", "rules"):
        raise LagrangeADError(f"via must be 'auto', 'jacobian' or 'rules'; got {via!r}")
    offsets, is_source, cost = graph.offsets, program.is_source, program.multiply_adds
    spent = 0
    for i in order.tolist():
        if is_source[i]:
            continue
        g = lam[offsets[i]:offsets[i + 1]]
        if g.any():
            program.scatter_vjp(i, g, lam)
            spent += int(cost[i])
    return lam, spent


def _run(program: Program, *, via: str = "auto", check: bool = True) -> Outcome:
    lam, spent = reverse_sweep(program, via=via)
    residuals = [program.kkt_residual(lam)] if check else []
    return Outcome(lam, iterations=1, converged=True, residuals=residuals, multiply_adds=spent)


def _refuses(program: Program, options: dict) -> str | None:
    if not program.graph.is_acyclic:
        return "the graph has a cycle, so no node order makes A triangular"
    return None


REVERSE = register_schedule(Schedule(
    name="reverse",
    run=_run,
    summary="backpropagation: one block sweep in reverse topological order",
    refuses=_refuses,
))
