"""Krylov solves of ``A^T lam = e_N`` with the matrix-free KKT operator.

``program.kkt_operator()`` applies ``A = I - J`` by every node's JVP rule and ``A^T`` by every
node's VJP rule, so the transposed operator ``A^T`` (matvec ``y - J^T y``, rmatvec ``x - J x``)
can be handed to scipy's GMRES, BiCGSTAB and LSQR without assembling J. One application costs
one pass over the graph, ``nnz(J)`` multiply-adds; ``multiply_adds`` is the number of
applications the solver made times ``nnz(J)``.

On a DAG ``J^T`` is nilpotent (``(J^T)^(d+1) = 0`` for depth d), so the minimal polynomial of
``A^T`` has degree at most ``d + 1`` and unrestarted GMRES terminates in at most ``d + 1``
iterations: the Krylov space ``span{e_N, J^T e_N, (J^T)^2 e_N, ...}`` is the space the reverse
sweep fills one level at a time.

Residuals: BiCGSTAB records the true KKT residual ``||e_N - A^T lam_k||`` after each iteration
(one extra operator application each, not counted in ``multiply_adds``); GMRES records the
residual norm of its least-squares problem after each inner iteration (the true residual in
exact arithmetic without preconditioner; the preconditioned residual with ``M``), followed by
the true KKT residual of the returned multipliers; scipy's LSQR has no callback, so only its
final true residual is recorded.

Options (all three): ``rtol``, ``atol`` (stop when ``||e_N - A^T lam|| <= max(rtol, atol)``,
since ``||e_N|| = 1``), ``maxiter`` (scipy's meaning: restart cycles for GMRES, iterations
otherwise), ``matrix_free`` (False uses the assembled sparse A, same iterates, much faster per
application). GMRES and BiCGSTAB take a preconditioner ``M`` approximating ``(A^T)^-1`` (a
LinearOperator, sparse matrix or array); GMRES takes ``restart`` (default ``min(n, 100)``);
BiCGSTAB takes the ``seed`` of its random start (see below).

Iteration cap. scipy's default cap grows with n (10 n restart cycles for GMRES), so ours is
set instead: at most ``krylov_cap(n) = max(1000, 2 n)`` iterations for n scalar entries (for
GMRES ``maxiter = ceil(krylov_cap(n) / restart)`` restart cycles). On a DAG two passes over
the depth are ample for unrestarted GMRES (at most ``d + 1`` steps); restarted, BiCGSTAB and
LSQR need about n on a chain of n nodes.

Cost, estimated before the run from the cap (`lagrange_ad.schedules.budget`): per iteration,
the operator applications (``nnz(J) + n`` each: one for GMRES, three for BiCGSTAB with its
residual record, two for LSQR) plus the solver's vector work (``(restart + 2) n`` for GMRES's
orthogonalization, ``10 n`` for the others). On a chain of n nodes that is about
``2 n * 102 n`` for GMRES, beyond the default budget of 10^9 from n of about 2,000, and about
``2 n * 16 n`` for BiCGSTAB (n of about 5,000). With ``time_limit`` every operator
application checks the clock.

Stopping: the iteration cap ends a run with ``converged=False`` and a message, never an
exception, as for the other iterative schedules (`la.grad` then raises `ConvergenceError`);
a breakdown (scipy's ``info < 0``, or LSQR finding ``A^T`` too ill-conditioned) raises
`ConvergenceError` with the residual trace.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, aslinearoperator, bicgstab, gmres, lsqr

from ..errors import ConvergenceError
from ..program.program import Program
from .budget import Cost, check_time, per_iteration
from .options import flag, integer, real, value
from .registry import Outcome, Schedule, register_schedule


def krylov_cap(n: int) -> int:
    """The default cap on Krylov iterations for n scalar entries: ``max(1000, 2 n)``."""
    return max(1000, 2 * n)


class TransposedKKTOperator(LinearOperator):
    """``A^T`` as a `LinearOperator` that counts its applications (both directions)."""

    def __init__(self, program: Program, matrix_free: bool = True):
        a = program.kkt_operator() if matrix_free else aslinearoperator(program.kkt_matrix())
        super().__init__(np.float64, a.shape)
        self._a = a
        self.applications = 0

    def _matvec(self, y):
        self.applications += 1
        check_time(self.applications, unit="operator application(s)")
        return self._a.rmatvec(np.ravel(y))

    def _rmatvec(self, x):
        self.applications += 1
        check_time(self.applications, unit="operator application(s)")
        return self._a.matvec(np.ravel(x))

    def residual(self, lam: np.ndarray, rhs: np.ndarray) -> float:
        """``||rhs - A^T lam||``, without counting the application."""
        return float(np.linalg.norm(rhs - self._a.rmatvec(lam)))


def preconditioner_problem(program: Program, M) -> str | None:
    """Why ``M`` is not a preconditioner for this program's ``A^T``, or None."""
    n = program.graph.total_size
    if isinstance(M, str):
        return (f"M={M!r}: give the preconditioner as a LinearOperator, a sparse matrix or an "
                f"array of shape ({n}, {n}) approximating (A^T)^-1 (named preconditioners are "
                f"not supported)")
    if not (isinstance(M, LinearOperator) or sp.issparse(M)):
        try:
            M = np.asarray(M, dtype=np.float64)
        except (TypeError, ValueError):
            return f"M: expected a LinearOperator, a sparse matrix or an array; got {M!r:.60}"
    if getattr(M, "shape", None) != (n, n):
        return (f"M: the preconditioner must have shape ({n}, {n}) (one row and column per "
                f"scalar entry); got {getattr(M, 'shape', None)}")
    return None


def _preconditioner(M):
    """``M`` as scipy takes it (checked by `preconditioner_problem`)."""
    if M is None or isinstance(M, LinearOperator) or sp.issparse(M):
        return M
    return np.asarray(M, dtype=np.float64)


def krylov_outcome(program: Program, name: str, call: Callable, matrix_free: bool) -> Outcome:
    """Run one Krylov solver and package its result; the part every Krylov schedule shares.

    ``call(op, rhs, history) -> (lam, info, iterations, converged, message)`` runs the solver
    on the transposed operator ``op`` and appends residual norms to the list ``history``.
    ``info < 0`` means breakdown and raises `ConvergenceError`.
    """
    op = TransposedKKTOperator(program, matrix_free)
    rhs = program.rhs()
    history: list[float] = []
    lam, info, iterations, converged, message = call(op, rhs, history)
    if info < 0:
        raise ConvergenceError(f"{name} broke down after {iterations} iterations "
                               f"({message}); try another method such as 'spsolve' or "
                               f"'gmres'", residuals=history, iterations=iterations)
    per_apply = program.total_multiply_adds
    return Outcome(lam, iterations=iterations, converged=converged, residuals=history,
                   multiply_adds=op.applications * per_apply, message=message,
                   extra={"operator_applications": op.applications, "info": int(info)})


def _stopped(name: str, converged: bool, iterations: int, res: float) -> str:
    if converged:
        return f"{name} converged in {iterations} iterations (residual {res:.3g})"
    return (f"{name} stopped at its iteration cap after {iterations} iterations with KKT "
            f"residual {res:.3g}; raise maxiter (or restart) or use 'spsolve'")


def _run_gmres(program: Program, *, rtol: float = 1e-12, atol: float = 0.0,
               maxiter: int | None = None, restart: int | None = None, M=None,
               matrix_free: bool = True) -> Outcome:
    n = program.graph.total_size
    M = _preconditioner(M)
    restart = gmres_restart(n, restart)
    maxiter = -(-krylov_cap(n) // restart) if maxiter is None else maxiter

    def call(op, rhs, history):
        # pr_norm is relative to ||e_N|| = 1, so it is the residual norm itself
        lam, info = gmres(op, rhs, rtol=rtol, atol=atol, restart=restart, maxiter=maxiter, M=M,
                          callback=history.append, callback_type="pr_norm")
        iterations = len(history)
        res = op.residual(lam, rhs)
        history.append(res)
        converged = info == 0
        return lam, info, iterations, converged, _stopped("gmres", converged, iterations, res)

    return krylov_outcome(program, "gmres", call, matrix_free)


def _run_bicgstab(program: Program, *, rtol: float = 1e-12, atol: float = 0.0,
                  maxiter: int | None = None, M=None, matrix_free: bool = True,
                  seed: int = 0) -> Outcome:
    n = program.graph.total_size
    M = _preconditioner(M)
    maxiter = krylov_cap(n) if maxiter is None else maxiter
    # BiCGSTAB's shadow residual is its first residual. From lam = 0 that is e_N, and the
    # first step already settles lam_N = 1 (no node uses the output), so every later residual
    # is orthogonal to e_N and rho = 0: a certain breakdown. A seeded random start avoids it.
    x0 = np.random.default_rng(seed).standard_normal(n)

    def call(op, rhs, history):
        lam, info = bicgstab(op, rhs, x0=x0, rtol=rtol, atol=atol, maxiter=maxiter, M=M,
                             callback=lambda lam_k: history.append(op.residual(lam_k, rhs)))
        res = op.residual(lam, rhs)
        if not history or history[-1] != res:
            # scipy returns without calling back when it converges halfway through an iteration
            history.append(res)
        iterations = len(history)
        converged = info == 0
        why = "" if info >= 0 else f"{'rho' if info == -10 else 'omega'} breakdown"
        return lam, info, iterations, converged, why or _stopped("bicgstab", converged,
                                                                 iterations, res)

    return krylov_outcome(program, "bicgstab", call, matrix_free)


# LSQR's stopping reasons (scipy's istop)
LSQR_SOLVED = (0, 1, 4)
LSQR_LEAST_SQUARES = (2, 5)
LSQR_ILL_CONDITIONED = (3, 6)


def _run_lsqr(program: Program, *, rtol: float = 1e-12, atol: float = 0.0,
              maxiter: int | None = None, matrix_free: bool = True) -> Outcome:
    maxiter = krylov_cap(program.graph.total_size) if maxiter is None else maxiter

    def call(op, rhs, history):
        # LSQR stops when ||r|| <= btol ||b|| + atol ||A|| ||x||; ||b|| = ||e_N|| = 1, so an
        # absolute tolerance enters through btol
        lam, istop, itn = lsqr(op, rhs, atol=rtol, btol=max(rtol, atol), iter_lim=maxiter,
                               conlim=1e12)[:3]
        res = op.residual(lam, rhs)
        history.append(res)  # scipy's lsqr has no callback: only the final residual is known
        converged = istop in LSQR_SOLVED
        info = -1 if istop in LSQR_ILL_CONDITIONED else 0
        if istop in LSQR_LEAST_SQUARES:
            message = (f"lsqr found a least-squares solution with residual {res:.3g}: "
                       f"A^T lam = e_N looks inconsistent (A singular?)")
        elif info < 0:
            message = "A^T looks too ill-conditioned (condition estimate above 1e12)"
        else:
            message = _stopped("lsqr", converged, int(itn), res)
        return lam, info, int(itn), converged, message

    return krylov_outcome(program, "lsqr", call, matrix_free)


def gmres_restart(n: int, restart: int | None) -> int:
    """The restart length: ``min(n, 100)`` by default (unrestarted GMRES finishes within
    depth + 1 steps on a DAG; 100 keeps the stored basis bounded)."""
    return min(n, 100) if restart is None else int(restart)


def krylov_cost(program: Program, options: dict, applications: int, vector_work: int,
                iterations: int | None = None) -> Cost:
    """The cap times the work of one iteration (see the module docstring)."""
    n = program.graph.total_size
    cap = iterations or options.get("maxiter") or krylov_cap(n)
    work = applications * (program.total_multiply_adds + n) + vector_work * n
    return per_iteration(cap, work, f"{applications} operator application(s) of "
                         f"{program.total_multiply_adds + n:,} and {vector_work} n of vector work")


def _gmres_cost(program: Program, options: dict) -> Cost:
    n = program.graph.total_size
    restart = gmres_restart(n, options.get("restart"))
    cycles = options.get("maxiter")
    cap = krylov_cap(n) if cycles is None else cycles * restart
    return krylov_cost(program, options, 1, restart + 2, iterations=cap)


RTOL = real("rtol", 1e-12, "stop when ||e_N - A^T lam|| <= max(rtol, atol)", low=0)
ATOL = real("atol", 0.0, "absolute tolerance (see rtol)", low=0)
PRECONDITIONER = value("M", None, "preconditioner approximating (A^T)^-1 (LinearOperator, "
                       "sparse matrix or array)", preconditioner_problem, none=True)
MATRIX_FREE = flag("matrix_free", True, "apply A^T by VJP rules (False: the assembled sparse A)")
CAP = "None: krylov_cap(entries) = max(1000, 2 entries)"

GMRES = register_schedule(Schedule(
    name="gmres", run=_run_gmres,
    summary="restarted GMRES on the matrix-free operator A^T",
    accepts=(RTOL, ATOL,
             integer("maxiter", None, f"restart cycles; {CAP} iterations in all", low=1,
                     none=True),
             integer("restart", None, "iterations per restart cycle; None: min(entries, 100)",
                     low=1, none=True),
             PRECONDITIONER, MATRIX_FREE),
    cost=_gmres_cost))
BICGSTAB = register_schedule(Schedule(
    name="bicgstab", run=_run_bicgstab,
    summary="BiCGSTAB on the matrix-free operator A^T",
    accepts=(RTOL, ATOL, integer("maxiter", None, f"iterations; {CAP}", low=1, none=True),
             PRECONDITIONER, MATRIX_FREE,
             integer("seed", 0, "seed of the random start (see the module docstring)", low=0)),
    cost=lambda program, options: krylov_cost(program, options, 3, 10)))
LSQR = register_schedule(Schedule(
    name="lsqr", run=_run_lsqr,
    summary="LSQR (least squares) on the matrix-free operators A^T and A",
    accepts=(RTOL, ATOL, integer("maxiter", None, f"iterations; {CAP}", low=1, none=True),
             MATRIX_FREE),
    cost=lambda program, options: krylov_cost(program, options, 2, 10)))
