"""Second order from the same Lagrangian: Hessian-vector products as a second adjoint system.

The program ``max v_N s.t. v_i = x_i (inputs), v_i = p_i(v_Pa(i))`` has the Lagrangian
``L(v, lam) = v_N - sum_i lam_i . (v_i - p_i(v_Pa(i)))``. Its stationarity in v is the first
adjoint system ``A^T lam = e_N`` with ``A = I - J``. Differentiating the KKT system once
more along a direction d of the inputs:

* the constraints give the tangents, ``A t = E d`` (E puts d on the input entries), so
  ``t = T d`` with ``T = A^{-1} E``: one tangent sweep in topological order on a DAG;
* the stationarity condition ``A(v)^T lam = e_N`` differentiated along t gives
  ``A^T mu = W t`` with ``mu = d lam / d x [d]``, because ``d (J^T lam) [t] = J^T mu + W t``
  where

      W = sum_i lam_i Hess(p_i)

  is the Hessian of the Lagrangian in v: one block per node, ``lam_i . d^2 p_i / d v_Pa(i)^2``
  on the entries of node i's parents (each node's curvature rule, `Primitive.curvature`);
* the input multipliers are the gradient, so ``H d = E^T mu``.

Together ``H = T^T W T``: one tangent sweep, one curvature contraction per node, and a second
adjoint system with the same matrix ``A^T``, which the reverse sweep solves from the
right-hand side ``w = W t`` instead of ``e_N``. ``mu`` at every node is the directional
derivative of that node's adjoint.

Two forms compute the same products. ``"rules"`` runs every step node by node through the
rules (`Program.node_jvp`, the curvature rules, the reverse sweep by VJP rules).
``"partials"`` works on the assembled ``A = I - J`` (`Program.kkt_matrix`): when the nodes are
numbered in a topological order A is unit lower triangular and the tangent and second adjoint
systems are sparse triangular solves; otherwise (a graph with cycles, whose values are a fixed
point) one sparse LU factorization of A serves both, ``A t = E d`` and ``A^T mu = w``. The
curvature rules of the scalar elementwise nodes run once per primitive on all of them.

The derivation holds on cyclic graphs too: at a fixed point ``v = p(v)`` the constraints are
satisfied and, A being nonsingular, differentiating the KKT system gives the same three
systems; there the ``"partials"`` form is the one that applies. A row without a curvature rule
is refused by name (`NoCurvatureRuleError`) before anything is computed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, splu, spsolve_triangular

from ..accel.dispatch import accelerator_for
from ..errors import BudgetError, CyclicGraphError, NoCurvatureRuleError, SingularKKTError
from ..primitives.structure import linear_curvature
from .analysis import per_graph, scalar_elementwise
from .assembly import _grouped
from .program import Program, _as_flat
from .vectors import NodeVector

FORMS = ("rules", "partials")

# W is assembled as a sparse matrix by probing each node's block with unit tangents: at most
# this many probes (the parents' entries of the nodes with curvature) ...
MATRIX_PROBES = 100_000
# ... and at most this many entries computed over all probes
MATRIX_ENTRIES = 10_000_000


def require_second_order(program: Program) -> None:
    """Refuse a program whose second derivatives this module cannot form, saying why.

    Raises `NoCurvatureRuleError` naming the first node, depending on an input, whose
    primitive has no curvature rule.
    """
    graph = program.graph
    lacking = [code for code, p in enumerate(graph.primitives) if p.curvature is None]
    if not lacking:  # every primitive of the graph has its rule: nothing to refuse
        return
    refused = np.isin(graph.op, lacking) & ~graph.is_source
    if refused.any():  # which of them an input reaches is a pass over the graph: only then
        refused &= program.depends_on_input
    for i in np.flatnonzero(refused)[:1].tolist():
        raise NoCurvatureRuleError(
                f"node {graph.describe(i)}: primitive {graph.primitive(i).name!r} has no "
                f"curvature rule, so second derivatives through it are not available; "
                f"first derivatives (la.grad) still are")


def tangents(program: Program, direction: Sequence) -> list:
    """``t = A^{-1} E d``: every node's tangent along the input direction ``d``, by JVP rules.

    The forward substitution ``t_i = sum_{j in Pa(i)} d p_i / d v_j t_j`` in topological
    order (`Program.node_jvp`); ``direction`` holds one array per input, shaped like it. A
    node no input direction reaches has the tangent None (zero).
    """
    graph = program.graph
    if not graph.is_acyclic:
        raise CyclicGraphError("the rules form sweeps in a topological order, which a graph "
                               "with a cycle lacks; use the 'partials' form (every value kept)")
    t: list = [None] * len(graph)
    for i in range(graph.n_inputs):
        t[i] = np.reshape(np.asarray(direction[i], dtype=np.float64), graph.shape(i))
    for i in graph.topological_order().tolist():
        if graph.is_source[i]:
            continue
        ts = [t[j] for j in graph.parents(i).tolist()]
        if any(x is not None for x in ts):
            t[i] = np.asarray(program.node_jvp(i, ts), dtype=np.float64)
    return t


def curvature_products(program: Program, multipliers: list, t: list) -> list:
    """``w = W t``, node by node: each node's ``lam_i Hess(p_i) [t_Pa(i)]`` added to its parents.

    ``multipliers`` and ``t`` hold one block per node (None for zero); so does the result.
    Linear rows and nodes whose multiplier or parents' tangents vanish add nothing.
    """
    graph = program.graph
    w: list = [None] * len(graph)
    for i in range(len(graph)):
        primitive = graph.primitive(i)
        lam = multipliers[i]
        if graph.is_source[i] or primitive.curvature is linear_curvature or lam is None:
            continue
        parents = graph.parents(i).tolist()
        ts = tuple(t[j] for j in parents)
        if all(x is None for x in ts) or not np.any(lam):
            continue
        lam = np.reshape(lam, graph.shape(i))
        contractions = primitive.node_curvature(lam, ts, program.value(i), *program.operands(i),
                                                **graph.params(i))
        for j, c in zip(parents, contractions):
            if c is not None:
                w[j] = c if w[j] is None else w[j] + c
    return w


def second_adjoints(program: Program, multipliers, direction: Sequence,
                    form: str = "rules", solves: tuple | None = None) -> NodeVector:
    """``mu`` solving ``A^T mu = W A^{-1} E d``: the derivatives of every adjoint along d.

    The right-hand side comes from the tangent solve and the curvature contractions; the
    system is solved by the reverse sweep by VJP rules started from it (the same sweep that
    solves ``A^T lam = e_N``), or, in the ``"partials"`` form, by a sparse triangular solve
    with the assembled ``A^T``. ``mu`` at the inputs is the Hessian-vector product ``H d``.
    ``multipliers`` is the first adjoint lam, a `NodeVector` or a list of node blocks;
    ``solves`` the pair of `kkt_solves` of the program, when several products share them.
    """
    graph = program.graph
    if form == "partials":
        solves = solves or kkt_solves(program)
        w = right_hand_sides(program, multipliers, direction, form, solves)
        return NodeVector(graph, solves[1](w), copy=False)
    from ..schedules.reverse import sweep_by_rules  # schedules import this layer

    mu, _ = sweep_by_rules(program, rhs=_rule_right_hand_sides(program, multipliers, direction))
    return mu


def right_hand_sides(program: Program, multipliers, direction: Sequence,
                     form: str = "rules", solves: tuple | None = None) -> np.ndarray:
    """``w = W A^{-1} E d`` as a flat vector: the right-hand side of the second system."""
    lam = multipliers if isinstance(multipliers, NodeVector) else \
        NodeVector.from_blocks(program.graph, multipliers)
    graph = program.graph
    if form == "partials":
        solve, _ = solves or kkt_solves(program)
        seed = np.zeros(graph.total_size)
        seed[:int(graph.offsets[graph.n_inputs])] = np.concatenate(
            [np.ravel(np.asarray(d, np.float64)) for d in direction] or [np.zeros(0)])
        return _curvature_flat(program, lam, solve(seed))
    w = _rule_right_hand_sides(program, lam, direction)
    return NodeVector.from_blocks(
        graph, [np.zeros(graph.shape(j)) if b is None else b for j, b in enumerate(w)]).flat


def _rule_right_hand_sides(program: Program, multipliers, direction: Sequence) -> list:
    """``w`` node by node (None for zero blocks), by the rules form."""
    lam = multipliers if isinstance(multipliers, NodeVector) else \
        NodeVector.from_blocks(program.graph, multipliers)
    return curvature_products(program, lam.blocks(), tangents(program, direction))


class SecondSystem(Program):
    """The program with ``w`` in place of ``e_N`` as the right-hand side of ``A^T x = rhs``.

    A schedule that solves ``A^T lam = program.rhs()`` for whatever the right-hand side is
    solves the second adjoint system ``A^T mu = w`` when handed this program; its residual
    (`kkt_residual`) is then that of the second system.
    """

    # what the program's state shares with it: the point, the values and J at them; caches a
    # schedule built from the right-hand side (sweep plans) are left behind
    SHARED = ("graph", "point", "values", "fixed_points", "_jacobian_of_forward", "_jacobian")
    seeds_output = False  # the right-hand side is w, not e_N
    residual_name = "||w - A^T mu||"

    def __init__(self, program: Program, w: np.ndarray):
        self.__dict__.update({k: v for k, v in program.__dict__.items() if k in self.SHARED})
        self._second_rhs = np.asarray(w, dtype=np.float64)

    def rhs(self) -> np.ndarray:
        """``w``, the curvature contractions along the tangents."""
        return self._second_rhs.copy()


def partials_apply(program: Program) -> bool:
    """Whether the ``"partials"`` form applies: every value was kept."""
    return program.values.complete


def kkt_solves(program: Program) -> tuple:
    """``(x -> A^{-1} x, y -> A^{-T} y)`` on the assembled A: triangular solves when the nodes
    are numbered in a topological order, else one sparse LU factorization serving both.

    This is the one call of `accelerator_for` for the task ``"kkt solves"``: an accelerator
    serving the program returns the same pair (`lagrange_ad.accel.triangular`).
    """
    accelerator = accelerator_for("kkt solves", program)
    if accelerator is not None:
        return accelerator.run(program)
    a = program.kkt_matrix()
    if program.graph.parents_precede_children:
        at = a.T.tocsr()
        return (lambda x: spsolve_triangular(a, x, lower=True, unit_diagonal=True),
                lambda y: spsolve_triangular(at, y, lower=False, unit_diagonal=True))
    try:
        lu = splu(sp.csc_matrix(a))
    except RuntimeError as exc:  # SuperLU's "matrix is exactly singular"
        raise SingularKKTError(f"A = I - J is singular at this point ({exc}): the fixed "
                               f"point has no unique derivatives") from None
    return lu.solve, lambda y: lu.solve(y, trans="T")


@per_graph
def curvature_groups(graph) -> tuple:
    """The scalar elementwise nodes with curvature, by primitive and parameters: a tuple of
    ``(nodes, parents)``, parents one column per operand (computed once per graph)."""
    scalar = scalar_elementwise(graph)
    groups = []
    for group in _grouped(graph, scalar) if scalar.size else []:
        if graph.primitive(int(group[0])).curvature is linear_curvature:
            continue
        first = graph.parent_ptr[group]
        arity = int(graph.parent_ptr[group[0] + 1] - first[0])
        groups.append((group, graph.parent_idx[first[:, None] + np.arange(arity)]))
    return tuple(groups)


def _curvature_flat(program: Program, multipliers: NodeVector, t: np.ndarray) -> np.ndarray:
    """``W t`` over flat vectors: scalar elementwise nodes one primitive at a time, the rest
    node by node (`curvature_products`)."""
    graph, offsets, v = program.graph, program.graph.offsets, program.values.flat
    lam = multipliers.flat
    w = np.zeros(graph.total_size)
    for group, parents in curvature_groups(graph):
        primitive = graph.primitive(int(group[0]))
        rows = [offsets[parents[:, k]] for k in range(parents.shape[1])]
        out = primitive.node_curvature(lam[offsets[group]], tuple(t[r] for r in rows),
                                       v[offsets[group]], *[v[r] for r in rows],
                                       **graph.params(int(group[0])))
        for r, c in zip(rows, out):
            if c is not None:
                np.add.at(w, r, np.broadcast_to(c, r.shape))
    rest = np.ones(len(graph), bool)
    rest[scalar_elementwise(graph)] = False
    rest &= ~graph.is_source
    if rest.any():
        tangent, kept = NodeVector(graph, t, copy=False), [None] * len(graph)
        blocks = [None] * len(graph)
        for i in np.flatnonzero(rest).tolist():
            kept[i] = multipliers[i]
            for j in graph.parents(i).tolist():
                blocks[j] = tangent[j]
        for j, c in enumerate(curvature_products(program, kept, blocks)):
            if c is not None:
                w[offsets[j]:offsets[j + 1]] += np.ravel(c)
    return w


def lagrangian_hessian(program: Program, multipliers) -> LinearOperator:
    """``W = sum_i lam_i Hess(p_i)`` as a matrix-free symmetric operator over all entries.

    ``matvec(t)`` runs every node's curvature rule (`curvature_products`); ``multipliers`` is
    a `NodeVector`, a `Solution`, a flat vector or a mapping of node blocks.
    """
    require_second_order(program)
    graph = program.graph
    blocks = NodeVector(graph, _as_flat(graph, multipliers)).blocks()

    def matvec(x):
        flat = NodeVector(graph, np.ravel(x)).blocks()
        w = curvature_products(program, blocks, flat)
        return NodeVector.from_blocks(
            graph, [np.zeros(graph.shape(j)) if b is None else b for j, b in enumerate(w)]).flat

    n = graph.total_size
    return LinearOperator((n, n), dtype=np.float64, matvec=matvec, rmatvec=matvec)


def curvature_blocks(program: Program, multipliers) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Node by node, the blocks whose sum is W: ``(i, slots, lam_i Hess p_i)``.

    ``slots`` are the flat entries of node i's parents, in operand order (an entry appears
    twice when a node reads one parent twice, as in ``x * x``); the block is the dense
    ``lam_i d^2 p_i / d v_Pa(i)^2`` over them, probed with one unit tangent per slot. Nodes
    without curvature (linear rows, zero multipliers) have no block. Stacking the slots,
    ``W = P^T diag(blocks) P`` with ``P`` the 0/1 matrix taking each slot to its entry.
    """
    require_second_order(program)
    graph = program.graph
    offsets = graph.offsets
    lam_blocks = NodeVector(graph, _as_flat(graph, multipliers)).blocks()
    blocks = []
    for i in range(len(graph)):
        if graph.is_source[i] or graph.primitive(i).curvature is linear_curvature or \
                not np.any(lam_blocks[i]):
            continue
        parents = graph.parents(i).tolist()
        sizes = [int(graph.sizes[j]) for j in parents]
        starts = np.cumsum([0] + sizes)
        block = np.zeros((starts[-1], starts[-1]))
        operands, params = program.operands(i), graph.params(i)
        lam = np.reshape(lam_blocks[i], graph.shape(i))
        for k, j in enumerate(parents):
            for e in range(sizes[k]):
                unit = np.zeros(sizes[k])
                unit[e] = 1.0
                ts = tuple(np.reshape(unit, graph.shape(j)) if m == k else None
                           for m in range(len(parents)))
                out = graph.primitive(i).node_curvature(lam, ts, program.value(i), *operands,
                                                        **params)
                for m, c in enumerate(out):
                    if c is not None:
                        block[starts[m]:starts[m + 1], starts[k] + e] = np.ravel(c)
        slots = np.concatenate([offsets[j] + np.arange(size) for j, size in zip(parents, sizes)])
        blocks.append((i, slots, block))
    return blocks


def lagrangian_hessian_matrix(program: Program, multipliers) -> sp.csr_array:
    """``W`` as a sparse matrix, the sum of the `curvature_blocks` placed on their entries.

    Node i with a curvature rule costs one probe per entry of its parents and computes the
    parents' entries per probe: at most `MATRIX_PROBES` probes and `MATRIX_ENTRIES` entries in
    all, else `BudgetError` (use `lagrangian_hessian`, the operator, instead).
    """
    require_second_order(program)
    graph = program.graph
    lam_blocks = NodeVector(graph, _as_flat(graph, multipliers)).blocks()
    nodes = [i for i in range(len(graph)) if not graph.is_source[i]
             and graph.primitive(i).curvature is not linear_curvature and np.any(lam_blocks[i])]
    widths = [int(sum(graph.sizes[j] for j in graph.parents(i).tolist())) for i in nodes]
    probes, entries = sum(widths), sum(w * w for w in widths)
    if probes > MATRIX_PROBES or entries > MATRIX_ENTRIES:
        raise BudgetError(
            f"assembling W takes {probes:,} probes and {entries:,} entries (limits "
            f"{MATRIX_PROBES:,} and {MATRIX_ENTRIES:,}); use lagrangian_hessian, the "
            f"matrix-free operator")
    rows, cols, vals = [], [], []
    for _, slots, block in curvature_blocks(program, multipliers):
        hit_rows, hit_cols = np.nonzero(block)
        rows.append(slots[hit_rows])
        cols.append(slots[hit_cols])
        vals.append(block[hit_rows, hit_cols])
    n = graph.total_size
    if not rows:
        return sp.csr_array((n, n))
    # a slot repeated (x * x) sums its entries, as W sums the node's second derivatives
    return sp.coo_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(n, n)).tocsr()
