"""What the program's sweeps need to know about a graph, computed once per graph.

* `depends_on_input`: whether each node is an input or has one among its ancestors. Only
  these multipliers reach the gradient, since multipliers flow from a node to its parents.
* `scalar_elementwise`: the scalar nodes of an elementwise primitive with a partials rule,
  whose local partials come from one vectorized call per primitive (see `assembly`).
* `multiply_adds`: per node, the number of local partials its VJP or JVP applies, that is the
  nonzeros of its rows of J.

Each is a function of the graph alone, remembered per graph (programs of one graph at many
points share it) and returned as a read-only array.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from ..graph.graph import Graph


def per_graph(analysis: Callable[[Graph], Any]) -> Callable[[Graph], Any]:
    """Remember ``analysis(graph)`` for as long as the graph lives; arrays in the result (an
    array or a tuple) are made read-only."""
    results: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @functools.wraps(analysis)
    def remembered(graph: Graph):
        if graph in results:
            return results[graph]
        result = results[graph] = analysis(graph)
        for part in result if isinstance(result, tuple) else (result,):
            if isinstance(part, np.ndarray):
                part.flags.writeable = False
        return result

    return remembered


@per_graph
def depends_on_input(graph: Graph) -> np.ndarray:
    """Whether each node is an input or has one among its ancestors (one flag per node).

    One pass over the strongly connected components in topological order: a component
    depends on an input when one of its members is an input or one of their parents depends
    on one (on a cycle every member depends on every other). On a DAG every component is a
    single node, visited in topological order.
    """
    depends = [i < graph.n_inputs for i in range(len(graph))]
    # plain lists: the loop reads single entries, where numpy scalars are slow
    ptr, idx = graph.parent_ptr.tolist(), graph.parent_idx.tolist()
    if graph.is_acyclic:
        components = ([i] for i in graph.topological_order().tolist())
    else:
        components = (c.tolist() for c in graph.strongly_connected_components())
    for component in components:
        if not any([depends[i] for i in component]):
            reached = any([depends[j] for i in component for j in idx[ptr[i]:ptr[i + 1]]])
            for i in component:
                depends[i] = reached
        elif len(component) > 1:
            for i in component:
                depends[i] = True
    return np.array(depends, bool)


@per_graph
def scalar_elementwise(graph: Graph) -> np.ndarray:
    """The nodes whose value and operands are scalars and whose primitive has a partials rule
    (node indices, increasing)."""
    has_rule = np.array([p.partials is not None for p in graph.primitives], bool)[graph.op]
    widest = np.zeros(len(graph), np.int64)  # the largest operand size of each node
    nonempty = np.diff(graph.parent_ptr) > 0
    if graph.parent_idx.size:
        widest[nonempty] = np.maximum.reduceat(graph.sizes[graph.parent_idx],
                                               graph.parent_ptr[:-1][nonempty])
    return np.flatnonzero(has_rule & ~graph.is_source & (graph.sizes == 1) & (widest == 1))


@per_graph
def multiply_adds(graph: Graph) -> np.ndarray:
    """Per node, the number of local partials its VJP or JVP applies (nonzeros of J_i,Pa(i)).

    One per operand for scalar elementwise nodes; otherwise the primitive's
    ``node_multiply_adds`` of the node's shapes and parameters, computed once per distinct
    combination of primitive, shapes and parameters.
    """
    counts = np.zeros(len(graph), np.int64)
    scalar = scalar_elementwise(graph)
    counts[scalar] = np.diff(graph.parent_ptr)[scalar]
    rest = ~graph.is_source
    rest[scalar] = False
    rest = np.flatnonzero(rest).tolist()
    if not rest:
        return counts
    # plain lists: the loop reads single entries, where numpy scalars are slow
    op, shape_id, param_id = graph.op.tolist(), graph.shape_id.tolist(), graph.param_id.tolist()
    ptr, idx = graph.parent_ptr.tolist(), graph.parent_idx.tolist()
    known: dict = {}
    for i in rest:
        parents = idx[ptr[i]:ptr[i + 1]]
        key = (op[i], shape_id[i], param_id[i], *[shape_id[j] for j in parents])
        if key not in known:
            shapes = [graph.shape_table[shape_id[j]] for j in parents]
            known[key] = graph.primitives[op[i]].node_multiply_adds(
                graph.shape_table[shape_id[i]], *shapes, **graph.param_table[param_id[i]])
        counts[i] = known[key]
    return counts
