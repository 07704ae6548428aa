"""The sweep core shared by block Gauss-Seidel, Jacobi and the level-blocked reverse sweep.

A sweep visits groups of nodes; a group's update is ``lam_G <- (1 - omega) lam_G + omega
(e_N + J^T lam)_G`` computed from the current iterate, with the rows of ``J^T`` stored in
visiting order so each group reads one contiguous slice. Everything is arrays, ready to be
compiled. Also the iteration loop with its stopping rule and the checks of its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from ..kernels import rows_update, sweep_groups
from ..program import Program
from .registry import Outcome


@dataclass(frozen=True)
class SweepPlan:
    """``J^T`` with its rows permuted into visiting order and cut into groups updated at once.

    Everything is a flat array (CSR of the permuted ``J^T`` and group pointers), so the sweep
    loop can be compiled as it stands.

    Attributes
    ----------
    entries : ndarray of int64
        The flat entries in visiting order; row r of the plan is entry ``entries[r]``.
    group_ptr : ndarray of int64
        Group g is rows ``group_ptr[g]:group_ptr[g+1]``.
    indptr, indices, data : ndarray
        The rows of ``J^T`` in visiting order (CSR): row r holds ``J[i, entries[r]]`` for the
        entries i of the children.
    row : ndarray of int64
        The plan row of every stored partial (``indptr`` expanded).
    rhs : ndarray
        ``e_N`` in visiting order.
    """

    entries: np.ndarray
    group_ptr: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    row: np.ndarray
    rhs: np.ndarray

    @property
    def nnz(self) -> int:
        """Stored local partials: the multiply-adds of one sweep."""
        return int(self.data.size)


def node_entries(offsets: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The flat entries of ``nodes``, node after node (no loop over nodes)."""
    nodes = np.asarray(nodes, np.int64)
    starts, sizes = offsets[nodes], offsets[nodes + 1] - offsets[nodes]
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return np.repeat(starts - first, sizes) + np.arange(int(sizes.sum()), dtype=np.int64)


def make_plan(program: Program, nodes: np.ndarray, node_group_ptr: np.ndarray) -> SweepPlan:
    """The plan visiting ``nodes`` in order, group g being ``nodes[node_group_ptr[g]:...[g+1]]``.

    Every node must occur exactly once.
    """
    graph = program.graph
    offsets = graph.offsets
    nodes = np.asarray(nodes, np.int64)
    entries = node_entries(offsets, nodes)
    sizes = offsets[nodes + 1] - offsets[nodes]
    entry_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    group_ptr = entry_ptr[np.asarray(node_group_ptr, np.int64)]
    # row c of J^T lists the partials J[i, c] of the children entries i of entry c
    jt = program.local_jacobian().T.tocsr()[entries]
    indptr = jt.indptr.astype(np.int64)
    row = np.repeat(np.arange(entries.size, dtype=np.int64), np.diff(indptr))
    return SweepPlan(entries=entries, group_ptr=group_ptr, indptr=indptr,
                     indices=jt.indices.astype(np.int64), data=jt.data.astype(np.float64),
                     row=row, rhs=program.rhs()[entries])


def cached_plan(program: Program, key, build) -> SweepPlan:
    """A plan made once per program and key; like J, it depends on nothing else."""
    plans = program.__dict__.setdefault("_sweep_plans", {})
    if key not in plans:
        plans[key] = build()
    return plans[key]


def node_plan(program: Program, order: np.ndarray, name=None) -> SweepPlan:
    """One group per node, visited in ``order`` (block Gauss-Seidel).

    ``name`` identifies a named order (such as ``("random", seed)``) for the plan cache;
    explicit orders are identified by their contents.
    """
    order = np.ascontiguousarray(order, np.int64)
    key = ("nodes", order.tobytes() if name is None else name)
    return cached_plan(program, key,
                       lambda: make_plan(program, order, np.arange(order.size + 1)))


def jacobi_plan(program: Program) -> SweepPlan:
    """One group holding every node in index order (the Jacobi update ``e_N + J^T lam``)."""
    n = len(program.graph)
    return cached_plan(program, ("jacobi",),
                       lambda: make_plan(program, np.arange(n), np.array([0, n])))


def level_plan(program: Program) -> SweepPlan:
    """One group per topological level, deepest level first (the reverse sweep by levels)."""

    def build():
        levels = program.graph.levels()
        # stable sort of -level: deepest level first, nodes of a level in index order
        nodes = np.argsort(-levels, kind="stable")
        counts = np.bincount(levels)[::-1]
        return make_plan(program, nodes, np.concatenate([[0], np.cumsum(counts)]))

    return cached_plan(program, ("levels",), build)


def jacobi_update(plan: SweepPlan, lam: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``e_N + J^T lam`` for a Jacobi plan (entries in index order), written into ``out``."""
    rows_update(plan.indptr, plan.indices, plan.data, plan.rhs, lam, out)
    return out


def relax(lam: np.ndarray, entries: np.ndarray, update: np.ndarray, omega: float) -> None:
    """``lam[entries] <- (1 - omega) lam[entries] + omega update``, in place."""
    if omega == 1.0:
        lam[entries] = update  # exact assignment, so settled blocks stay bitwise fixed
    else:
        lam[entries] = (1.0 - omega) * lam[entries] + omega * update


def sweep(plan: SweepPlan, lam: np.ndarray, omega: float = 1.0) -> None:
    """One sweep: every group in turn is updated at once from the current ``lam``, in place."""
    widest = int(np.max(np.diff(plan.group_ptr), initial=0))
    sweep_groups(plan.group_ptr, plan.entries, plan.indptr, plan.indices, plan.data, plan.rhs,
                 lam, float(omega), np.empty(widest))


def converged_message(method: str, sweeps: int, res: float, tol: float, scale: float) -> str:
    """The note an iterative schedule leaves when it stops."""
    verdict = "met" if res <= tol * scale else "did NOT meet"
    return (f"{method}: {sweeps} iteration(s); ||e_N - A^T lam|| = {res:.3g} {verdict} "
            f"tol * max(1, ||lam||) = {tol * scale:.3g}")


def iterate_sweeps(program: Program, plan: SweepPlan | None, *, omega: float, tol: float,
                   maxiter: int | None, label: str, extra: dict) -> Outcome:
    """Sweep from ``lam = 0`` until the relative KKT residual is at most ``tol``.

    ``plan=None`` means Jacobi: the update ``e_N + J^T lam`` computed for the residual of one
    sweep is exactly the next Jacobi sweep, so it is reused.
    """
    full = jacobi_plan(program)
    maxiter = default_maxiter(program) if maxiter is None else maxiter
    lam = np.zeros(program.graph.total_size)
    update = jacobi_update(full, lam, np.empty_like(lam))
    residuals: list[float] = []
    res = scale = float("nan")
    for _ in range(maxiter):
        if plan is None:
            relax(lam, full.entries, update, omega)
        else:
            sweep(plan, lam, omega)
        jacobi_update(full, lam, update)
        res = float(np.linalg.norm(update - lam))
        scale = max(1.0, float(np.linalg.norm(lam)))
        residuals.append(res)
        if res <= tol * scale:
            break
    sweeps = len(residuals)
    converged = bool(residuals) and res <= tol * scale
    return Outcome(lam, iterations=sweeps, converged=converged, residuals=residuals,
                   multiply_adds=sweeps * full.nnz,
                   message=converged_message(label, sweeps, res, tol, scale),
                   extra={"omega": omega, **extra})


def default_maxiter(program: Program) -> int:
    """``max(N + 1, 1000)`` sweeps.

    N + 1 sweeps make any order exact on a DAG of N nodes (omega = 1); relaxed and cyclic
    iterations converge only linearly, so they get at least 1000.
    """
    return max(len(program.graph) + 1, 1000)


# ----------------------------------------------------------------- option checks


def iteration_problem(options: dict) -> str | None:
    """Why ``tol``, ``maxiter`` or ``omega`` are unusable, or None."""
    tol = options.get("tol", 0.0)
    if not _is_real(tol) or not 0 <= tol < np.inf:
        return f"tol={tol!r}: expected a finite number >= 0"
    maxiter = options.get("maxiter")
    if maxiter is not None and (isinstance(maxiter, bool) or not isinstance(maxiter, Integral)
                                or maxiter < 1):
        return f"maxiter={maxiter!r}: expected an int >= 1 (or None for the default)"
    omega = options.get("omega", 1.0)
    if not _is_real(omega) or not 0 < omega < 2:
        return f"omega={omega!r}: expected a relaxation factor with 0 < omega < 2"
    return None


def _is_real(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)
