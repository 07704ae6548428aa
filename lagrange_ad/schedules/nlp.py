"""The nonlinear program itself, handed to scipy's ``trust-constr``; its multipliers are lam.

The variables are all scalar entries v; the problem is

    minimize  -v_N   subject to   c(v) = 0,   c_i(v) = v_i - x_i (inputs),
                                              c_i(v) = v_i - p_i(v_Pa(i)) (other nodes),

with constraint Jacobian ``dc/dv = A(v) = I - J(v)`` (sparse). On a DAG the feasible set is the
single point v* of forward propagation, so the solver's work is to reach it (from a perturbed
start) and to find the multipliers that make its Lagrangian stationary.

Sign convention. scipy's trust-constr uses the Lagrangian ``f(v) + sum_i y_i c_i(v)`` (its
``lagrangian_grad`` is ``grad f + J_c^T y``, and ``result.v`` holds y). With ``f = -v_N``:

    f + y^T c = -(v_N - y^T c(v)) = -L,     grad_v = -e_N + A^T y = 0   <=>   A^T y = e_N,

so lam = y with no sign flip: maximizing v_N with the lecture's ``L = v_N - lam^T c`` and
minimizing ``-v_N`` with scipy's ``f + y^T c`` give the same multipliers.

The Hessian of the Lagrangian is given as zero. It only acts on the tangent space
``null(A) = {0}`` of the constraints (A is invertible on a DAG), so it cannot change a step;
the normal (Newton-like) step on ``c(v) = 0`` does all the work. ``multiply_adds`` counts one
application of ``A^T`` per constraint-Jacobian evaluation, a lower bound (the solver's own
factorizations are not visible).

Options: ``start`` (``"forward"``: the forward values, feasible, so one iteration; or
``"perturbed"``: those values moved by ``perturbation * (1 + |v|)`` times seeded standard
normal noise; ``perturbation`` and ``seed`` apply to it alone), ``tol`` (trust-constr's
``gtol``), ``maxiter``, ``max_size`` (refuse programs with more scalar entries; this bounds
its cost, which the budget otherwise charges as one sweep). From a perturbed start the
multipliers are those at the final iterate, within the constraint violation of v*.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..program.assembly import assemble_jacobian
from ..program.program import Program
from ..program.vectors import NodeVector
from .budget import size_limit
from .options import choice, integer, only_with, real
from .registry import Outcome, Schedule, register_schedule

STARTS = ("forward", "perturbed")

# trust-constr statuses: 1 = optimality and feasibility below gtol, 2 = trust radius below xtol
TRUST_CONSTR_CONVERGED = (1, 2)


def kkt_matrix_at(program: Program, v: np.ndarray) -> sp.csr_array:
    """``A(v) = I - J(v)`` at arbitrary values v (the program's own J is at the forward values)."""
    jac = assemble_jacobian(NodeVector(program.graph, v))
    return (sp.eye_array(jac.shape[0], format="csr") - jac).tocsr()


def _run(program: Program, *, start: str = "forward", perturbation: float = 1e-3,
         seed: int = 0, tol: float = 1e-10, maxiter: int = 500,
         max_size: int = 200) -> Outcome:
    from scipy.optimize import NonlinearConstraint, minimize

    graph = program.graph
    n = graph.total_size
    v_star = program.values.flat
    if start == "forward":
        v0 = v_star.copy()
    else:
        rng = np.random.default_rng(seed)
        v0 = v_star + perturbation * (1 + np.abs(v_star)) * rng.standard_normal(n)
    output = int(graph.offsets[graph.output])
    rhs = program.rhs()
    jacobian_calls = [0]

    def objective(v):
        return -v[output]

    def objective_gradient(v):
        return -rhs

    def constraints(v):
        return program.constraint_residuals(v).flat

    def constraint_jacobian(v):
        jacobian_calls[0] += 1
        if np.array_equal(v, v_star):
            return program.kkt_matrix()  # assembled once and cached by the program
        return kkt_matrix_at(program, v)

    zero = sp.csr_array((n, n))
    result = minimize(
        objective, v0, jac=objective_gradient, hess=lambda v: zero, method="trust-constr",
        constraints=[NonlinearConstraint(constraints, 0.0, 0.0, jac=constraint_jacobian,
                                         hess=lambda v, y: zero)],
        options={"gtol": tol, "xtol": tol * 1e-2, "maxiter": maxiter},
    )
    lam = np.asarray(result.v[0], dtype=np.float64)  # lam = y, see the module docstring
    residual = float(np.linalg.norm(rhs - program.kkt_matrix().T @ lam))
    converged = result.status in TRUST_CONSTR_CONVERGED
    message = (f"trust-constr: {result.message} (status {result.status}, constraint "
               f"violation {result.constr_violation:.3g}, KKT residual {residual:.3g})")
    return Outcome(lam, iterations=int(result.nit), converged=converged, residuals=[residual],
                   multiply_adds=jacobian_calls[0] * program.total_multiply_adds,
                   message=message,
                   extra={"status": int(result.status),
                          "constraint_violation": float(result.constr_violation),
                          "distance_to_forward_values": float(np.max(np.abs(result.x - v_star)))})


_perturbed_only = only_with("start", "perturbed", "forward",
                            "it shapes the perturbed start alone; pass start='perturbed'")


NLP = register_schedule(Schedule(
    name="nlp",
    run=_run,
    summary="the nonlinear program min -v_N s.t. c(v) = 0 in scipy's trust-constr",
    refuses=size_limit(200, "the program", "trust-constr factorizes dense-ish systems each "
                       "iteration; pass a larger max_size or use 'spsolve' or 'cvxpy'"),
    accepts=(
        choice("start", "forward", STARTS, "start at the forward values or perturbed from them"),
        real("perturbation", 1e-3, "relative size of the perturbed start", low=0, low_open=True,
             applies=_perturbed_only),
        integer("seed", 0, "seed of the perturbed start", low=0, applies=_perturbed_only),
        real("tol", 1e-10, "trust-constr's gtol (xtol is tol / 100)", low=0, low_open=True),
        integer("maxiter", 500, "trust-constr's iteration cap", low=1),
        integer("max_size", 200, "refuse programs with more scalar entries", low=1)),
))
