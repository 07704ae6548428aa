"""The reverse sweep: backpropagation as back-substitution on ``A^T lam = e_N``.

On a DAG, A is unit lower triangular in a topological order, so visiting nodes in reverse
topological order settles each multiplier block in one step (the lecture's back-propagate
loop)::

    lam <- e_N
    for i = N, ..., 1:                      (reverse topological order)
        lam_Pa(i) += lam_i^T d p_i / d v_Pa(i)

When node i is visited every child of i has already added its term, so lam_i is final and
``lam_j = [j = N] + sum_{i : j in Pa(i)} lam_i d p_i / d v_j`` holds for all j after one sweep.
A node whose multiplier is zero sends nothing (and spends no multiply-adds).

The loop exists here in two forms, which differ only in how the step is computed:

``"partials"`` (`sweep_by_partials`)
    over the assembled local Jacobian J (`Program.local_jacobian`): the step is
    ``lam[Pa(i)] += J[i, Pa(i)]^T lam_i``, one product with the stored partials of node i.
``"rules"`` (`sweep_by_rules`)
    by each node's VJP rule (`Program.node_vjp`), never forming J: multipliers are kept node
    by node, each an array shaped like its node.

`reverse_sweep` chooses the form and is the one place where a faster implementation of the
same loop (an accelerator of task ``"sweep"``, see `lagrange_ad.accel.sweeps`) replaces it:
the compiled back-substitution over J, the sweep by rules that frees each multiplier once it
has been sent, the compiled level sweep. With ``LAGRANGE_AD_REFERENCE=1`` (or inside
``la.use_reference()``) the reference loops run as written (the level sweep's in `levels`).
"""

from __future__ import annotations

import numpy as np

from ..accel.costs import jacobian_is_sparse
from ..accel.dispatch import accelerator_for
from ..program.program import Program
from ..program.vectors import NodeVector
from .levels import sweep_by_levels
from .substitution import substitute_in_order

FORMS = ("partials", "rules", "levels")
VIAS = ("auto", "jacobian", "rules")


def sweep_by_partials(program: Program) -> tuple[np.ndarray, int]:
    """The reverse sweep over the assembled J; returns the flat multipliers and multiply-adds.

    Row r of J holds the partials of scalar entry r of its node with respect to the entries
    of the node's parents, so ``lam[Pa(i)] += J[i, Pa(i)]^T lam_i`` adds ``lam_r J[r, c]`` to
    ``lam_c`` for every stored partial of the rows of node i.
    """
    graph = program.graph
    lam = program.rhs()
    spent = substitute_in_order(graph.topological_order()[::-1], graph.offsets,
                                program.local_jacobian(), lam)
    return lam, spent


def sweep_by_rules(program: Program, rhs: list | None = None) -> tuple[NodeVector, int]:
    """The reverse sweep by VJP rules; returns the multipliers node by node and multiply-adds.

    ``lam_i`` starts as None (no cotangent received) and becomes the sum of the cotangents
    ``lam_c^T d p_c / d v_i`` its children c send; a node that receives none has ``lam_i = 0``.
    A rule's cost is its node's count of local partials (`Program.multiply_adds`). ``rhs``
    (one block per node, None for zero) solves ``A^T lam = rhs``; by default the right-hand
    side is the program's own (``e_N``, seeded at the output alone, or a `SecondSystem`'s w).
    """
    graph = program.graph
    if rhs is None and not program.seeds_output:
        rhs = NodeVector(graph, program.rhs(), copy=False).blocks()
    lam: list = [None] * len(graph) if rhs is None else list(rhs)
    if rhs is None:
        lam[graph.output] = np.ones(graph.shape(graph.output))
    spent = 0
    # a NaN or infinity reaches the caller's check of the multipliers, which names its cause
    with np.errstate(all="ignore"):
        for i in graph.topological_order()[::-1].tolist():
            if lam[i] is None or graph.is_source[i] or not lam[i].any():
                continue
            for j, ct in zip(graph.parents(i).tolist(), program.node_vjp(i, lam[i])):
                lam[j] = ct if lam[j] is None else lam[j] + ct
            spent += int(program.multiply_adds[i])
    blocks = [np.zeros(graph.shape(j)) if g is None else g for j, g in enumerate(lam)]
    return NodeVector.from_blocks(graph, blocks, ""), spent


def sweep_form(program: Program, via: str = "auto") -> str:
    """Which form of the node-by-node sweep ``via`` asks for: ``"partials"`` or ``"rules"``.

    ``"auto"`` sweeps over J when it is worth assembling (`jacobian_is_sparse`) and every
    value it reads was kept (values from `accel.lean` sweep by rules).
    """
    if via == "jacobian":
        return "partials"
    if via == "rules":
        return "rules"
    return "partials" if program.values.complete and jacobian_is_sparse(program.graph) \
        else "rules"


REFERENCE = {"partials": sweep_by_partials, "rules": sweep_by_rules, "levels": sweep_by_levels}


def reverse_sweep(program: Program, form: str | None = None,
                  gradient_only: bool = False) -> tuple[NodeVector, int]:
    """One reverse sweep of ``program`` in the given form; the multipliers and multiply-adds.

    Parameters
    ----------
    program : Program
        An acyclic program.
    form : {"partials", "rules", "levels"}, optional
        The loop to run (`FORMS`); by default the node-by-node sweep `sweep_form` picks.
    gradient_only : bool
        Only the multipliers of the inputs are wanted. An accelerator may then leave the
        others out (reading one raises an error that says so); the reference loops compute
        them all.

    Returns
    -------
    (NodeVector, int)

    Notes
    -----
    This is the one call of `accelerator_for` for the task ``"sweep"``: an accelerator
    serving ``(program, form, gradient_only)`` runs instead of the reference loop and
    returns the same multipliers.
    """
    form = sweep_form(program) if form is None else form
    accelerator = accelerator_for("sweep", program, form, gradient_only)
    if accelerator is not None:
        return accelerator.run(program, form, gradient_only)
    lam, spent = REFERENCE[form](program)
    if not isinstance(lam, NodeVector):
        lam = NodeVector(program.graph, lam, copy=False)
    return lam, spent
