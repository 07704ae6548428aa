"""Vertex elimination on the linearized computational graph, in any order, counted.

The linearized graph has one vertex per scalar entry of the program (the flat layout of J)
and an edge ``j -> i`` labeled ``c_ij = J_ij = d p_i / d v_j`` for every stored nonzero of
the local Jacobian J. Independents are the input entries, dependents the entries of the
requested outputs, and every other vertex is an intermediate. Eliminating an intermediate
vertex j (Griewank and Walther, *Evaluating Derivatives*, ch. 9-10) connects each
predecessor k to each successor i,

    c_ik <- c_ik + c_ij c_jk        (one multiplication per pair (k, i)),

and removes j with its edges. Eliminating j costs its Markowitz degree
``|pred(j)| |succ(j)|`` multiplications. Once every intermediate is gone, the edges left run
from independents to dependents and their labels are the Jacobian's entries: the sum over
all paths of the product of the edge labels. Forward and reverse mode are the two
topological orders; cross-country orders (such as the greedy Markowitz order) may cost less.

Two conventions keep the count honest:

- Only relevant vertices take part: those reachable from an input entry and reaching an
  output entry. Constants and dead branches carry no derivative and cost nothing.
- A dependent must have no successors. An output entry that is an input entry, or that
  feeds other output entries, is therefore given a dependent copy, joined by an edge of
  label 1; the entry itself becomes an intermediate. Products with that structural 1 are
  copies and are not counted.

The graph is a plain dict of dicts (``preds[i][j] = c_ij``, ``succs[j][i] = c_ij``), fine for
small and medium graphs; iteration follows insertion order, so results are deterministic.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EliminationOrderError, GraphError
from ..program.program import Program
from ..schedules.plans import node_entries

ORDERS = ("forward", "reverse", "markowitz")



def entry_rank(program: Program) -> np.ndarray:
    """Each entry's position in a topological order of the entries (node order, then entry)."""
    graph = program.graph
    order = node_entries(graph.offsets, graph.topological_order())
    rank = np.empty(graph.total_size, np.int64)
    rank[order] = np.arange(order.size)
    return rank


@dataclass(frozen=True)
class Elimination:
    """The outcome of eliminating every intermediate vertex.

    Attributes
    ----------
    matrix : ndarray, shape (output entries, input entries)
        The Jacobian: the edge labels left from independents to dependents.
    multiplications : int
        Scalar multiplications ``c_ij c_jk`` performed.
    order : tuple of int
        The flat entry indices in the order they were eliminated.
    """

    matrix: np.ndarray
    multiplications: int
    order: tuple[int, ...]


class _LinearizedGraph:
    """The relevant part of the linearized graph, with output copies where needed."""

    def __init__(self, program: Program, output_entries: np.ndarray):
        graph = program.graph
        total = graph.total_size
        jac = program.local_jacobian().tocsr()
        jac_t = jac.T.tocsr()
        self.inputs = node_entries(graph.offsets, np.arange(graph.n_inputs)).tolist()
        outputs = output_entries.tolist()
        # relevant: on some path from an input entry to an output entry
        forward = _reachable(self.inputs, jac_t.indptr, jac_t.indices, total)
        backward = _reachable(outputs, jac.indptr, jac.indices, total)
        relevant = forward & backward
        is_input = np.zeros(total, bool)
        is_input[self.inputs] = True
        rank = entry_rank(program)
        vertices = sorted(np.flatnonzero(relevant).tolist(), key=rank.__getitem__)
        self.preds: dict[int, dict[int, float]] = {v: {} for v in vertices}
        self.succs: dict[int, dict[int, float]] = {v: {} for v in vertices}
        for i in vertices:
            for e in range(jac.indptr[i], jac.indptr[i + 1]):
                j = int(jac.indices[e])
                if relevant[j]:
                    self.preds[i][j] = self.succs[j][i] = float(jac.data[e])
        # a dependent has no successors; otherwise it gets a copy joined by a unit edge
        self.dependents: list[int] = []
        self.unit_edges: set[tuple[int, int]] = set()
        for k, y in enumerate(outputs):
            if is_input[y] or self.succs.get(y):
                copy = total + k
                self.preds[copy] = {y: 1.0}
                self.succs[copy] = {}
                self.succs.setdefault(y, {})[copy] = 1.0
                self.preds.setdefault(y, {})
                self.unit_edges.add((copy, y))
                self.dependents.append(copy)
            else:
                self.dependents.append(y)
        dependent = set(self.dependents)
        self.intermediates = tuple(v for v in vertices
                                   if not is_input[v] and v not in dependent)

    def cost(self, j: int) -> int:
        """Multiplications of eliminating j: its Markowitz degree, less the unit copies."""
        units = sum((i, j) in self.unit_edges for i in self.succs[j])
        return len(self.preds[j]) * (len(self.succs[j]) - units)

    def eliminate(self, j: int) -> int:
        """Remove j, adding ``c_ij c_jk`` to every edge k -> i; returns the multiplications."""
        preds, succs = self.preds.pop(j), self.succs.pop(j)
        for k in preds:
            del self.succs[k][j]
        for i in succs:
            del self.preds[i][j]
        spent = 0
        for i, c_ij in succs.items():
            unit = (i, j) in self.unit_edges
            for k, c_jk in preds.items():
                product = c_jk if unit else c_ij * c_jk
                spent += 0 if unit else 1
                c_ik = self.preds[i].get(k, 0.0) + product
                self.preds[i][k] = self.succs[k][i] = c_ik
        return spent


def _reachable(starts: list[int], ptr: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    """Vertices reachable from ``starts`` along the CSR adjacency (``ptr``, ``idx``)."""
    seen = np.zeros(n, bool)
    seen[starts] = True
    stack = list(starts)
    while stack:
        j = stack.pop()
        for k in idx[ptr[j]:ptr[j + 1]].tolist():
            if not seen[k]:
                seen[k] = True
                stack.append(k)
    return seen


def intermediate_entries(program: Program, outputs: Sequence[int] | int | None = None
                         ) -> tuple[int, ...]:
    """The vertices an explicit elimination order must list, in topological order.

    ``outputs`` are output nodes as for `lagrange_ad.jacobian` (the graph's output by default).
    """
    nodes = np.array(output_nodes(program, outputs), np.int64)
    return _LinearizedGraph(program, node_entries(program.graph.offsets, nodes)).intermediates


def output_nodes(program: Program, outputs) -> tuple[int, ...]:
    """The output nodes as a checked tuple: the graph's output by default, each node once."""
    graph = program.graph
    if outputs is None:
        return (int(graph.output),)
    if isinstance(outputs, (int, np.integer)) and not isinstance(outputs, (bool, np.bool_)):
        outputs = (outputs,)
    if not isinstance(outputs, (Sequence, np.ndarray)) or isinstance(outputs, str):
        raise GraphError(f"outputs must be a node index or a sequence of them; got {outputs!r}")
    nodes: list[int] = []
    for position, i in enumerate(outputs):
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise GraphError(f"outputs[{position}] is {i!r}; expected a node index (an int)")
        if not 0 <= i < len(graph):
            raise GraphError(f"outputs[{position}] is v{i}, which does not exist (nodes are "
                             f"v0..v{len(graph) - 1})")
        if int(i) in nodes:
            raise GraphError(f"outputs lists v{i} twice (positions {nodes.index(int(i))} and "
                             f"{position})")
        nodes.append(int(i))
    return tuple(nodes)


def eliminate(program: Program, output_entries: np.ndarray,
              order: str | Sequence[int] = "forward") -> Elimination:
    """The Jacobian of ``output_entries`` by vertex elimination in ``order``.

    Parameters
    ----------
    program : Program
        The program whose local Jacobian J labels the edges.
    output_entries : ndarray of int
        Flat entry indices of the dependents (rows of the result, in this order).
    order : str or sequence of int
        ``"forward"`` (topological), ``"reverse"``, ``"markowitz"`` (greedy smallest
        ``|pred| |succ|``, ties to the lowest entry index) or an explicit permutation of
        `intermediate_entries`.

    Returns
    -------
    Elimination

    Raises
    ------
    EliminationOrderError
        For an unknown order name, or an explicit order that misses an intermediate, repeats
        one, or names a vertex that is not an intermediate.
    """
    g = _LinearizedGraph(program, output_entries)
    if isinstance(order, str):
        if order not in ORDERS:
            raise EliminationOrderError(f"unknown elimination order {order!r}; use one of "
                                        f"{', '.join(map(repr, ORDERS))} or a list of entries")
        if order == "markowitz":
            used, spent = _markowitz(g)
        else:
            used = g.intermediates if order == "forward" else g.intermediates[::-1]
            spent = sum(g.eliminate(j) for j in used)
    else:
        used = _checked_order(program, g.intermediates, order)
        spent = sum(g.eliminate(j) for j in used)
    column = {x: c for c, x in enumerate(g.inputs)}
    matrix = np.zeros((len(g.dependents), len(g.inputs)))
    for r, y in enumerate(g.dependents):
        for x, c_yx in g.preds.get(y, {}).items():
            assert x in column, "after elimination only independents precede dependents"
            matrix[r, column[x]] = c_yx
    return Elimination(matrix, int(spent), tuple(int(j) for j in used))


def _markowitz(g: _LinearizedGraph) -> tuple[tuple[int, ...], int]:
    """Greedy elimination, always of the vertex with the smallest current cost."""
    # a heap with lazy deletion: stale (cost, j) pairs are skipped when popped
    heap = [(g.cost(j), j) for j in g.intermediates]
    heapq.heapify(heap)
    pending = set(g.intermediates)
    used, spent = [], 0
    while heap:
        cost, j = heapq.heappop(heap)
        if j not in pending or cost != g.cost(j):
            continue
        neighbours = list(g.preds[j]) + list(g.succs[j])
        spent += g.eliminate(j)
        pending.discard(j)
        used.append(j)
        for k in neighbours:
            if k in pending:
                heapq.heappush(heap, (g.cost(k), k))
    return tuple(used), spent


def _checked_order(program: Program, intermediates: tuple[int, ...],
                   order: Sequence[int]) -> tuple[int, ...]:
    """The explicit order as ints, or `EliminationOrderError` saying what is wrong with it."""
    graph = program.graph
    expected = set(intermediates)
    seen: set[int] = set()
    checked = []
    for position, j in enumerate(order):
        if isinstance(j, (bool, np.bool_)) or not isinstance(j, (int, np.integer)):
            raise EliminationOrderError(f"elimination order entry {position} is {j!r}; expected "
                                        f"a flat entry index (an int)")
        j = int(j)
        if j not in expected:
            where = ""
            if 0 <= j < graph.total_size:
                node = int(np.searchsorted(graph.offsets, j, side="right") - 1)
                where = f" (an entry of {graph.describe(node)})"
            raise EliminationOrderError(
                f"elimination order entry {position} is vertex {j}{where}, which is not an "
                f"intermediate: inputs, outputs and entries off every input-output path are not "
                f"eliminated; see intermediate_entries(program, outputs)")
        if j in seen:
            raise EliminationOrderError(f"the elimination order lists vertex {j} twice "
                                        f"(positions {checked.index(j)} and {position})")
        seen.add(j)
        checked.append(j)
    missing = [j for j in intermediates if j not in seen]
    if missing:
        shown = ", ".join(map(str, missing[:8])) + (" ..." if len(missing) > 8 else "")
        raise EliminationOrderError(f"the elimination order misses {len(missing)} intermediate "
                                    f"vertex(es): {shown}")
    return tuple(checked)
