"""``la.fixed_point``: a cycle written inside a traced function.

``h = la.fixed_point(fn, init, *params)`` returns the h with ``h = fn(h, *params)``. While
tracing, the nodes that ``fn`` records depend on h and h is their result, so the graph gets a
cycle; its value is solved in place by the same fixed-point solvers as `Program` uses, and the
trace continues from the fixed point. Outside tracing it simply returns the fixed point.
The derivative of everything downstream with respect to ``params`` then comes from the
KKT system of the cyclic graph (the implicit function theorem), not from unrolling.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import LagrangeADError
from ..program.cycles import ComponentMap, solve_component
from ..program.values import NodeEvaluator, component_jacobian
from .tape import Traced, as_float_array, record
from .tracer import trace


def fixed_point(fn: Callable, init, *params, method: str = "picard", tol: float = 1e-14,
                maxiter: int = 1000, memory: int = 5):
    """The fixed point ``h = fn(h, *params)``, starting the iteration at ``init``.

    Parameters
    ----------
    fn : callable
        ``fn(h, *params)``, written with operators and ``la.`` functions; numpy constants
        captured by it are allowed.
    init : array_like
        The starting value, which also fixes h's shape.
    *params : array_like or traced values
        The quantities h depends on; traced ones are differentiated through the fixed point.
    method, tol, maxiter, memory
        The fixed-point solver (see `lagrange_ad.program.cycles`).

    Returns
    -------
    Tracer or ndarray
        h (a traced value when any parameter is traced).

    Raises
    ------
    ConvergenceError
        When no fixed point is found; the message gives the estimated spectral radius.

    Examples
    --------
    >>> import numpy as np, lagrange_ad as la
    >>> f = lambda a: la.fixed_point(lambda h, a: a * la.cos(h), 0.5, a)
    >>> g = la.grad(f)(0.8)[0]
    >>> h = float(f(0.8))
    >>> bool(np.isclose(g, np.cos(h) / (1 + 0.8 * np.sin(h))))
    True
    """
    start = as_float_array(init, "the initial value of fixed_point")
    traced = [p for p in params if isinstance(p, Traced)]
    options = {"method": method, "tol": tol, "maxiter": maxiter, "memory": memory}
    if not traced:
        graph = trace(lambda *args: fixed_point(fn, start, *args, **options),
                      *[as_float_array(p, "a parameter of fixed_point") for p in params])
        from ..program.program import Program

        return Program(graph).output_value
    tape = traced[0].tape
    if any(p.tape is not tape for p in traced):
        raise LagrangeADError("fixed_point: parameters belong to different traces")
    builder = tape.builder
    h = tape.add(builder.declare(start.shape, initial=start), start)
    first = len(builder)
    out = fn(tape.tracer(tape, h), *params)
    if not isinstance(out, Traced) or out.tape is not tape:
        raise LagrangeADError("fixed_point: fn must return a value computed from h or the "
                              "traced parameters")
    if out.shape != start.shape:
        raise LagrangeADError(f"fixed_point: fn returns shape {out.shape} but h has "
                              f"shape {start.shape}")
    if out.node < first or out.node != len(builder) - 1:
        # a node of its own, recorded last, to close the cycle with (fn may return an earlier
        # value, or record more after its result)
        out = record("mul", out, 1.0)
    builder.define_as_last(h)
    tape.drop_last()
    tape.settle(len(builder) - 1)  # the first iterate: fn's nodes at h = init
    graph = builder.build(output=h)
    evaluate = NodeEvaluator(graph)
    cycle = next(c for c in graph.strongly_connected_components() if h in c)
    solve_component(ComponentMap(graph, cycle, tape.values, evaluate),
                    jacobian=lambda: component_jacobian(graph, tape.values, cycle), **options)
    # nodes fn recorded off the cycle (downstream of h inside fn) follow the fixed point
    on_cycle = set(cycle.tolist())
    with np.errstate(all="ignore"):
        for i in range(first, len(builder)):
            if i not in on_cycle:
                tape.values[i] = np.reshape(evaluate(i, tape.values), graph.shape(i))
    return tape.tracer(tape, h)
