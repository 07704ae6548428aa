"""``"unrolled"``: backpropagation through K explicit fixed-point iterations.

The cyclic program is unrolled (`lagrange_ad.graph.unroll`) into a DAG of ``steps`` Gauss-Seidel
sweeps starting at the initial values, the DAG is solved by the reverse sweep, and the
multipliers of each original node are folded back as the sum over its copies. It is the
baseline that the implicit schedules improve on: its error against the implicit multipliers
decays like ``rho^K`` for a contraction with spectral radius rho, while its cost grows with K.
``converged`` says whether the folded multipliers satisfy the implicit KKT system to ``tol``
(relative to ``max(1, ||lam||)``).
"""

from __future__ import annotations

import numpy as np

from ..graph.unroll import unroll
from ..program.program import Program
from .budget import per_iteration
from .options import integer, real
from .registry import Outcome, Schedule, register_schedule
from .reverse import reverse_sweep


def _run(program: Program, *, steps: int = 50, tol: float = 1e-8) -> Outcome:
    unrolled = unroll(program.graph, steps)
    inner = Program(unrolled.graph, *program.point)
    lam, spent = reverse_sweep(inner)
    folded = unrolled.fold(lam.flat)
    # the folded multipliers solve the implicit KKT system only approximately: say how well
    res = program.kkt_residual(folded)
    scale = max(1.0, float(np.linalg.norm(folded)))
    converged = res <= tol * scale
    verdict = "within" if converged else "NOT within"
    return Outcome(folded, iterations=steps, converged=converged, residuals=[res],
                   multiply_adds=spent,
                   message=(f"{steps} fixed-point sweeps unrolled and backpropagated; KKT residual "
                            f"of the implicit system {res:.3g}, {verdict} tol * max(1, ||lam||)"),
                   extra={"unrolled_nodes": len(unrolled.graph)})


def _refuses(program: Program, options: dict) -> str | None:
    if program.graph.is_acyclic:
        return "the graph has no cycle to unroll (use 'reverse')"
    return None


register_schedule(Schedule(
    name="unrolled",
    run=_run,
    summary="backpropagation through K unrolled fixed-point sweeps (cyclic graphs)",
    refuses=_refuses,
    accepts=(integer("steps", 50, "fixed-point sweeps unrolled (K)", low=1),
             real("tol", 1e-8, "converged when the folded multipliers' KKT residual is <= tol * "
                  "max(1, ||lam||)", low=0)),
    # the unrolled DAG holds about one copy of the graph per step
    cost=lambda program, options: per_iteration(
        options.get("steps", 50), program.total_multiply_adds,
        f"{program.total_multiply_adds:,} partials", "unrolled sweeps"),
))
