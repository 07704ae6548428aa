"""Which entries of the Hessian can be nonzero, read from the graph entry by entry.

With ``T = A^{-1} E`` the tangent map from the inputs and ``W = sum_i lam_i Hess(p_i)``,
``H = T^T W T`` (`lagrange_ad.program.second_order`). Write ``D_i`` for the dependency
pattern of node i: a boolean matrix with a row per entry of ``v_i`` and a column per input
entry (all arguments flattened one after another), true where the entry can depend on the
input entry. It is propagated in topological order,

    D_x = the rows of I at input x's entries,      D_i = OR_k  P_ik D_Pa(i)_k,

with ``P_ik`` the pattern of the local Jacobian block ``d p_i / d v_Pa(i)_k``. Node i adds to
the Hessian only through its block ``lam_i Hess(p_i)``, whose entry r pairs operand entries
that output entry r depends on. So, with ``Q_ik = P_ik D_Pa(i)_k`` (output entry r reaches
the input entries of row r of ``Q_ik`` through operand k),

    pattern(H) = OR over nodes i with curvature that reach the output of
                 sum_r  (row r of Q_ik)^T (row r of Q_ij)  over the operand pairs (k, j)

that the row's curvature couples. How each row's ``P_ik`` and pairs are found is its
structure (`row_structure`):

``"elementwise"``
    a row with a ``partials`` rule: output entry r reads entry r of each (broadcast)
    operand, a pattern from the shapes alone; its curvature couples every operand with
    every other at the same entry, so the block is ``D_i^T D_i``.
``"multilinear"``
    a row linear in each operand separately (``Primitive.multilinear``: mul, matmul, dot,
    einsum): ``P_ik`` is the pattern of its explicit Jacobian at operands of ones, where no
    entry cancels; its curvature couples different operands only, ``Q_ik^T Q_ij`` for
    ``k != j``.
``"linear"``
    a row with the zero curvature rule: ``P_ik`` is the nonzero pattern of its explicit
    Jacobian at the point (constant for a linear row; that of the piece the point lies in for a
    piecewise linear one such as sort or max), and it adds nothing to H.
``"general"``
    any other row (logsumexp, softmax, prod, cumprod, the matrix functions): treated as
    dense, every output entry depending on every operand entry, and its curvature coupling
    all of them.

On a graph with cycles every strongly connected component of more than one node (or a node
its own parent) is treated as one dense block: each of its entries depends on every input
entry its members' parents outside it depend on. Nodes that do not reach the output have a
zero multiplier and add nothing. Every pattern but a linear row's is structural (a first or
second derivative that vanishes at the point still counts), and a linear row's holds on the
piece the point lies in, so the pattern holds every nonzero of H at the point and wherever
the piecewise linear rows stay on their pieces.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ..errors import BudgetError
from ..primitives.registry import as_entries
from ..primitives.structure import broadcast_sources, linear_curvature
from .analysis import per_graph, scalar_elementwise
from .program import Program

STRUCTURES = ("elementwise", "multilinear", "linear", "general")

# at most this many (node entry, input entry) dependencies are held over all nodes
PATTERN_ENTRIES = 50_000_000


class Rows(NamedTuple):
    """A boolean matrix by rows: row r is true at the sorted columns ``idx[ptr[r]:ptr[r+1]]``.

    Plain arrays rather than a scipy matrix: a graph of scalar nodes makes one small matrix
    per node, where scipy's checks would cost more than the work.
    """

    ptr: np.ndarray
    idx: np.ndarray

    def __len__(self) -> int:
        return self.ptr.size - 1


class Pairs(NamedTuple):
    """The pattern ``P_ik`` of one local Jacobian block: output entry ``rows[e]`` reads
    operand entry ``cols[e]``."""

    rows: np.ndarray
    cols: np.ndarray


def row_structure(primitive) -> str:
    """How a row's Jacobian pattern and curvature coupling are read: one of `STRUCTURES`."""
    if primitive.curvature is linear_curvature:
        return "linear"
    if primitive.multilinear:
        return "multilinear"
    return "elementwise" if primitive.partials is not None else "general"


def hessian_pattern(program: Program) -> sp.csr_array:
    """The pattern of the Hessian of the program's output over its flattened input entries.

    A boolean CSR matrix of shape ``(n, n)``, n the number of input entries (the arguments
    flattened in C order, one after another), symmetric, true wherever ``H`` can be nonzero
    at the program's point (see the module docstring for how each row contributes).
    `BudgetError` when the dependencies held would pass `PATTERN_ENTRIES` (dense rows with
    large outputs), naming the node.
    """
    graph = program.graph
    n = int(graph.offsets[graph.n_inputs])
    deps: list = [None] * len(graph)  # D_i as `Rows`, None where no input reaches
    reaches = reaches_output(graph)
    scalar = np.zeros(len(graph), bool)
    scalar[scalar_elementwise(graph)] = True
    left, right = [], []  # H's pattern is the OR of left[k]^T right[k]
    held = 0  # dependencies held so far, against PATTERN_ENTRIES
    for component in _components(graph):
        if not graph.is_acyclic and (len(component) > 1 or _own_parent(graph, component[0])):
            held = _dense_component(graph, component, deps, reaches, left, right, held)
            continue
        i = component[0]
        if i < graph.n_inputs:
            start, size = int(graph.offsets[i]), int(graph.sizes[i])
            deps[i] = Rows(np.arange(size + 1), start + np.arange(size))
            continue
        parents = graph.parents(i).tolist()
        if graph.is_source[i] or all(deps[j] is None for j in parents):
            continue
        structure = row_structure(graph.primitive(i))
        size, operands = int(graph.sizes[i]), [deps[j] for j in parents]
        through = None  # Q_ik = P_ik D_Pa(i)_k, wanted by multilinear rows alone
        if scalar[i]:  # one entry reading the one entry of each operand: Q_ik = D_Pa(i)_k
            through = operands
            deps[i] = coupled = _union(operands)
        elif structure == "general":  # dense: every entry reads every operand entry
            coupled = _union(operands)
            held = _hold(graph, i, held, size * coupled.idx.size)
            deps[i] = _repeat(coupled, size)
        else:
            pairs = local_patterns(program, i, structure)
            deps[i] = coupled = _through_all(pairs, operands, size, n)
            if structure == "multilinear":
                through = [_through_all([p], [d], size, n) if d is not None else None
                           for p, d in zip(pairs, operands)]
        held = _hold(graph, i, held, 0 if scalar[i] or structure == "general" else
                     deps[i].idx.size)
        if not reaches[i] or structure == "linear":
            continue
        if structure != "multilinear":  # output entry r pairs everything it reads
            left.append(coupled)
            right.append(coupled)
            continue
        for k, qk in enumerate(through):  # different operands only
            for j, qj in enumerate(through):
                if j != k and qk is not None and qj is not None:
                    left.append(qk)
                    right.append(qj)
    if not left:
        return sp.csr_array((n, n), dtype=bool)
    pairs = _csr(_stack(left), n).T @ _csr(_stack(right), n)
    return (pairs + pairs.T).astype(bool).tocsr()


def local_patterns(program: Program, i: int, structure: str) -> list[Pairs]:
    """The patterns ``P_ik`` of node i's local Jacobian blocks, one `Pairs` per operand."""
    graph = program.graph
    primitive, parents = graph.primitive(i), graph.parents(i).tolist()
    shapes = [graph.shape(j) for j in parents]
    if primitive.partials is not None:  # elementwise: entry r reads entry r of each operand
        rows = np.arange(int(graph.sizes[i]))
        return [Pairs(rows, broadcast_sources(s, graph.shape(i))) for s in shapes]
    params = graph.params(i)
    if structure == "multilinear":  # at operands of ones no entry cancels
        xs = [np.ones(s) for s in shapes]
        ans = primitive.evaluate(*xs, **params)
    else:
        xs, ans = program.operands(i), program.value(i)
    pairs = []
    for block in primitive.explicit_jacobian(ans, xs, params):
        entries = as_entries(block)
        keep = np.asarray(entries.vals) != 0  # a zero there is zero on the whole piece
        pairs.append(Pairs(np.asarray(entries.rows, np.int64)[keep],
                           np.asarray(entries.cols, np.int64)[keep]))
    return pairs


@per_graph
def reaches_output(graph) -> np.ndarray:
    """Whether each node is the output or one of its ancestors (one flag per node); the
    others have a zero multiplier."""
    reaches = np.zeros(len(graph), bool)
    reaches[graph.output] = True
    for component in reversed(_components(graph)):
        if reaches[component].any():
            reaches[component] = True
            for i in component:
                reaches[graph.parents(i)] = True
    return reaches


def _components(graph) -> list:
    """The nodes in topological order, one list per strongly connected component."""
    if graph.is_acyclic:
        return [[i] for i in graph.topological_order().tolist()]
    return [c.tolist() for c in graph.strongly_connected_components()]


def _own_parent(graph, i: int) -> bool:
    return bool(np.any(graph.parents(i) == i))


def _dense_component(graph, component: list, deps: list, reaches, left: list,
                     right: list, held: int) -> int:
    """A cyclic component as one dense block: every entry depends on all its inputs'.
    Returns the dependencies held after it."""
    members = set(component)
    outside = [deps[j] for i in component for j in graph.parents(i).tolist()
               if j not in members]
    if all(d is None for d in outside):
        return held
    row = _union(outside)
    for i in component:
        held = _hold(graph, i, held, int(graph.sizes[i]) * row.idx.size)
        deps[i] = _repeat(row, int(graph.sizes[i]))
    curved = [graph.primitive(i).curvature is not linear_curvature for i in component]
    if reaches[component].any() and any(curved):
        left.append(row)
        right.append(row)
    return held


def _hold(graph, i: int, held: int, more: int) -> int:
    """``held + more``, or `BudgetError` naming node i when that passes `PATTERN_ENTRIES`."""
    if held + more > PATTERN_ENTRIES:
        raise BudgetError(
            f"the Hessian's pattern holds {held + more:,} dependencies of node entries on input "
            f"entries at node {graph.describe(i)} (limit {PATTERN_ENTRIES:,}; a "
            f"{row_structure(graph.primitive(i))!r} row); pass the pattern yourself "
            f"(sparsity=<boolean matrix>) or use the dense Hessian (sparsity=None)")
    return held + more


def _through_all(pairs: list, deps: list, size: int, n: int) -> Rows:
    """``OR_k P_k D_k`` over the operands whose D is known: row r of the result is the union
    of the rows of each ``D_k`` that output entry r reads."""
    keys = []
    for p, d in zip(pairs, deps):
        if d is None or p.rows.size == 0:
            continue
        lengths = d.ptr[p.cols + 1] - d.ptr[p.cols]
        # the positions in d.idx of every row read, one run per pair
        runs = np.repeat(d.ptr[p.cols] - np.cumsum(lengths) + lengths, lengths)
        columns = d.idx[runs + np.arange(runs.size)]
        keys.append(np.repeat(p.rows, lengths) * n + columns)
    keys = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    rows, columns = np.divmod(keys, n)
    return Rows(np.searchsorted(rows, np.arange(size + 1)), columns)


def _union(blocks: list) -> Rows:
    """The single row true where any row of any block is."""
    columns = [d.idx for d in blocks if d is not None]
    columns = np.unique(np.concatenate(columns)) if columns else np.zeros(0, np.int64)
    return Rows(np.array([0, columns.size]), columns)


def _repeat(row: Rows, count: int) -> Rows:
    """``count`` copies of a single row, stacked."""
    return Rows(np.arange(count + 1) * row.idx.size, np.tile(row.idx, count))


def _stack(blocks: list) -> Rows:
    """The rows of all blocks, one block after another."""
    ends = np.cumsum([0] + [d.idx.size for d in blocks])
    ptr = [np.zeros(1, np.int64)] + [d.ptr[1:] + end for d, end in zip(blocks, ends)]
    return Rows(np.concatenate(ptr), np.concatenate([d.idx for d in blocks]))


def _csr(rows: Rows, n: int) -> sp.csr_array:
    return sp.csr_array((np.ones(rows.idx.size), rows.idx, rows.ptr), shape=(len(rows), n))
