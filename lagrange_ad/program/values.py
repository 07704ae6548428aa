"""Forward propagation: the values ``v`` at which the program's constraints hold.

The lecture's pseudocode, with the point checked at the boundary::

    v_i <- x_i                       for the inputs
    for i in topological order:  v_i <- p_i(v_Pa(i))

`forward_propagate` is that loop. On a graph with cycles there is no topological order of the
nodes, but there is one of its strongly connected components: the loop visits the components
in that order, and a component that is a cycle is solved as a fixed point ``v_C = P(v_C)`` by
`solve_cycle` (see `lagrange_ad.program.cycles`).

Every primitive application is guarded: a point outside the primitive's domain raises
`DomainError` and a NaN or infinity raises `NonFiniteError`, both naming the node.

`forward_values` is the entry point the rest of the library calls: the one place where an
accelerator of task ``"forward"`` (see `lagrange_ad.accel.dispatch`) may replace the loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..accel.dispatch import accelerator_for
from ..errors import DomainError, GraphError, NonFiniteError, ShapeError
from ..graph.graph import Graph
from ..primitives import Primitive
from .assembly import assemble_jacobian
from .cycles import ComponentMap, FixedPointReport, solve_component
from .vectors import NodeVector, all_finite


def apply_primitive(primitive: Primitive, xs: Sequence, params: dict,
                    where: Callable[[], str]) -> np.ndarray:
    """``p(xs)`` with its domain and finiteness checked; ``where()`` names the node on error."""
    with np.errstate(all="ignore"):
        return _checked(primitive, xs, params, where)


def _checked(primitive: Primitive, xs: Sequence, params: dict, where: Callable[[], str]):
    """`apply_primitive` without the floating-point state change (the caller sets it once)."""
    if primitive.domain is not None:
        refusal = primitive.domain(*xs, **params)
        if refusal is not None:
            raise DomainError(f"{where()}: {refusal}")
    ans = primitive.evaluate(*xs, **params)
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
    """The input values as float64 arrays, checked against the inputs' count and shapes.

    An empty ``point`` stands for the one recorded by `trace` (``graph.point``).
    """
    if not point and graph.n_inputs:
        if graph.point is None:
            raise GraphError("this graph records no point: pass one value per input, "
                             "Program(graph, x1, x2, ...)")
        point = graph.point
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
    """``p_i(v_Pa(i))`` for one node i, read from a list holding every node's current value,
    checked and shaped like the node. The graph's columns are read once, as plain lists."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.ptr, self.idx = graph.parent_ptr.tolist(), graph.parent_idx.tolist()
        self.primitives = [graph.primitives[k] for k in graph.op.tolist()]
        self.params = [graph.param_table[k] for k in graph.param_id.tolist()]
        self.shapes = [graph.shape_table[k] for k in graph.shape_id.tolist()]

    def __call__(self, i: int, values: list):
        xs = [values[j] for j in self.idx[self.ptr[i]:self.ptr[i + 1]]]
        ans = _checked(self.primitives[i], xs, self.params[i],
                       lambda: f"node {self.graph.describe(i)}")
        # a number stays a number; an array is viewed with the node's shape when it differs
        return ans if np.shape(ans) == self.shapes[i] else np.reshape(ans, self.shapes[i])


class Forward(NamedTuple):
    """The result of forward propagation.

    ``jacobian``, when an accelerator computed the local partials along with the values,
    makes J from them (`Program.local_jacobian` uses it instead of assembling J anew).
    """

    values: NodeVector
    fixed_points: tuple[FixedPointReport, ...]
    jacobian: Callable | None = None


@dataclass(frozen=True)
class Reads:
    """What will be read after a forward pass, so that an accelerator computes no more.

    Attributes
    ----------
    partials : bool
        Whether the local partials (J) at the values will be read; `la.trace` reads none.
    schedule : str or None
        The schedule that will solve the program, when known.
    options : tuple of (str, object)
        That schedule's options, as sorted pairs.
    """

    partials: bool = True
    schedule: str | None = None
    options: tuple = ()

    @classmethod
    def by_schedule(cls, schedule: str, options: dict) -> Reads:
        """The reads of solving with ``schedule`` and ``options`` (and its partials)."""
        return cls(True, schedule, tuple(sorted(options.items())))


def forward_values(graph: Graph, point: Sequence, fixed_point: dict | None = None,
                   reads: Reads = Reads()) -> Forward:
    """The values of ``graph`` at a checked ``point`` (see `check_point`).

    The dispatcher's accelerator of task ``"forward"`` for ``(graph, reads)`` computes them
    when there is one and it does not decline (returns None, as a compiled loop does when a
    value is not finite, so that the checked loop names the node); otherwise
    `forward_propagate` does. An accelerator may leave out values nobody will read (then
    missing from the `NodeVector`).
    """
    accelerator = accelerator_for("forward", graph, reads)
    if accelerator is not None:
        forward = accelerator.run(graph, point, fixed_point, reads)
        if forward is not None:
            return forward
    return forward_propagate(graph, point, fixed_point)


def forward_propagate(graph: Graph, point: Sequence, fixed_point: dict | None = None) -> Forward:
    """Every node value at a checked ``point``: the lecture's loop, component by component.

    The strongly connected components are visited in topological order (on a DAG each node
    is one, in `Graph.topological_order`); a node gets ``v_i <- p_i(v_Pa(i))``, a cycle the
    fixed point that `solve_cycle` finds with the options ``fixed_point`` (method, tol,
    maxiter, memory).
    """
    evaluate = NodeEvaluator(graph)
    values: list = [None] * len(graph)
    values[:graph.n_inputs] = point
    reports = []
    with np.errstate(all="ignore"):
        for component in _components(graph):
            if _is_cycle(graph, component):
                reports.append(solve_cycle(graph, component, values, evaluate, fixed_point))
            elif component[0] >= graph.n_inputs:
                values[component[0]] = evaluate(component[0], values)
    return Forward(node_vector(graph, values), tuple(reports))


def _components(graph: Graph):
    """The strongly connected components in topological order, as lists of node indices."""
    if graph.is_acyclic:
        return ([i] for i in graph.topological_order().tolist())
    return (c.tolist() for c in graph.strongly_connected_components())


def _is_cycle(graph: Graph, component: list[int]) -> bool:
    return len(component) > 1 or component[0] in graph.parents(component[0])


def solve_cycle(graph: Graph, component: list[int], values: list, evaluate: NodeEvaluator,
                options: dict | None = None) -> FixedPointReport:
    """The values of a cyclic component C, ``v_C = P(v_C)``, written into ``values``.

    The iteration starts from the graph's ``initial`` values (zeros where none is given); the
    values outside C that it reads are already known.
    """
    for j in component:
        values[j] = np.array(graph.initial.get(j, np.zeros(graph.shape(j))), np.float64)
    nodes = np.array(component, np.int64)
    return solve_component(ComponentMap(graph, nodes, values, evaluate),
                           jacobian=lambda: component_jacobian(graph, values, nodes),
                           **(options or {}))


def node_vector(graph: Graph, values: list, missing: str = "") -> NodeVector:
    """One node value per entry of a list (None where not computed, for reason ``missing``)."""
    return NodeVector.from_blocks(graph, values, missing)


def component_jacobian(graph: Graph, values: list, component: np.ndarray):
    """``J_CC``: the local Jacobian of a component with respect to itself, at ``values``."""
    entries = np.concatenate([np.arange(graph.offsets[i], graph.offsets[i + 1])
                              for i in component.tolist()])
    # nodes after the component have no value yet; its rows of J do not read them
    known = [np.zeros(graph.shape(i)) if x is None else x for i, x in enumerate(values)]
    jac = assemble_jacobian(node_vector(graph, known), component)
    return jac[entries][:, entries]
