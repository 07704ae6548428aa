"""Forward propagation: the values ``v`` at which the program's constraints hold.

The lecture's pseudocode, with the point checked at the boundary::

    v_i <- x_i                       for the inputs
    for i in topological order:  v_i <- p_i(<v_Pa(i)>)

Every primitive application is guarded: a point outside the primitive's domain raises
`DomainError` and a NaN or infinity raises `NonFiniteError`, both naming the node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .errors import CyclicGraphError, DomainError, GraphError, NonFiniteError, ShapeError
from .graph import Graph
from .primitives import Primitive


def apply_primitive(primitive: Primitive, xs: Sequence, params: dict,
                    where: Callable[[], str]) -> np.ndarray:
    """``p(xs)`` with its domain and finiteness checked; ``where()`` names the node on error."""
    if primitive.domain is not None:
        problem = primitive.domain(*xs, **params)
        if problem is not None:
            raise DomainError(f"{where()}: {problem}")
    with np.errstate(all="ignore"):
        ans = primitive.evaluate(*xs, **params)
    if not np.all(np.isfinite(ans)):
        bad = "NaN" if np.any(np.isnan(ans)) else "infinity"
        operands = ", ".join(_brief(x) for x in xs)
        raise NonFiniteError(f"{where()}: {primitive.name} produced {bad} from operands {operands}")
    return ans


def _brief(x) -> str:
    x = np.asarray(x)
    if x.size <= 4:
        return np.array2string(x, precision=6)
    return f"array of shape {x.shape} (min {x.min():.3g}, max {x.max():.3g})"


def check_point(graph: Graph, point: Sequence) -> list[np.ndarray]:
    """The input values as float64 arrays, checked against the inputs' count and shapes."""
    if len(point) != graph.n_inputs:
        raise GraphError(f"the graph has {graph.n_inputs} input(s) but {len(point)} value(s) "
                         f"were given")
    values = []
    for i, x in enumerate(point):
        try:
            x = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise GraphError(f"input {graph.name(i)}: {x!r} is not a number or array of "
                             f"numbers") from None
        if x.shape != graph.shape(i):
            raise ShapeError(f"input {graph.name(i)} has shape {graph.shape(i)} but the value "
                             f"given has shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise NonFiniteError(f"input {graph.name(i)} contains NaN or infinity: {_brief(x)}")
        values.append(x)
    return values


def forward_propagate(graph: Graph, point: Sequence) -> np.ndarray:
    """All node values, concatenated in node order into one float64 vector.

    Raises `CyclicGraphError` for graphs with cycles, whose values are a fixed point instead.
    """
    if not graph.is_acyclic:
        raise CyclicGraphError(graph._cycle_message())
    offsets = graph.offsets
    v = np.empty(graph.total_size, dtype=np.float64)
    views = [None] * len(graph)
    for i, x in enumerate(check_point(graph, point)):
        v[offsets[i]:offsets[i + 1]] = x.ravel()
        views[i] = x
    ptr, idx, primitives, op = graph.parent_ptr, graph.parent_idx, graph.primitives, graph.op
    for i in graph.topological_order().tolist():
        if i < graph.n_inputs:
            continue
        xs = [views[j] for j in idx[ptr[i]:ptr[i + 1]]]
        ans = apply_primitive(primitives[op[i]], xs, graph.params(i),
                              lambda i=i: f"node {graph.describe(i)}")
        v[offsets[i]:offsets[i + 1]] = np.ravel(ans)
        views[i] = v[offsets[i]:offsets[i + 1]].reshape(graph.shape(i))
    return v
