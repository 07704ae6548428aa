"""Accelerators of the reverse sweep (task ``"sweep"``).

Each runs the loop of `lagrange_ad.schedules.reverse` (or of `schedules.levels`) faster and
returns the same multipliers, with the same count of multiply-adds. `reverse_sweep` asks
`accelerator_for("sweep", program, form, gradient_only)` and calls
``accelerator.run(program, form, gradient_only) -> (NodeVector, multiply_adds)``.

``compiled back-substitution`` (form ``"partials"``, when numba is installed)
    the loop over J's CSR arrays compiled (`kernels.back_substitute`); on scalar graphs
    numbered in topological order, row i is node i and no order or offsets are read
    (`kernels.back_substitute_rows`): about 5 ns per node.
``cotangent sweep`` (form ``"rules"``)
    the sweep by VJP rules over plain lists (`CotangentSweep`). With ``gradient_only`` it
    forms no multiplier for nodes that depend on no input (for a data matrix X in ``X @ W``
    this saves a product as large as the forward one), lets go of every other multiplier once
    its node has sent its cotangents (so the sweep's memory stays near that of the values),
    and reads only the values the rules need (it runs on the values of the
    memory-lean plan, `accel.lean`). Reading a multiplier left out raises an error that says so.
``compiled level sweep`` (form ``"levels"``, when numba is installed)
    the level sweep as one flat compiled loop over the partials of ``J^T`` in visiting
    order (`schedules.plans.level_plan`).

One accelerator of the task ``"back-substitution"`` serves
`schedules.substitution.back_substitute` (the acyclic stretches of the condensation sweep, the
Jacobian by adjoints): ``run(order, offsets, jac, lam) -> multiply_adds``.

``compiled substitution`` (when numba is installed)
    the loop over J's CSR arrays along the given order compiled (`kernels.back_substitute`).

One accelerator of the task ``"plan sweep"`` serves `schedules.plans.run_sweep`, the core of
Gauss-Seidel, Jacobi and the level sweep: ``run(plan, cur, out, omega, acc) -> (||out||^2,
||res||^2)``.

``compiled plan sweep`` (when numba is installed)
    the loop over the plan's partials compiled (`kernels.sweep_partials`).
"""

from __future__ import annotations

import numpy as np

from ..program.program import Program
from ..program.vectors import NodeVector, all_finite
from ..schedules.cotangents import CotangentSweep
from ..schedules.plans import SweepPlan, level_plan, sweep
from . import kernels
from .dispatch import Accelerator, register_accelerator
from .scalar_graphs import is_scalar_graph

COMPILED = kernels.njit is not None


def back_substitution(program: Program, form: str, gradient_only: bool) -> tuple[NodeVector, int]:
    """`sweep_by_partials`, compiled."""
    graph = program.graph
    lam = program.rhs()
    jac = program.local_jacobian()
    if is_scalar_graph(graph) and graph.parents_precede_children:
        spent = kernels.back_substitute_rows(jac.indptr, jac.indices, jac.data, lam)
    else:
        order = np.ascontiguousarray(graph.topological_order()[::-1], dtype=np.int64)
        spent = kernels.back_substitute(order, graph.offsets, jac.indptr, jac.indices, jac.data,
                                        lam)
    return NodeVector(graph, lam, copy=False), int(spent)


def cotangent_sweep(program: Program, form: str, gradient_only: bool) -> tuple[NodeVector, int]:
    """`sweep_by_rules` over plain lists; with ``gradient_only``, the input multipliers alone."""
    sweep = CotangentSweep(program, gradient_only)
    lam = sweep.lam
    graph = program.graph
    # a NaN or infinity is found by the caller's check of the multipliers, which names its
    # cause; numpy's warnings about it on the way would only repeat that
    with np.errstate(all="ignore"):
        for i in graph.topological_order()[::-1].tolist():
            if not sweep.pending(i):
                continue
            sweep.send(i, lam[i])
            if gradient_only and all_finite(lam[i]):
                # sent on and not wanted: freeing it now keeps the sweep's memory near that of
                # the values (a non-finite one stays, for the caller's check to report)
                lam[i] = None
    missing = ("the sweep was asked for the gradient only (gradient_only=True keeps the "
               "multipliers of the inputs alone)")
    return (sweep.result(graph.inputs if gradient_only else range(len(graph)), missing),
            sweep.spent)


def compiled_plan_sweep(plan: SweepPlan, cur: np.ndarray, out: np.ndarray, omega: float,
                        acc: np.ndarray) -> tuple[float, float]:
    """`plans.run_sweep`, compiled (`kernels.sweep_partials`)."""
    norm2, res2 = kernels.sweep_partials(plan.row, plan.src, plan.data, plan.earlier,
                                         plan.rhs_rows, plan.rhs_values, cur, out, omega, acc,
                                         plan.deferred)
    return float(norm2), float(res2)


def level_sweep(program: Program, form: str, gradient_only: bool) -> tuple[NodeVector, int]:
    """`sweep_by_levels` as one compiled loop over a cached plan."""
    plan = level_plan(program)
    lam = np.zeros(program.graph.total_size)
    sweep(plan, lam)
    return NodeVector(program.graph, lam, copy=False), plan.nnz


def compiled_substitution(order: np.ndarray, offsets: np.ndarray, jac, lam: np.ndarray) -> int:
    """`substitution.substitute_in_order`, compiled (`kernels.back_substitute`)."""
    order = np.ascontiguousarray(order, dtype=np.int64)
    return int(kernels.back_substitute(order, offsets, jac.indptr, jac.indices, jac.data, lam))


def _compiled_accelerator(name: str, task: str, run, doc: str) -> Accelerator:
    """Register an accelerator of ``task`` that serves every subject when numba is installed."""
    return register_accelerator(Accelerator(name=name, task=task, run=run, doc=doc,
                                            serves=lambda *subject: COMPILED))


COMPILED_SUBSTITUTION = _compiled_accelerator(
    "compiled substitution", "back-substitution", compiled_substitution,
    "back-substitution over J along a given order of nodes, compiled by numba")
COMPILED_PLAN_SWEEP = _compiled_accelerator(
    "compiled plan sweep", "plan sweep", compiled_plan_sweep,
    "one Gauss-Seidel, Jacobi or level sweep over a plan's partials, compiled by numba")


def _sweep_accelerator(name: str, form: str, run, compiled: bool, doc: str) -> Accelerator:
    """Register an accelerator of the reverse sweep in ``form`` (when numba is installed,
    for a ``compiled`` one)."""
    return register_accelerator(Accelerator(
        name=name, task="sweep", run=run, doc=doc,
        serves=lambda program, asked, gradient_only: asked == form and (COMPILED or not compiled),
    ))


COMPILED_BACK_SUBSTITUTION = _sweep_accelerator(
    "compiled back-substitution", "partials", back_substitution, True,
    "the reverse sweep over J compiled by numba (any acyclic program swept over J)")
COTANGENT_SWEEP = register_accelerator(Accelerator(
    name="cotangent sweep", task="sweep", run=cotangent_sweep,
    # it seeds the output's block: programs whose right-hand side is e_N
    serves=lambda program, asked, gradient_only: asked == "rules" and program.seeds_output,
    doc="the reverse sweep by VJP rules over plain lists; gradient_only frees multipliers"))
COMPILED_LEVEL_SWEEP = _sweep_accelerator(
    "compiled level sweep", "levels", level_sweep, True,
    "the reverse sweep by levels as one flat compiled loop over the partials of J^T")
