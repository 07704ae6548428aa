"""Validation of a graph's arrays at the boundary: structure first, then every node's rules.

A graph that fails says which node, what it holds and what was expected. `GraphBuilder` checks
each node as it is added, so the graphs it builds are trusted and skip these checks.
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError, ShapeError
from ..primitives import lookup
from .readonly import index_value


def check_structure(graph) -> None:
    """The CSR parent lists, the table indices, the inputs and the arity of every node."""
    n = len(graph)
    ptr = graph.parent_ptr
    if ptr.shape != (n + 1,) or ptr[0] != 0 or ptr[-1] != graph.parent_idx.size \
            or np.any(np.diff(ptr) < 0):
        raise GraphError("parent_ptr must start at 0, never decrease and end at "
                         "len(parent_idx)")
    for name, ids, table in (("op", graph.op, graph.op_names),
                             ("shape_id", graph.shape_id, graph.shape_table),
                             ("param_id", graph.param_id, graph.param_table)):
        if ids.shape != (n,) or (n and (ids.min() < 0 or ids.max() >= len(table))):
            raise GraphError(f"{name} must hold one valid table index per node")
    if not 0 <= graph.n_inputs <= n:
        raise GraphError(f"n_inputs = {graph.n_inputs} is not between 0 and {n}")
    if not 0 <= graph.output < n:
        raise GraphError(f"output node v{graph.output} does not exist (the graph has {n} nodes)")
    for i in graph.names:
        if not 0 <= index_value(i, "a named node") < n:
            raise GraphError(f"names: node v{i} does not exist (the graph has {n} nodes)")
    for i, path in graph.scopes.items():
        if not 0 <= index_value(i, "a scoped node") < n:
            raise GraphError(f"scopes: node v{i} does not exist (the graph has {n} nodes)")
        if not isinstance(path, str) or not path:
            raise GraphError(f"scopes: the scope of node v{i} must be a non-empty string such "
                             f"as 'layers.0'; got {path!r}")
    bad = np.flatnonzero((graph.parent_idx < 0) | (graph.parent_idx >= n))
    if bad.size:
        child = int(np.searchsorted(graph.parent_ptr, bad[0], side="right") - 1)
        raise GraphError(f"node v{child} names parent v{graph.parent_idx[bad[0]]}, "
                         f"which does not exist (nodes are v0..v{n - 1})")
    is_input = np.array([name == "input" for name in graph.op_names])[graph.op] \
        if n else np.zeros(0, bool)
    misplaced = np.flatnonzero(is_input != (np.arange(n) < graph.n_inputs))
    if misplaced.size:
        i = int(misplaced[0])
        raise GraphError(f"inputs must be nodes v0..v{graph.n_inputs - 1}; node v{i} is "
                         f"{'an input' if is_input[i] else 'not an input'}")
    arity = np.array([lookup(name).arity if lookup(name).arity is not None else -1
                      for name in graph.op_names], np.int64)
    counts = np.diff(graph.parent_ptr)
    expected = arity[graph.op] if n else np.zeros(0, np.int64)
    wrong = np.flatnonzero(((expected >= 0) & (counts != expected))
                           | ((expected < 0) & (counts < 1)))
    if wrong.size:
        i = int(wrong[0])
        want = "at least 1" if expected[i] < 0 else str(expected[i])
        raise GraphError(f"node v{i}: primitive {graph.op_names[graph.op[i]]!r} takes {want} "
                         f"operand(s), got {counts[i]}")


def check_node(graph, i: int) -> None:
    """Raise `GraphError` or `ShapeError` unless node i's parameters are ones its primitive
    takes and its declared shape is the one the primitive's shape rule gives."""
    primitive, params = graph.primitive(i), graph.params(i)
    refusal = primitive.params_problem(params)
    if refusal:
        raise GraphError(f"node v{i}: primitive {primitive.name!r} {refusal}")
    operand_shapes = [graph.shape(j) for j in graph.parents(i)]
    try:
        expected = tuple(primitive.shape(*operand_shapes, **params))
    except ShapeError as exc:
        raise ShapeError(f"node {graph.equation(i)}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise GraphError(f"node v{i}: primitive {primitive.name}: bad parameters "
                         f"{dict(params)}: {exc}") from None
    if expected != graph.shape(i):
        raise ShapeError(f"node {graph.equation(i)} is declared with shape {graph.shape(i)} "
                         f"but {primitive.name} of shapes {operand_shapes} gives {expected}")
