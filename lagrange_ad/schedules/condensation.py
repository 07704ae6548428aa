"""The reverse sweep on graphs with cycles: back-substitution over the condensation.

Collapsing each strongly connected component to one block makes ``A = I - J`` block
triangular. Visiting components in reverse topological order, every component's downstream
multipliers are final when it is reached, so its own block solves

    (I - J_CC)^T lam_C = b_C,     b_C = (e_N + J_{D,C}^T lam_D)_C,

with D the components downstream of C; then its contributions ``J_{C,U}^T lam_C`` go to the
upstream components U. Acyclic components are single nodes (one back-substitution step, as
in the plain reverse sweep); a cyclic block is solved by the implicit function theorem, with
``inner`` one of ``"fixed-point"`` (the adjoint iteration), ``"direct"`` (LU) or ``"gmres"``
(see `inner`). On graphs swept by VJP rules a direct solve first reduces the block to its
feedback nodes (see `feedback`), where an equilibrium layer's block becomes the dense
``I - W^T D`` that LAPACK factors.

The radius, iterations and residuals of every cyclic block are reported (`BlockStats`; the
radius of a block solved by LU or GMRES is estimated when first read).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import scipy.sparse.linalg as spla

from ..accel.costs import jacobian_is_sparse
from ..errors import LagrangeADError
from ..program.cycles import observed_rate, spectral_radius
from ..program.program import Program
from ..program.vectors import NodeVector
from .budget import Cost, check_time
from .cotangents import CotangentSweep
from .feedback import FeedbackBlock
from .inner import INNER, RADIUS_STEPS, BlockStats, direct_solve, solve_block
from .substitution import back_substitute

__all__ = ["INNER", "condensation_sweep", "rules_condensation_sweep"]


def _entries(graph, nodes: np.ndarray) -> np.ndarray:
    return np.concatenate([np.arange(graph.offsets[i], graph.offsets[i + 1])
                           for i in nodes.tolist()])


def _describe(graph, nodes) -> str:
    shown = ", ".join(f"v{i}" for i in nodes[:6])
    return shown + ("" if len(nodes) <= 6 else f" (+{len(nodes) - 6} more)")


def cyclic_blocks(graph) -> list[np.ndarray]:
    """The strongly connected components that hold a cycle (several nodes, or a self-loop)."""
    return [c for c in graph.strongly_connected_components()
            if c.size > 1 or int(c[0]) in graph.parents(int(c[0]))]


def condensation_cost(program: Program, inner: str = "fixed-point", tol: float = 1e-13,
                      maxiter: int = 10_000) -> Cost:
    """The estimated multiply-adds of `condensation_sweep`: one sweep over every partial,
    plus for each cyclic block its inner iterations times its multiply-adds (one product with
    ``J_CC^T`` each; a ``"direct"`` solve is charged one).

    An iterative inner solve is charged ``min(maxiter, k)``, with ``k`` the iterations that
    reach ``tol`` at the rate ``rho = q ** (1 / m)``: ``q`` is the contraction per sweep that
    the block's forward Picard iteration showed, a Gauss-Seidel sweep over its m nodes, which
    on a loop of m nodes settles what m products with ``J_CC`` (whose spectral radius
    ``J_CC^T`` shares) would; ``k = log(tol (1 - rho)) / log rho`` plus 10. Without such a
    rate (another forward method, or too few iterations to show one) it is charged the cap
    ``maxiter``, an upper bound.
    """
    sweep = program.total_multiply_adds
    reports = {node: report for report in program.fixed_points for node in report.nodes}
    extra, iterations = 0.0, []
    for block in cyclic_blocks(program.graph):
        count = 1 if inner == "direct" else _inner_iterations(reports.get(int(block[0])),
                                                               block.size, tol, maxiter)
        extra += float(count) * int(program.multiply_adds[block].sum())
        iterations.append(count)
    return Cost(float(sweep) + extra,
                f"one sweep of {sweep:,} partials + {extra:,.0f} in the inner solves of "
                f"{len(iterations)} cyclic block(s) ({max(iterations, default=0):,} "
                f"inner iterations at most)")


def _inner_iterations(report, nodes: int, tol: float, maxiter: int) -> int:
    """The inner iterations charged to a block of ``nodes`` nodes whose forward solve is
    ``report`` (see `condensation_cost`)."""
    per_sweep = observed_rate(list(report.residuals)) \
        if report is not None and report.method == "picard" else math.nan
    if not 0.0 < per_sweep < 1.0:
        return maxiter
    rate = per_sweep ** (1.0 / nodes)
    needed = math.log(max(tol, 1e-300) * (1.0 - rate)) / math.log(rate)
    return int(min(maxiter, math.ceil(max(needed, 0.0)) + 10))


def condensation_sweep(program: Program, *, inner: str = "fixed-point", tol: float = 1e-13,
                       maxiter: int = 10_000, gradient_only: bool = False):
    """Multipliers of a graph with cycles; see the module docstring.

    Returns the multipliers, the multiply-adds spent and one statistics dict per cyclic block.
    Graphs whose J is worth assembling (`jacobian_is_sparse`) sweep over it; the others
    apply VJP rules (`rules_condensation_sweep`).
    """
    if inner not in INNER:
        raise LagrangeADError(f"inner must be one of {INNER}; got {inner!r}")
    if not jacobian_is_sparse(program.graph):
        return rules_condensation_sweep(program, inner=inner, tol=tol, maxiter=maxiter,
                                        gradient_only=gradient_only)
    graph = program.graph
    jac = program.local_jacobian()
    lam = program.rhs()
    spent = 0
    blocks = []
    pending: list[int] = []  # a run of acyclic single nodes, swept in one back-substitution

    def flush():
        nonlocal spent
        if pending:
            spent += back_substitute(np.array(pending, np.int64), graph.offsets, jac, lam)
            pending.clear()

    for component in reversed(graph.strongly_connected_components()):
        i = int(component[0])
        if component.size == 1 and i not in graph.parents(i):
            pending.append(i)
            continue
        flush()
        entries = _entries(graph, component)
        rows = jac[entries]
        x, stats = solve_block(rows[:, entries].T.tocsr(), lam[entries].copy(), inner=inner,
                               tol=tol, maxiter=maxiter,
                               where=_describe(graph, component.tolist()))
        lam[entries] = x
        outward = rows.T @ x
        outward[entries] = 0.0  # the block's own coupling is inside the solve
        lam += outward
        spent += int(rows.nnz) * max(1, int(stats["iterations"]))
        blocks.append(stats)
        check_time(len(blocks), unit="cyclic blocks solved")
    flush()
    return lam, spent, blocks


def rules_condensation_sweep(program: Program, *, inner: str, tol: float, maxiter: int,
                             gradient_only: bool) -> tuple[NodeVector, int, list[dict]]:
    """The condensation sweep by VJP rules, with each multiplier kept as its own array.

    A cyclic block's operator ``x -> J_CC^T x`` applies the VJP of every node of the block to
    its part of x and keeps the cotangents sent inside the block; ``inner="direct"``
    assembles the node blocks of J_CC instead and reduces them to the feedback nodes
    (`FeedbackBlock`). With ``gradient_only`` the nodes that depend on no input get no
    multiplier, as in the acyclic sweep.
    """
    graph = program.graph
    sweep = CotangentSweep(program, gradient_only)
    lam, needed = sweep.lam, sweep.needed
    spent_on_lu = 0
    blocks = []
    # a NaN or infinity is found by the caller's check of the multipliers, which names its
    # cause
    with np.errstate(all="ignore"):
        for component in reversed(graph.strongly_connected_components()):
            nodes = component.tolist()
            if len(nodes) == 1 and nodes[0] not in sweep.parents(nodes[0]):
                if sweep.pending(nodes[0]):
                    sweep.send(nodes[0], lam[nodes[0]])
                continue
            if not any(needed[j] for j in nodes):
                continue
            x, stats = _solve_cycle(sweep, nodes, inner=inner, tol=tol, maxiter=maxiter)
            # an iterative solve counted its VJP applications; LU, the block's entries once
            spent_on_lu += stats.get("nonzeros", 0)
            inside = set(nodes)
            for i in nodes:
                lam[i] = x[i]
                if lam[i].any():
                    # what the block sends to the components upstream of it
                    sweep.send(i, lam[i], [needed[j] and j not in inside
                                           for j in sweep.parents(i)])
            blocks.append(stats)
            check_time(len(blocks), unit="cyclic blocks solved")
    missing = ("it depends on no input, and the sweep was asked for the gradient only "
               "(gradient_only=True)")
    kept = [j for j in range(len(graph)) if needed[j]]
    return sweep.result(kept, missing), sweep.spent + spent_on_lu, blocks


def _solve_cycle(sweep: CotangentSweep, nodes: list, *, inner: str, tol: float,
                 maxiter: int) -> tuple[dict, dict]:
    """The multipliers of one cyclic block, node by node, and the solve's statistics."""
    program, lam = sweep.program, sweep.lam
    graph = program.graph
    position = {j: k for k, j in enumerate(nodes)}
    starts = np.concatenate([[0], np.cumsum([graph.sizes[j] for j in nodes])]).tolist()
    size = starts[-1]

    def part(x: np.ndarray, k: int) -> np.ndarray:
        return x[starts[k]:starts[k + 1]].reshape(graph.shape(nodes[k]))

    def apply_transposed(x: np.ndarray) -> np.ndarray:
        out = np.zeros(size)
        for k, i in enumerate(nodes):
            g = part(x, k)
            if g.any():
                for j, ct in sweep.cotangents(i, g, [j in position for j in sweep.parents(i)]):
                    out[starts[position[j]]:starts[position[j] + 1]] += np.ravel(ct)
        return out

    b = np.concatenate([np.zeros(graph.sizes[j]) if lam[j] is None else np.ravel(lam[j])
                        for j in nodes])
    where = _describe(graph, nodes)
    if inner == "direct":
        x, stats = _solve_by_feedback(program, nodes, starts, b, where)
    else:
        transposed = spla.LinearOperator((size, size), matvec=apply_transposed,
                                         dtype=np.float64)
        x, stats = solve_block(transposed, b, inner=inner, tol=tol, maxiter=maxiter,
                               where=where)
    return {i: part(x, k).copy() for k, i in enumerate(nodes)}, stats


def _solve_by_feedback(program: Program, nodes: list, starts: list, b: np.ndarray,
                       where: str) -> tuple[np.ndarray, dict]:
    """A direct solve of one cyclic block reduced to its feedback nodes (see `feedback`)."""
    block = FeedbackBlock(program, nodes)
    size = starts[-1]

    def split(x: np.ndarray) -> dict:
        return {i: x[starts[k]:starts[k + 1]] for k, i in enumerate(nodes)}

    def transposed(x: np.ndarray) -> np.ndarray:
        out = block.transposed_product(split(x))
        return np.concatenate([out[i] for i in nodes])

    @functools.cache
    def radius() -> float:  # of J_CC, not of the reduced map; estimated when read
        operator = spla.LinearOperator((size, size), matvec=transposed, dtype=np.float64)
        return spectral_radius(operator, RADIUS_STEPS)

    parts = split(b)
    system, rhs = block.reduce(parts)
    x_feedback = direct_solve(system, rhs, where=where, radius=radius, overwrite=True)
    solved = block.back_substitute(x_feedback, parts)
    x = np.concatenate([solved[i] for i in nodes])
    return x, BlockStats({"nodes": where, "size": size, "inner": "direct", "iterations": 1,
                          "residuals": [float(np.linalg.norm(x - b - transposed(x)))],
                          "feedback_size": int(rhs.size), "nonzeros": block.nonzeros}, radius)
