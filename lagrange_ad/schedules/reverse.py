"""The reverse sweep: backpropagation as back-substitution on ``A^T lam = e_N``.

On a DAG, A is unit lower triangular in a topological order, so visiting nodes in reverse
topological order settles each multiplier block in one step (the lecture's back-propagate
loop)::

    lam <- e_N
    for i = N, ..., 1:                      (reverse topological order)
        lam_Pa(i) += lam_i^T d p_i / d v_Pa(i)

When node i is visited every child of i has already added its term, so lam_i is final and
``lam_j = [j = N] + sum_{i : j in Pa(i)} lam_i d p_i / d v_j`` holds for all j after one sweep.

With ``blocks="levels"`` the blocks are the topological levels (``graph.levels()``) instead of
single nodes, visited deepest first. Every child of a node has a higher level, so when level L
is reached its children's multipliers are final and the whole level is settled at once, one
vectorized product with the sparse J::

    lam_L = (e_N + J^T lam)_L      for L = depth, ..., 0

With ``checkpoints=k`` only k states are stored and the values between them are recomputed
on the binomial (revolve) schedule (`lagrange_ad.schedules.checkpointing`): the same multipliers in
bounded memory.

On a graph with cycles the sweep runs over the condensation instead, solving each cycle's
block by the implicit function theorem (`lagrange_ad.schedules.condensation`; options
``inner``, ``tol``, ``maxiter``).

Graphs of arrays (matrix products, elementwise functions of vectors) apply each node's VJP rule and
keep every multiplier as its own array. With ``gradient_only=True`` (what `la.grad` asks for)
that sweep leaves out the multipliers of nodes that depend on no input, such as a data matrix
X in ``X @ W``: the gradient never needs them, and for ``X @ W`` skipping them saves a product
as large as the forward one. It also lets go of every other multiplier once its node has sent
its cotangents, so the result holds the gradient alone and the sweep's memory stays near that
of the values. Reading a multiplier left out raises an error that says so.
"""

from __future__ import annotations

import numpy as np

from ..accel.kernels import back_substitute, back_substitute_rows
from ..program.assembly import jacobian_is_sparse
from ..program.program import Program
from ..program.vectors import NodeVector, all_finite
from .checkpointing import checkpointed_sweep
from .condensation import condensation_sweep
from .cotangents import CotangentSweep
from .plans import level_plan, sweep
from .registry import Outcome, Schedule, choice_problem, register_schedule

BLOCKS = ("nodes", "levels")
VIAS = ("auto", "jacobian", "rules")


def prefers_jacobian(program: Program) -> bool:
    """Whether to sweep over the assembled J rather than by VJP rules (`jacobian_is_sparse`).

    A program that kept only the values the rules read (``keep="gradient"``) sweeps by rules.
    """
    return program.values.complete and jacobian_is_sparse(program.graph)


def reverse_sweep(program: Program, order: np.ndarray | None = None, via: str = "auto",
                  gradient_only: bool = False) -> tuple[NodeVector, int]:
    """One block sweep in the given order (reverse topological by default).

    ``via="jacobian"`` runs the compiled loop over the assembled sparse J, ``via="rules"``
    calls each node's VJP rule; ``"auto"`` picks by `prefers_jacobian`. With
    ``gradient_only`` the rules skip the multipliers of nodes that depend on no input
    (`Program.depends_on_input`), which the gradient does not need, and keep only those of
    the inputs. Returns the multipliers and the multiply-adds spent.
    """
    graph = program.graph
    if via == "jacobian" or (via == "auto" and prefers_jacobian(program)):
        lam = program.rhs()
        jac = program.local_jacobian()
        if order is None and graph.shape_table == ((),) and graph.parents_precede_children:
            spent = back_substitute_rows(jac.indptr, jac.indices, jac.data, lam)
        else:
            order = graph.topological_order()[::-1] if order is None else order
            spent = back_substitute(np.ascontiguousarray(order, dtype=np.int64), graph.offsets,
                                    jac.indptr, jac.indices, jac.data, lam)
        return NodeVector(graph, lam, copy=False), int(spent)
    order = graph.topological_order()[::-1] if order is None else np.asarray(order, np.int64)
    return rules_sweep(program, order, gradient_only)


def rules_sweep(program: Program, order: np.ndarray,
                gradient_only: bool) -> tuple[NodeVector, int]:
    """The sweep by VJP rules (`CotangentSweep`), with each multiplier kept as its own array.

    ``lam_j`` is the sum of the cotangents its children send; a block that receives none is
    zero. With ``gradient_only`` only the input multipliers are kept.
    """
    sweep = CotangentSweep(program, gradient_only)
    lam = sweep.lam
    # a NaN or infinity is found by the caller's check of the multipliers, which names its
    # cause; numpy's warnings about it on the way would only repeat that
    with np.errstate(all="ignore"):
        for i in order.tolist():
            if not sweep.pending(i):
                continue
            sweep.send(i, lam[i])
            if gradient_only and all_finite(lam[i]):
                # sent on and not wanted: freeing it now keeps the sweep's memory near that of
                # the values (a non-finite one stays, for the caller's check to report)
                lam[i] = None
    graph = program.graph
    missing = ("the sweep was asked for the gradient only (gradient_only=True keeps the "
               "multipliers of the inputs alone)")
    return (sweep.result(graph.inputs if gradient_only else range(len(graph)), missing),
            sweep.spent)


def level_sweep(program: Program) -> tuple[np.ndarray, int]:
    """One sweep over the topological levels, deepest first, each level updated at once.

    Returns the multipliers and the multiply-adds spent (every stored partial of J, once).
    """
    plan = level_plan(program)
    lam = np.zeros(program.graph.total_size)
    sweep(plan, lam)
    return lam, plan.nnz


def _run(program: Program, *, via: str = "auto", blocks: str = "nodes",
         checkpoints: int | None = None, inner: str = "fixed-point", tol: float = 1e-13,
         maxiter: int = 10_000, check: bool = True, gradient_only: bool = False) -> Outcome:
    extra = {}
    if checkpoints is not None:
        return checkpointed_sweep(program, checkpoints=checkpoints, check=check)
    if not program.graph.is_acyclic:
        # the condensation is a DAG of blocks: back-substitution with a solve per cycle
        lam, spent, cycles = condensation_sweep(program, inner=inner, tol=tol, maxiter=maxiter,
                                                gradient_only=gradient_only)
        extra["cycles"] = cycles
    elif blocks == "levels":
        # via chooses how the node-by-node sweep applies J; the level sweep always uses J
        lam, spent = level_sweep(program)
    else:
        lam, spent = reverse_sweep(program, via=via, gradient_only=gradient_only)
    residuals = [program.kkt_residual(lam)] if check else []
    return Outcome(lam, iterations=1, converged=True, residuals=residuals, multiply_adds=spent,
                   extra=extra)


def _refuses(program: Program, options: dict) -> str | None:
    if options.get("gradient_only") and options.get("check", True):
        return ("gradient_only=True leaves the multipliers of nodes that depend on no input "
                "uncomputed, and the KKT residual needs all of them; pass check=False")
    blocks = options.get("blocks", "nodes")
    problem = (choice_problem("blocks", blocks, BLOCKS)
               or choice_problem("via", options.get("via", "auto"), VIAS))
    if problem:
        return problem
    if not program.graph.is_acyclic and blocks == "levels":
        return f"blocks='levels' needs topological levels, but {program.graph._cycle_message()}"
    if options.get("checkpoints") is not None:
        if blocks == "levels":
            return "checkpoints go with the node-by-node sweep, not blocks='levels'"
        if not program.graph.is_acyclic:
            return "checkpointing needs a DAG: the nodes of a cycle form no sequence of steps"
    return None


REVERSE = register_schedule(Schedule(
    name="reverse",
    run=_run,
    summary="backpropagation: one block sweep in reverse topological order",
    refuses=_refuses,
))
