"""Descent on the Lagrange dual: minimize ``f(lam) = 1/2 ||A^T lam - e_N||^2`` from ``lam = 0``.

The minimizer is the solution of ``A^T lam = e_N`` (A is nonsingular on a DAG), and the gradient
of f is ``A (A^T lam - e_N) = -A res`` with the KKT residual ``res = e_N - A^T lam``. Only
products with A and A^T are needed, so both algorithms run on the matrix-free operator
(``program.kkt_operator()``, every node's JVP and VJP rule) and never assemble J; with
``operator="sparse"`` they use the assembled ``A = I - J`` instead, which is faster when J fits.

* ``algorithm="cg"``: conjugate gradients on the normal equations ``A A^T lam = A e_N``, in the
  CGLS form that never forms ``A A^T``::

      res = e_N,  s = A res,  p = s
      repeat:  q = A^T p,   alpha = ||s||^2 / ||q||^2
               lam += alpha p,   res -= alpha q
               s' = A res,   p = s' + (||s'||^2 / ||s||^2) p

  In exact arithmetic it ends after at most ``total_size`` steps; it converges at the rate set
  by the condition number of A (not its square), but deep graphs make A ill-conditioned.

* ``algorithm="gradient"``: steepest descent with exact line search, ``d = A res``,
  ``lam += t d`` with ``t = ||d||^2 / ||A^T d||^2``. Its rate is set by ``cond(A)^2``, so it is
  slow on anything but small, well-conditioned graphs: it is here as the plainest dual method.

Each step costs one product with A and one with ``A^T``. The residual ``res`` is updated by
its recurrence (equal to ``e_N - A^T lam`` in exact arithmetic) and ``residuals`` holds
``||res||`` after each step. Stopping rule as for the sweeps: the first step with
``||res|| <= tol * max(1, ||lam||)``; otherwise ``converged=False`` with a message after
``maxiter`` steps, no exception (`la.grad` raises `ConvergenceError`). The default cap is
``max(2 n, 1000)`` steps for CG (n steps suffice in exact arithmetic; rounding costs a few
more on deep graphs) and ``max(10 n, 1000)`` for steepest descent, for n scalar entries.

Cost, estimated before the first step from the cap (`lagrange_ad.schedules.budget`): per step
one product with A and one with A^T (``nnz(J) + n`` each) and ``6 n`` of vector work. On a
chain of n nodes CG's estimate ``2 n * 10 n`` passes the default budget of 10^9 from n of
about 7,000. With ``time_limit`` every step checks the clock.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

from ..program.program import Program
from .budget import Cost, check_time, per_iteration
from .options import choice, integer, real
from .plans import converged_message
from .registry import Outcome, Schedule, register_schedule

ALGORITHMS = ("cg", "gradient")
OPERATORS = ("matrix-free", "sparse")


def descend(a_op: spla.LinearOperator, e: np.ndarray, *, algorithm: str, tol: float,
            maxiter: int) -> tuple[np.ndarray, list[float], float]:
    """Minimize ``1/2 ||A^T lam - e||^2`` from 0; returns ``lam``, ``||res||`` per step, scale."""
    lam = np.zeros_like(e)
    res = e.copy()
    s = a_op.matvec(res)  # minus the gradient of f at lam
    p = s.copy()
    gamma = float(s @ s)
    residuals: list[float] = []
    scale = 1.0
    for k in range(maxiter):
        check_time(k, residuals[-1] if residuals else None)
        if gamma == 0.0:
            break  # the gradient vanished: lam is the minimizer (or res is exactly 0)
        direction = p if algorithm == "cg" else s
        q = a_op.rmatvec(direction)
        step = gamma / float(q @ q)  # exact line search: ||s||^2 = s . direction for both
        lam += step * direction
        res -= step * q
        s = a_op.matvec(res)
        gamma_next = float(s @ s)
        if algorithm == "cg":
            p = s + (gamma_next / gamma) * p
        gamma = gamma_next
        residuals.append(float(np.linalg.norm(res)))
        scale = max(1.0, float(np.linalg.norm(lam)))
        if residuals[-1] <= tol * scale:
            break
    return lam, residuals, scale


def _run(program: Program, *, algorithm: str = "cg", operator: str = "matrix-free",
         tol: float = 1e-12, maxiter: int | None = None) -> Outcome:
    a_op = program.kkt_operator() if operator == "matrix-free" \
        else spla.aslinearoperator(program.kkt_matrix())
    maxiter = default_cap(program, algorithm) if maxiter is None else maxiter
    lam, residuals, scale = descend(a_op, program.rhs(), algorithm=algorithm, tol=float(tol),
                                    maxiter=maxiter)
    res = residuals[-1] if residuals else float(np.linalg.norm(program.rhs()))
    converged = res <= tol * scale
    # one product with A and one with A^T per step, plus the first A res
    per_product = program.total_multiply_adds
    return Outcome(lam, iterations=len(residuals), converged=converged, residuals=residuals,
                   multiply_adds=(2 * len(residuals) + 1) * per_product,
                   message=converged_message(f"dual-descent ({algorithm})", len(residuals), res,
                                             tol, scale, program.residual_name),
                   extra={"algorithm": algorithm, "operator": operator})


def default_cap(program: Program, algorithm: str) -> int:
    """``max(2 n, 1000)`` steps for CG, ``max(10 n, 1000)`` for steepest descent."""
    return max((2 if algorithm == "cg" else 10) * program.graph.total_size, 1000)


def _cost(program: Program, options: dict) -> Cost:
    n = program.graph.total_size
    steps = options.get("maxiter") or default_cap(program, options.get("algorithm", "cg"))
    work = 2 * (program.total_multiply_adds + n) + 6 * n
    return per_iteration(steps, work, f"a product with A and A^T and vector work ({work:,})",
                         "steps")


DUAL_DESCENT = register_schedule(Schedule(
    name="dual-descent",
    run=_run,
    summary="minimize 1/2 ||A^T lam - e_N||^2 by CG on the normal equations or steepest descent",
    accepts=(
        choice("algorithm", "cg", ALGORITHMS, "CG on the normal equations or steepest descent"),
        choice("operator", "matrix-free", OPERATORS, "products by VJP/JVP rules or with the "
               "assembled sparse A"),
        real("tol", 1e-12, "stop at ||e_N - A^T lam|| <= tol * max(1, ||lam||)", low=0),
        integer("maxiter", None, "step cap; None: max(2 entries, 1000) for cg, max(10 "
                "entries, 1000) for gradient", low=1, none=True)),
    cost=_cost,
))
