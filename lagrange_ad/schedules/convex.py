"""The linearized program handed to cvxpy; its equality duals are the multipliers.

Linearizing every constraint ``c_i(v) = v_i - p_i(v_Pa(i))`` at the forward values v* gives

    c(v) ~ A v - b,     A = I - J(v*),     b = A v*,

(b holds the input values ``x_i`` at input rows and the affine offsets
``p_i(v*) - J_i v*`` at the others, so v* is feasible), and the linear program

    maximize  e_N^T v   subject to   A v = b.

On a DAG, A is invertible, so v* is its only feasible point and the objective is constant on
the feasible set; the optimal duals are nevertheless unique, because stationarity of the
Lagrangian in v is ``A^T y = e_N`` whichever sign convention is used.

Sign convention. cvxpy solves ``Maximize(f)`` as ``Minimize(-f)`` and reports the duals of that
minimization unchanged (only the optimal value is negated back). For ``Minimize(g)`` with a
constraint ``lhs == rhs`` its Lagrangian is ``g + y^T (lhs - rhs)``, so here

    L_cvxpy = -e_N^T v + y^T (A v - b) = -(v_N - y^T c(v)) = -L,

the negative of the lecture's Lagrangian ``L = v_N - sum_i lam_i c_i``. Both vanish in v at
the same point, and ``grad_v L_cvxpy = -e_N + A^T y = 0`` is ``A^T y = e_N``: lam = y, the
constraint's ``dual_value`` itself, with no sign flip. (For ``Minimize(-v_N)`` written by hand
the same holds; a ``Minimize(v_N)`` would give ``lam = -y``.)

The solver's arithmetic is not visible, so ``multiply_adds`` is a lower bound: one
application of A and one of A^T (``2 nnz(J)``) for the initial point and for each iteration.
CLARABEL's initial point already solves the KKT system of an LP with equality constraints
only, so it typically reports 0 iterations.

Options: ``solver`` (a cvxpy solver name; default the first installed of CLARABEL, ECOS, SCS,
OSQP), ``tol`` (passed as the solver's feasibility and gap tolerances), ``max_size`` (refuse
programs with more scalar entries). ``converged`` is cvxpy's status ``"optimal"``; the status
is in ``extra["status"]``. Its cost is bounded by ``max_size`` rather than estimated (the
solver's work is not visible): the budget charges it one sweep.
"""

from __future__ import annotations

import numpy as np

from ..errors import LagrangeADError
from ..program.program import Program
from .budget import size_limit
from .options import integer, real, value
from .registry import Outcome, Schedule, register_schedule

# solvers in order of preference (accurate duals first) and their tolerance keywords
TOLERANCE_KEYWORDS = {
    "CLARABEL": ("tol_gap_abs", "tol_gap_rel", "tol_feas", "tol_ktratio"),
    "ECOS": ("abstol", "reltol", "feastol"),
    "SCS": ("eps_abs", "eps_rel"),
    "OSQP": ("eps_abs", "eps_rel"),
}


def _pick_solver(cp, solver: str | None) -> str:
    installed = cp.installed_solvers()
    if solver is not None:
        if solver.upper() not in installed:
            raise LagrangeADError(f"cvxpy solver {solver!r} is not installed; installed solvers "
                                  f"are: {', '.join(installed)}")
        return solver.upper()
    for name in TOLERANCE_KEYWORDS:
        if name in installed:
            return name
    return installed[0]


def _run(program: Program, *, solver: str | None = None, tol: float = 1e-10,
         max_size: int = 20_000) -> Outcome:
    import cvxpy as cp

    a = program.kkt_matrix()
    b = a @ program.values.flat
    v = cp.Variable(program.graph.total_size)
    constraint = a @ v == b
    problem = cp.Problem(cp.Maximize(v[program.graph.offsets[program.graph.output]]),
                         [constraint])
    name = _pick_solver(cp, solver)
    tolerances = dict.fromkeys(TOLERANCE_KEYWORDS.get(name, ()), tol)
    try:
        problem.solve(solver=name, **tolerances)
    except cp.error.SolverError as exc:
        raise LagrangeADError(f"cvxpy solver {name} failed on the linearized program: {exc}; "
                              f"try solver='SCS' or method 'spsolve'") from None
    status = problem.status
    if constraint.dual_value is None:
        raise LagrangeADError(f"cvxpy solver {name} returned no duals (status {status!r})")
    lam = np.asarray(constraint.dual_value, dtype=np.float64).ravel()  # lam = y, see above
    rhs = program.rhs()
    residual = float(np.linalg.norm(rhs - a.T @ lam))
    converged = status == cp.OPTIMAL
    iterations = int(getattr(problem.solver_stats, "num_iters", None) or 0)
    message = f"cvxpy/{name} status {status!r}, KKT residual {residual:.3g}"
    return Outcome(lam, iterations=iterations, converged=converged, residuals=[residual],
                   multiply_adds=2 * (iterations + 1) * program.total_multiply_adds,
                   message=message, extra={"solver": name, "status": status})


def _solver_problem(program: Program, solver) -> str | None:
    if not isinstance(solver, str):
        return f"solver={solver!r}: expected a cvxpy solver name such as 'CLARABEL' or 'SCS'"
    return None


CVXPY = register_schedule(Schedule(
    name="cvxpy",
    run=_run,
    summary="the linearized program max e_N^T v s.t. A v = b in cvxpy; duals are lam",
    refuses=size_limit(20_000, "the linearized program",
                       "pass a larger max_size or use 'spsolve'"),
    accepts=(
        value("solver", None, "a cvxpy solver name; None: the first installed of CLARABEL, "
              "ECOS, SCS, OSQP", _solver_problem, none=True),
        real("tol", 1e-10, "the solver's feasibility and gap tolerances", low=0, low_open=True),
        integer("max_size", 20_000, "refuse programs with more scalar entries", low=1)),
))
