"""Block Gauss-Seidel and Jacobi sweeps on ``A^T lam = e_N``, sharing one sweep core.

Row j of ``A^T lam = e_N`` reads ``lam_j = [j = N] + sum_{i : j in Pa(i)} (J_ij)^T lam_i``, so a
block update of node j is the j-th block of ``e_N + J^T lam``. A sweep visits groups of nodes
in a fixed order and updates each group at once from the current iterate, with relaxation
``omega``::

    lam_G <- (1 - omega) lam_G + omega (e_N + J^T lam)_G          for each group G in turn

* ``"gauss-seidel"``: one group per node, in the order ``order`` (topological ``"forward"``,
  ``"reverse"`` = backpropagation, ``"random"`` or an explicit list); ``omega != 1`` is SOR.
* ``"jacobi"``: one group holding every node, so every block reads the previous iterate,
  ``lam <- e_N + J^T lam``: the partial sums of the Neumann series
  ``lam = sum_m (J^T)^m e_N`` (``omega != 1`` damps it).

The reverse sweep by levels (``reverse`` with ``blocks="levels"``) is the same core with one
group per topological level, visited deepest first.

Stopping rule. Start from ``lam^(0) = 0``; after sweep k compute the KKT residual
``res_k = e_N - A^T lam^(k) = (e_N + J^T lam^(k)) - lam^(k)`` and stop at the first k with
``||res_k|| <= tol * max(1, ||lam^(k)||)``, or report ``converged=False`` with a message after
``maxiter`` sweeps (no exception; default ``max(N + 1, 1000)``). ``iterations`` is the number
of sweeps and ``residuals`` holds ``||res_k||`` after each one.

Sweep counts on a DAG (``omega = 1``). Say node r *settles* in sweep s(r) when ``lam_r^(k)`` is
exact for every ``k >= s(r)``. A node that is not an ancestor of N keeps ``lam_r = 0``:
s(r) = 0. The output settles in its first update: s(N) = 1. Any other ancestor r settles when
it is updated after all its children have settled, so

    s(r) = max over children c of r  ( s(c) + [c is visited after r] ).

The iterate is exact after ``S = max_r s(r)`` sweeps. A is nonsingular, so ``res_k = 0`` exactly
when ``lam^(k)`` is exact; with ``tol = 0`` the rule stops after exactly S sweeps (also in
floating point: a settled block is recomputed from the same numbers in the same order, so the
residual is exactly 0.0). A positive ``tol`` may stop earlier, once the missing path products
fall below it. In particular:

* reverse order: every child is visited before its parents, S = 1 (backpropagation);
* forward (topological) order: every child is visited after, s(r) = 1 + the longest path from
  r to N, so S = 1 + ``graph.levels()[N]`` (= 1 + ``graph.depth`` when N is the deepest node);
* Jacobi: every block reads the previous iterate, as if every child came after, so the same
  S = 1 + ``levels[N]``. Forward-order Gauss-Seidel and Jacobi give identical iterates on a DAG:
  ``lam^(k) = sum_{m<k} (J^T)^m e_N`` and ``res_k = (J^T)^k e_N``, which vanishes first for
  k = 1 + the longest path ending at N.

The edges counted are those whose local partial is nonzero (a zero partial, as in ``v - v``,
cuts a path and gives fewer sweeps). With relaxation, forward and reverse orders and Jacobi
have iteration matrices that are triangular with every eigenvalue ``1 - omega``, so they
converge linearly for ``0 < omega < 2`` but no longer finitely.

On a graph with cycles the blocks of a node's self-loop are applied explicitly (the old
``lam_j`` on the right), the order ``"random"``, explicit orders and Jacobi still run, and
convergence is that of the fixed-point iteration; the topological orders are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from ..program import Program
from .registry import Outcome, Schedule, register_schedule

ORDERS = ("forward", "reverse", "random")


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


def node_plan(program: Program, order: np.ndarray) -> SweepPlan:
    """One group per node, visited in ``order`` (block Gauss-Seidel)."""
    order = np.asarray(order, np.int64)
    return make_plan(program, order, np.arange(order.size + 1))


def jacobi_plan(program: Program) -> SweepPlan:
    """One group holding every node in index order (the Jacobi update ``e_N + J^T lam``)."""
    n = len(program.graph)
    return make_plan(program, np.arange(n), np.array([0, n]))


def level_plan(program: Program) -> SweepPlan:
    """One group per topological level, deepest level first (the reverse sweep by levels)."""
    levels = program.graph.levels()
    # stable sort of -level: deepest level first, nodes of a level in index order
    nodes = np.argsort(-levels, kind="stable")
    counts = np.bincount(levels)[::-1]
    return make_plan(program, nodes, np.concatenate([[0], np.cumsum(counts)]))


def group_update(plan: SweepPlan, g: int, lam: np.ndarray) -> np.ndarray:
    """``(e_N + J^T lam)`` on the rows of group g, in plan order; ``lam`` is not changed."""
    r0, r1 = plan.group_ptr[g], plan.group_ptr[g + 1]
    k0, k1 = plan.indptr[r0], plan.indptr[r1]
    products = plan.data[k0:k1] * lam[plan.indices[k0:k1]]
    return plan.rhs[r0:r1] + np.bincount(plan.row[k0:k1] - r0, weights=products,
                                         minlength=r1 - r0)


def relax(lam: np.ndarray, entries: np.ndarray, update: np.ndarray, omega: float) -> None:
    """``lam[entries] <- (1 - omega) lam[entries] + omega update``, in place."""
    if omega == 1.0:
        lam[entries] = update  # exact assignment, so settled blocks stay bitwise fixed
    else:
        lam[entries] = (1.0 - omega) * lam[entries] + omega * update


def sweep(plan: SweepPlan, lam: np.ndarray, omega: float = 1.0) -> None:
    """One sweep: every group in turn is updated at once from the current ``lam``, in place."""
    for g in range(plan.group_ptr.size - 1):
        r0, r1 = plan.group_ptr[g], plan.group_ptr[g + 1]
        relax(lam, plan.entries[r0:r1], group_update(plan, g, lam), omega)


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
    update = group_update(full, 0, lam)
    residuals: list[float] = []
    res = scale = float("nan")
    for _ in range(maxiter):
        if plan is None:
            relax(lam, full.entries, update, omega)
        else:
            sweep(plan, lam, omega)
        update = group_update(full, 0, lam)
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


def order_problem(program: Program, order) -> str | None:
    """Why ``order`` is not a usable node order for this program, or None."""
    graph = program.graph
    n = len(graph)
    if isinstance(order, str):
        if order not in ORDERS:
            return (f"order={order!r} is unknown; use one of {', '.join(map(repr, ORDERS))} or "
                    f"a list of every node index exactly once")
        if order != "random" and not graph.is_acyclic:
            return (f"order={order!r} needs a topological order, and the graph has a cycle; "
                    f"use order='random', an explicit order, or method='jacobi'")
        return None
    if not isinstance(order, (Sequence, np.ndarray)):
        return f"order={order!r}: expected a name or a sequence of node indices"
    nodes = np.asarray(order)
    if nodes.ndim != 1 or (nodes.size and not np.issubdtype(nodes.dtype, np.integer)):
        return f"order: expected a flat sequence of node indices (ints); got {order!r:.80}"
    if nodes.size and (nodes.min() < 0 or nodes.max() >= n):
        bad = int(nodes[(nodes < 0) | (nodes >= n)][0])
        return f"order names node v{bad}, which does not exist (nodes are v0..v{n - 1})"
    counts = np.bincount(nodes.astype(np.int64), minlength=n)
    if np.any(counts > 1):
        return f"order lists node v{int(np.argmax(counts > 1))} more than once"
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0)
        return (f"order must list every node exactly once; v{int(missing[0])} is missing "
                f"({missing.size} node(s) missing of {n})")
    return None


def resolve_order(program: Program, order, seed: int) -> np.ndarray:
    """The visiting order as node indices."""
    graph = program.graph
    if isinstance(order, str):
        if order == "forward":
            return graph.topological_order()
        if order == "reverse":
            return graph.topological_order()[::-1].copy()
        return np.random.default_rng(seed).permutation(len(graph))
    return np.asarray(order, np.int64)


# ----------------------------------------------------------------- the schedules


def _run_gauss_seidel(program: Program, *, order: str | Sequence[int] = "forward",
                      omega: float = 1.0, seed: int = 0, tol: float = 1e-12,
                      maxiter: int | None = None) -> Outcome:
    nodes = resolve_order(program, order, seed)
    plan = node_plan(program, nodes)
    shown = order if isinstance(order, str) else "explicit"
    return iterate_sweeps(program, plan, omega=float(omega), tol=float(tol), maxiter=maxiter,
                          label="gauss-seidel", extra={"order": shown})


def _run_jacobi(program: Program, *, omega: float = 1.0, tol: float = 1e-12,
                maxiter: int | None = None) -> Outcome:
    return iterate_sweeps(program, None, omega=float(omega), tol=float(tol), maxiter=maxiter,
                          label="jacobi", extra={})


def _refuses_gauss_seidel(program: Program, options: dict) -> str | None:
    seed = options.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        return f"seed={seed!r}: expected an int >= 0 (the seed of the random order)"
    return iteration_problem(options) or order_problem(program, options.get("order", "forward"))


def _refuses_jacobi(program: Program, options: dict) -> str | None:
    return iteration_problem(options)


GAUSS_SEIDEL = register_schedule(Schedule(
    name="gauss-seidel",
    run=_run_gauss_seidel,
    summary="block Gauss-Seidel (SOR) sweeps in a chosen node order; reverse order = backprop",
    refuses=_refuses_gauss_seidel,
))

JACOBI = register_schedule(Schedule(
    name="jacobi",
    run=_run_jacobi,
    summary="block Jacobi sweeps lam <- e_N + J^T lam (the Neumann series)",
    refuses=_refuses_jacobi,
))
