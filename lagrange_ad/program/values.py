"""Forward propagation: the values ``v`` at which the program's constraints hold.

The lecture's pseudocode, with the point checked at the boundary::

    v_i <- x_i                       for the inputs
    for i in topological order:  v_i <- p_i(<v_Pa(i)>)

Every primitive application is guarded: a point outside the primitive's domain raises
`DomainError` and a NaN or infinity raises `NonFiniteError`, both naming the node.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from ..accel import compiled as kernels
from ..errors import DomainError, GraphError, LagrangeADError, NonFiniteError, ShapeError
from ..graph.graph import Graph
from ..primitives import Primitive
from .assembly import assemble_jacobian, jacobian_is_sparse
from .cycles import ComponentMap, solve_component
from .vectors import NodeVector, all_finite


def apply_primitive(primitive: Primitive, xs: Sequence, params: dict,
                    where: Callable[[], str]) -> np.ndarray:
    """``p(xs)`` with its domain and finiteness checked; ``where()`` names the node on error."""
    with np.errstate(all="ignore"):
        return _checked(primitive, xs, params, where)


def _checked(primitive: Primitive, xs: Sequence, params: dict, where: Callable[[], str],
             out: np.ndarray | None = None):
    """`apply_primitive` without the floating-point state change (the caller sets it once).

    ``out``, for primitives evaluated by a numpy ufunc, is an array to write the value into.
    """
    if primitive.domain is not None:
        problem = primitive.domain(*xs, **params)
        if problem is not None:
            raise DomainError(f"{where()}: {problem}")
    ans = primitive.evaluate(*xs, **params) if out is None else \
        primitive.evaluate(*xs, out=out, **params)
    finite = math.isfinite(ans) if np.ndim(ans) == 0 else all_finite(ans)
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
    own = graph.point or ()
    for i, given in enumerate(point):
        try:
            x = np.asarray(given)
            # numbers only: None would become NaN and strings would be parsed
            if x.dtype.kind not in "biuf":
                raise TypeError
            # a copy, so that later changes to the caller's array leave the values alone; the
            # graph's own point and other read-only float64 arrays (see `la.grad`) need none
            kept = (i < len(own) and given is own[i]) or (
                x is given and x.dtype == np.float64 and not x.flags.writeable)
            x = x if kept else x.astype(np.float64)
        except (TypeError, ValueError):
            raise GraphError(f"input {graph.name(i)}: {given!r} is not a number or array of "
                             f"numbers") from None
        if x.shape != graph.shape(i):
            raise ShapeError(f"input {graph.name(i)} has shape {graph.shape(i)} but the value "
                             f"given has shape {x.shape}")
        if not all_finite(x):
            raise NonFiniteError(f"input {graph.name(i)} contains NaN or infinity: {_brief(x)}")
        values.append(x)
    return values


class NodeEvaluator:
    """Evaluates one node from a list holding every node's current value."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.ptr, self.idx = graph.parent_ptr.tolist(), graph.parent_idx.tolist()
        self.primitives = list(graph.primitives)
        self.op, self.param_id = graph.op.tolist(), graph.param_id.tolist()

    def __call__(self, i: int, values: list, out: np.ndarray | None = None):
        xs = [values[j] for j in self.idx[self.ptr[i]:self.ptr[i + 1]]]
        return _checked(self.primitives[self.op[i]], xs, self.graph.param_table[self.param_id[i]],
                        lambda: f"node {self.graph.describe(i)}", out)

    def writes_in_place(self, i: int) -> bool:
        """Whether node i's primitive is a numpy ufunc, which can write into an array given."""
        evaluate = self.primitives[self.op[i]].evaluate
        return isinstance(evaluate, np.ufunc) and evaluate.nout == 1


def node_vector(graph: Graph, values: list, missing: str = "") -> NodeVector:
    """One node value per entry of a list, as a `NodeVector`.

    Scalar graphs become one flat vector; other graphs keep their arrays node by node, since
    copying large blocks into one buffer would cost as much as computing them. ``missing``
    says why a None entry was not kept.
    """
    if graph.shape_table != ((),):
        return NodeVector.from_blocks(graph, values, missing)
    return NodeVector(graph, np.array(values, np.float64).reshape(len(graph)), copy=False)


class Forward(NamedTuple):
    """The result of forward propagation."""

    values: NodeVector
    fixed_points: tuple
    partials: np.ndarray | None  # per edge, when the compiled loop computed them


KEEPS = ("all", "gradient")
DROPPED = ("the program keeps only the values that the gradient-only reverse sweep reads "
           "(keep='gradient')")


def kept_values(graph: Graph, keep: str) -> np.ndarray | None:
    """Which node values a forward pass keeps: all (None), or with ``keep="gradient"`` those
    that the reverse sweep by VJP rules reads for the gradient (`Graph.gradient_reads`).

    Graphs swept over the assembled J (`jacobian_is_sparse`) and graphs with cycles keep all.
    """
    if keep not in KEEPS:
        raise LagrangeADError(f"keep={keep!r} is unknown; use one of: "
                              f"{', '.join(map(repr, KEEPS))}")
    if keep == "all" or graph.shape_table == ((),) or not graph.is_acyclic \
            or jacobian_is_sparse(graph):
        return None
    return graph.gradient_reads


def forward_propagate(graph: Graph, point: Sequence, fixed_point: dict | None = None,
                      compiled: bool = True, point_checked: bool = False,
                      partials: bool = True, keep: np.ndarray | None = None) -> Forward:
    """All node values, as a `NodeVector` (flat for scalar graphs).

    On a DAG this is the lecture's loop in topological order; scalar graphs of elementwise
    primitives run it compiled (`lagrange_ad.accel.compiled`), which also returns every local
    partial. On a graph with cycles the strongly connected components are visited in
    topological order of the condensation and each cyclic one is solved as a fixed point
    (`lagrange_ad.program.cycles`), with the options in ``fixed_point`` (method, tol, maxiter,
    memory). ``compiled=False`` forces the checked Python loop. ``point_checked`` says the
    caller has already checked the point (float64 arrays of the inputs' shapes, all finite).
    ``partials=False`` skips the local partials the compiled loop would also return.

    ``keep`` (one flag per node, see `kept_values`) lets the loop over a DAG of arrays free
    each other value after its last use: those come back missing from the `NodeVector`.
    """
    checked = list(point) if point_checked else check_point(graph, point)
    if compiled and kernels.available(graph):
        result = kernels.forward_scalar(graph, checked, with_partials=partials)
        if result is not None:
            return Forward(NodeVector(graph, result[0], copy=False), (),
                           result[1] if partials else None)
        # a value or partial is not finite: the checked loop below names the node
    evaluate = NodeEvaluator(graph)
    values: list = [None] * len(graph)
    for i, x in enumerate(checked):
        values[i] = x
    shapes = [graph.shape(i) for i in range(len(graph))] if graph.shape_table != ((),) else None
    reports = []
    with np.errstate(all="ignore"):
        if graph.is_acyclic:
            freed = _freed_after(graph, keep)
            try:
                for position, i in enumerate(graph.topological_order().tolist()):
                    last = freed.get(position, ())
                    if i >= graph.n_inputs:
                        # an operand freed right after this node lends it its memory, as
                        # numpy does with temporaries in ``a @ b + c`` (no name is bound to
                        # values here: `_spare` counts references)
                        values[i] = _node_value(evaluate(i, values, _spare(
                            values, last, shapes[i]) if last and evaluate.writes_in_place(i)
                            else None), shapes, i)
                    for j in last:
                        values[j] = None
            except NonFiniteError:
                if keep is None:
                    raise
                # the report shows the operands, one of which may have been overwritten: the
                # loop keeping every value raises it again, with them
                return forward_propagate(graph, checked, point_checked=True, compiled=False)
            return Forward(node_vector(graph, values, DROPPED), (), None)
        for component in graph.strongly_connected_components():
            i = int(component[0])
            if component.size == 1 and i not in graph.parents(i):
                if i >= graph.n_inputs:
                    values[i] = np.reshape(evaluate(i, values), graph.shape(i))
                continue
            for j in component.tolist():
                values[j] = np.array(graph.initial.get(j, np.zeros(graph.shape(j))), np.float64)
            cycle = ComponentMap(graph, component, values, evaluate)
            reports.append(solve_component(
                cycle, jacobian=lambda c=component: component_jacobian(graph, values, c),
                **(fixed_point or {})))
    return Forward(node_vector(graph, values), tuple(reports), None)


def _node_value(ans, shapes: list | None, i: int):
    """A primitive's result as node i's value: an array of the node's shape (scalar graphs:
    as it is). An array that already has the shape is kept, not viewed."""
    if shapes is None or (isinstance(ans, np.ndarray) and ans.shape == shapes[i]):
        return ans
    return np.reshape(ans, shapes[i])


def _spare(values: list, candidates: Sequence[int], shape: tuple) -> np.ndarray | None:
    """A value among ``candidates`` (about to be freed) that can take a result of ``shape``.

    It must be a float64 array of that shape owning its memory (not a view of a value that
    is kept), and referenced by the list alone: ``getrefcount`` counts the list, the name
    here and its own argument.
    """
    for j in candidates:
        x = values[j]
        if isinstance(x, np.ndarray) and x.shape == shape and x.dtype == np.float64 \
                and x.flags.writeable and x.flags.owndata and sys.getrefcount(x) <= 3:
            return x
    return None


def _freed_after(graph: Graph, keep: np.ndarray | None) -> dict:
    """Position in topological order -> the values not kept whose last use is there."""
    freed: dict = {}
    if keep is not None:
        for j in np.flatnonzero(~keep).tolist():
            freed.setdefault(int(graph.last_use[j]), []).append(j)
    return freed


def component_jacobian(graph: Graph, values: list, component: np.ndarray):
    """``J_CC``: the local Jacobian of a component with respect to itself, at ``values``."""
    entries = np.concatenate([np.arange(graph.offsets[i], graph.offsets[i + 1])
                              for i in component.tolist()])
    # nodes after the component have no value yet; its rows of J do not read them
    known = [np.zeros(graph.shape(i)) if x is None else x for i, x in enumerate(values)]
    jac = assemble_jacobian(node_vector(graph, known), component)
    return jac[entries][:, entries]
