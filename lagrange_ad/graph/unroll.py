"""Unrolling: a cyclic graph as K explicit fixed-point iterations.

Every cyclic component C is replaced by K copies of its nodes. Copy 0 holds the initial
values; copy k evaluates C's nodes in node order, reading a parent of C from copy k when it
comes earlier in that order and from copy k - 1 otherwise, which is exactly one Gauss-Seidel
sweep of the forward Picard iteration. Downstream nodes read the last copy. The result is a
DAG whose reverse sweep is "backpropagation through the solver"; as K grows its gradient
approaches the implicit one, and the multiplier of an original cyclic node is approached by
the sum of its copies' multipliers (the Neumann series that the implicit solve sums exactly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import LagrangeADError
from .builder import GraphBuilder
from .graph import Graph


@dataclass(frozen=True)
class Unrolled:
    """An unrolled graph and, per original node, the nodes that stand for it.

    Attributes
    ----------
    graph : Graph
        The DAG.
    copies : tuple of tuple of int
        ``copies[i]`` lists the new nodes of original node i: one for acyclic nodes, copies
        1..K for nodes on cycles (copy 0, the initial value, is a constant and not listed).
    steps : int
    """

    graph: Graph
    copies: tuple[tuple[int, ...], ...]
    steps: int

    def fold(self, flat: np.ndarray) -> np.ndarray:
        """Map a flat vector over the unrolled graph's entries back to the original nodes by
        summing over each node's copies (multipliers of cyclic nodes add up across copies)."""
        new = self.graph
        blocks = []
        for copies in self.copies:
            blocks.append(sum(flat[new.offsets[c]:new.offsets[c + 1]] for c in copies))
        return np.concatenate(blocks)


def unroll(graph: Graph, steps: int) -> Unrolled:
    """Replace every cycle of ``graph`` by ``steps`` Gauss-Seidel sweeps; see the module doc."""
    if int(steps) != steps or steps < 1:
        raise LagrangeADError(f"unroll needs a whole number of steps >= 1; got {steps!r}")
    steps = int(steps)
    builder = GraphBuilder()
    last: dict[int, int] = {}
    copies: dict[int, list[int]] = {}
    for i in graph.inputs:
        last[i] = builder.input(graph.shape(i), name=graph.names.get(i))
        builder.set_scope(last[i], graph.scopes.get(i))
        copies[i] = [last[i]]

    def add_copy(i, parents):
        params = dict(graph.params(i))
        name = graph.op_names[graph.op[i]]
        if name == "const":
            node = builder.const(params["value"], name=graph.names.get(i))
        else:
            node = builder.add(name, *parents, **params)
        builder.set_scope(node, graph.scopes.get(i))
        return node

    for component in graph.strongly_connected_components():
        members = component.tolist()
        if members[0] < graph.n_inputs:
            continue
        cyclic = len(members) > 1 or members[0] in graph.parents(members[0])
        if not cyclic:
            i = members[0]
            last[i] = add_copy(i, [last[int(j)] for j in graph.parents(i)])
            copies[i] = [last[i]]
            continue
        inside = set(members)
        previous = {i: builder.const(graph.initial.get(i, np.zeros(graph.shape(i))))
                    for i in members}
        for i in members:
            copies[i] = []
        for _ in range(steps):
            current: dict[int, int] = {}
            for i in members:
                parents = []
                for j in graph.parents(i).tolist():
                    if j in inside:
                        parents.append(current[j] if j in current else previous[j])
                    else:
                        parents.append(last[j])
                current[i] = add_copy(i, parents)
                copies[i].append(current[i])
            previous = current
        last.update(previous)
    new = builder.build(output=last[graph.output], point=graph.point)
    return Unrolled(new, tuple(tuple(copies[i]) for i in range(len(graph))), steps)
