"""The sweep core shared by block Gauss-Seidel, Jacobi and the level-blocked reverse sweep.

A sweep visits groups of nodes; a group's update is ``lam_G <- (1 - omega) lam_G + omega
(e_N + J^T lam)_G`` computed from the current iterate. A plan lists the partials ``J[i, c]``
of ``J^T`` row by row in visiting order, so a sweep is one flat loop over them (no inner loop
whose length changes from row to row). The new iterate is written into a second vector: a
partial reads the new value of its source i when i's group comes before c's group
(*earlier*), and the old one otherwise, so the rows of a group (the entries of a node, a level)
are updated at once, and a node's self-loop reads its old multipliers.

The residual of sweep k, ``res_k = (e_N + J^T lam^(k)) - lam^(k)``, without a pass of its own:

* a row whose partials all read earlier groups (or which has none) reads only final values of
  ``lam^(k)`` in sweep k; with omega = 1 its residual is exactly 0, the same sum in the same
  order minus itself;
* a *deferred* row, none of whose partials reads an earlier group, reads only ``lam^(k)`` in
  sweep k + 1; with omega = 1 its update there is exactly ``(e_N + J^T lam^(k))_c``;
* otherwise (partials of both kinds in one row, or omega != 1) sweep k + 1 also accumulates
  ``e_N + J^T lam^(k)`` from the old iterate it reads anyway.

So the residual of sweep k arrives with sweep k + 1, which runs ahead of the stopping test;
when the test stops at sweep k, ``lam^(k)`` is returned and the sweep ahead is dropped. In
reverse topological order every row is of the first kind: one sweep and no residual work
(backpropagation). Forward order and Jacobi defer every row with children.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from ..accel.dispatch import accelerator_for
from ..program.program import Program
from .budget import check_time
from .registry import Outcome


@dataclass(frozen=True)
class SweepPlan:
    """The partials of ``J^T`` in visiting order, with the groups they are updated in.

    Attributes
    ----------
    row, src, data : ndarray
        Partial k is ``J[i, c]`` with c = ``row[k]`` and i = ``src[k]`` (flat entries), sorted
        by the position of c in the visiting order, and for one c by i.
    earlier : ndarray of bool
        Whether partial k's source i belongs to a group updated before the group of its row c.
    rhs_rows, rhs_values : ndarray
        The nonzeros of ``e_N``.
    deferred : ndarray of bool
        One per entry: rows with partials, none of which reads an earlier group.
    mixed : bool
        Whether some row has partials of both kinds.
    """

    row: np.ndarray
    src: np.ndarray
    data: np.ndarray
    earlier: np.ndarray
    rhs_rows: np.ndarray
    rhs_values: np.ndarray
    deferred: np.ndarray
    mixed: bool

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
    offsets = program.graph.offsets
    nodes = np.asarray(nodes, np.int64)
    entries = node_entries(offsets, nodes)
    n = entries.size
    sizes = offsets[nodes + 1] - offsets[nodes]
    node_group = np.repeat(np.arange(len(node_group_ptr) - 1), np.diff(node_group_ptr))
    group = np.empty(n, np.int64)
    group[entries] = np.repeat(node_group, sizes)
    # row c of J^T lists the partials J[i, c] of the children entries i of entry c, by i
    jt = program.local_jacobian().T.tocsr()[entries]
    row = np.repeat(entries, np.diff(jt.indptr))
    src = jt.indices.astype(np.int64)
    earlier = group[src] < group[row]
    reads_new = np.bincount(row, weights=earlier, minlength=n) > 0
    reads_old = np.bincount(row, weights=~earlier, minlength=n) > 0
    rhs = program.rhs()
    rhs_rows = np.flatnonzero(rhs)
    return SweepPlan(row=row, src=src, data=jt.data.astype(np.float64), earlier=earlier,
                     rhs_rows=rhs_rows, rhs_values=rhs[rhs_rows], deferred=reads_old & ~reads_new,
                     mixed=bool(np.any(reads_old & reads_new)))


def cached_plan(program: Program, key, build: Callable[[], SweepPlan]) -> SweepPlan:
    """A plan made once per program and key; like J, it depends on nothing else."""
    plans = program.__dict__.setdefault("_sweep_plans", {})
    if key not in plans:
        plans[key] = build()
    return plans[key]


def node_plan(program: Program, name, order: Callable[[], np.ndarray]) -> SweepPlan:
    """One group per node, visited in the order ``order()`` (block Gauss-Seidel).

    ``name`` identifies the order in the plan cache, so ``order`` runs only when the plan is
    built.
    """

    def build():
        nodes = np.asarray(order(), np.int64)
        return make_plan(program, nodes, np.arange(nodes.size + 1))

    return cached_plan(program, ("nodes", name), build)


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


def run_sweep(plan: SweepPlan, cur: np.ndarray, out: np.ndarray, omega: float,
              acc: np.ndarray) -> tuple[float, float]:
    """One sweep from ``cur`` into ``out``; returns ``||out||^2`` and ``||res(cur)||^2``.

    Partial k adds ``omega data[k] x`` to ``out[row[k]]``, where x is entry ``src[k]`` of
    ``out`` when ``earlier[k]`` (its group was updated before) and of ``cur`` otherwise. With
    ``out`` started at ``omega e_N + (1 - omega) cur`` each row ends at its relaxed update; the
    partials come row after row in visiting order, so ``out`` is read only where it is final.
    A non-empty ``acc`` also receives ``e_N + J^T cur``, and the residual sums ``(acc - cur)^2``
    over every row; otherwise it sums ``(out - cur)^2`` over the deferred rows.

    The one place where an accelerator of the task ``"plan sweep"`` (the compiled loop of
    `lagrange_ad.accel.sweeps`) replaces the loop below.
    """
    accelerator = accelerator_for("plan sweep", plan)
    if accelerator is not None:
        return accelerator.run(plan, cur, out, omega, acc)
    accumulate = acc.size > 0
    out[:] = 0.0 if omega == 1.0 else (1.0 - omega) * cur
    out[plan.rhs_rows] += omega * plan.rhs_values
    if accumulate:
        acc[:] = 0.0
        acc[plan.rhs_rows] += plan.rhs_values
    for r, c, d, earlier in zip(plan.row.tolist(), plan.src.tolist(), plan.data.tolist(),
                                plan.earlier.tolist()):
        out[r] += omega * d * (out[c] if earlier else cur[c])
        if accumulate:
            acc[r] += d * cur[c]
    residual = (acc - cur) if accumulate else np.where(plan.deferred, out - cur, 0.0)
    return float(out @ out), float(residual @ residual)


def sweep(plan: SweepPlan, lam: np.ndarray, omega: float = 1.0) -> None:
    """One sweep: every group in turn is updated at once from the current ``lam``, in place."""
    out = np.empty_like(lam)
    run_sweep(plan, lam, out, float(omega), np.empty(0))
    lam[:] = out


def converged_message(method: str, sweeps: int, res: float, tol: float, scale: float,
                      residual_name: str = Program.residual_name) -> str:
    """The note an iterative schedule leaves when it stops."""
    verdict = "met" if res <= tol * scale else "did NOT meet"
    return (f"{method}: {sweeps} iteration(s); {residual_name} = {res:.3g} {verdict} "
            f"tol * max(1, ||x||) = {tol * scale:.3g}")


def iterate_sweeps(program: Program, plan: SweepPlan, *, omega: float, tol: float,
                   maxiter: int | None, label: str, extra: dict) -> Outcome:
    """Sweep from ``lam = 0`` until the relative KKT residual is at most ``tol``.

    The residual of each sweep comes with the next one (see the module docstring), so every
    sweep but the first also tells whether to stop before it.
    """
    maxiter = default_maxiter(program) if maxiter is None else maxiter
    n = plan.deferred.size
    accumulate = omega != 1.0 or plan.mixed
    ahead = accumulate or bool(plan.deferred.any())
    acc = np.empty(n if accumulate else 0)
    cur, out = np.zeros(n), np.empty(n)
    norm2, _ = run_sweep(plan, cur, out, omega, acc)
    cur, out = out, cur
    residuals: list[float] = []
    res = scale = float("nan")
    for k in range(1, maxiter + 1):
        # without rows that wait for the next sweep, the residual is exactly 0 (see above)
        next_norm2, res2 = run_sweep(plan, cur, out, omega, acc) if ahead else (0.0, 0.0)
        res, scale = float(np.sqrt(res2)), max(1.0, float(np.sqrt(norm2)))
        residuals.append(res)
        if res <= tol * scale or k == maxiter:
            break
        check_time(k, res)
        cur, out, norm2 = out, cur, next_norm2
    sweeps = len(residuals)
    return Outcome(cur, iterations=sweeps, converged=res <= tol * scale,
                   residuals=residuals, multiply_adds=sweeps * plan.nnz,
                   message=converged_message(label, sweeps, res, tol, scale, program.residual_name),
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
