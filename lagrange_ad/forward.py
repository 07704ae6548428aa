"""Forward propagation: the values ``v`` at which the program's constraints hold.

The lecture's pseudocode, with the point checked at the boundary::

    v_i <- x_i                       for the inputs
    for i in topological order:  v_i <- p_i(<v_Pa(i)>)

Every primitive application is guarded: a point outside the primitive's domain raises
`DomainError` and a NaN or infinity raises `NonFiniteError`, both naming the node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from .errors import CyclicGraphError, DomainError, GraphError, NonFiniteError, ShapeError
from .graph import Graph
from .primitives import Primitive


def apply_primitive(primitive: Primitive, xs: Sequence, params: dict,
                    where: Callable[[], str]) -> np.ndarray:
    """``p(xs)`` with its domain and finiteness checked; ``where()`` names the node on error."""
    with np.errstate(all="ignore"):
        return _checked(primitive, xs, params, where)


def _checked(primitive: Primitive, xs: Sequence, params: dict, where: Callable[[], str]):
    """`apply_primitive` without the floating-point state change (the caller sets it once)."""
    if primitive.domain is not None:
        problem = primitive.domain(*xs, **params)
        if problem is not None:
            raise DomainError(f"{where()}: {problem}")
    ans = primitive.evaluate(*xs, **params)
    finite = math.isfinite(ans) if np.ndim(ans) == 0 else np.isfinite(ans).all()
    if not finite:
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
    values: list = [None] * len(graph)
    for i, x in enumerate(check_point(graph, point)):
        v[offsets[i]:offsets[i + 1]] = x.ravel()
        values[i] = x
    ptr, idx = graph.parent_ptr.tolist(), graph.parent_idx.tolist()
    primitives = [graph.primitives[k] for k in range(len(graph.op_names))]
    op, param_id, shape_id = graph.op.tolist(), graph.param_id.tolist(), graph.shape_id.tolist()
    params, shapes = graph.param_table, graph.shape_table
    with np.errstate(all="ignore"):
        for i in graph.topological_order().tolist():
            if i < graph.n_inputs:
                continue
            xs = [values[j] for j in idx[ptr[i]:ptr[i + 1]]]
            ans = _checked(primitives[op[i]], xs, params[param_id[i]],
                           lambda i=i: f"node {graph.describe(i)}")
            if shapes[shape_id[i]]:
                ans = np.reshape(ans, shapes[shape_id[i]])
            values[i] = ans
    for i in range(graph.n_inputs, len(graph)):
        v[offsets[i]:offsets[i + 1]] = np.ravel(values[i])
    return v
