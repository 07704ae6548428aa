"""Tracing: running a Python function on traced values records its computation graph.

``la.trace(f, *args)`` evaluates ``f`` at ``args`` with every argument a `Tracer` (a float64
ndarray stand-in, `numpy_api`). Each operator, numpy function, method and ``la.`` function
applied to a traced value adds one node through `Tape.record` (`tape`). Values are computed
when first read (so Python control flow sees real numbers) and otherwise once at the end.
numpy arrays and numbers met along the way become constant nodes (one per distinct Python
number).

Which tape records is chosen once per trace, in `new_tape`, through the dispatcher
(`lagrange_ad.accel.dispatch`, task ``"record"``): the reference `Tape`, or an accelerator
that records the same nodes faster (`lagrange_ad.accel.recording` for scalar programs).
"""

from __future__ import annotations

import contextlib
import gc
import inspect
from collections.abc import Callable

from ..accel.dispatch import accelerator_for
from ..errors import GraphError, LagrangeADError
from ..graph.graph import Graph
from ..program.values import Forward, Reads, forward_values, node_vector
from .functions.core import lift
from .interception import names_intercepted
from .numpy_api import Tracer
from .tape import Tape, finite_array

__all__ = ["Tape", "Tracer", "new_tape", "trace", "traced_program"]


def new_tape(point: list) -> Tape:
    """The tape of a trace at ``point``: an accelerator's (task "record") or the reference one.

    The accelerator's ``run()`` returns a fresh tape that records the same nodes as `Tape`.
    """
    accelerator = accelerator_for("record", point)
    return accelerator.run() if accelerator is not None else Tape(Tracer)


def trace(f: Callable, *args, names: list[str] | None = None) -> Graph:
    """Record the computation graph of ``f`` at ``args``.

    Parameters
    ----------
    f : callable
        A function of arrays written with Python operators and ``la.`` functions.
    *args : array_like
        The point: one value (number or array) per argument; each becomes an input node.
    names : list of str, optional
        Input names; by default the parameter names of ``f``.

    Returns
    -------
    Graph
        The graph, whose output is the value ``f`` returns and whose ``point`` is ``args``.

    Notes
    -----
    Python's cyclic garbage collector is paused while ``f`` runs (see `collector_paused`):
    on long traces its passes over the growing set of tracers would cost more than the
    recording. Reference counting still frees everything that is not in a cycle.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> graph = la.trace(lambda x, y, z: z + la.sin(x**2 + y * la.exp(z)), 2.0, -1.0, 0.0)
    >>> print(graph)
    v0 = input x
    v1 = input y
    v2 = input z
    v3 = v0 ** 2.0
    v4 = exp(v2)
    v5 = v1 * v4
    v6 = v3 + v5
    v7 = sin(v6)
    v8 = v2 + v7
    output: v8
    """
    return traced_program(f, *args, names=names, reads=Reads(partials=False))[0]


def traced_program(f: Callable, *args, names: list[str] | None = None,
                   reads: Reads | None = None):
    """The graph of ``f`` at ``args`` and its forward propagation (computed once, checked).

    ``reads`` says what will be read afterwards (`lagrange_ad.program.values.forward_values`);
    a trace that only wants the graph reads no partials.
    """
    if not callable(f):
        raise LagrangeADError(f"trace needs a function; got {type(f).__name__}")
    names = _argument_names(f, len(args)) if names is None else [str(n) for n in names]
    if len(names) != len(args):
        raise LagrangeADError(f"trace got {len(names)} name(s) for {len(args)} argument(s)")
    point = [finite_array(x, f"argument {k} ({names[k]}) of {getattr(f, '__name__', 'f')}")
             for k, x in enumerate(args)]
    tape = new_tape(point)
    tracers = [tape.input(value, names[k]) for k, value in enumerate(point)]
    with collector_paused(), names_intercepted():
        out = _run(f, tracers)
    out = out if isinstance(out, tuple) else lift(out)  # a tuple is not one output
    if isinstance(out, Tracer):
        if out.tape is not tape:
            raise GraphError("the function returned a value traced by another la.trace call")
        output = out.node
    else:
        output = tape.builder.const(finite_array(out, "the function's result"))
    graph = tape.builder.build(output=output, point=tuple(point))
    if not graph.is_acyclic:
        # the fixed points were solved while tracing, with the options given to fixed_point
        tape.settle(len(graph) - 1)
        return graph, Forward(node_vector(graph, tape.values), (), None)
    # the values recorded lazily are computed here, compiled where possible, with every
    # domain check
    return graph, forward_values(graph, graph.point,
                                 reads=Reads() if reads is None else reads)


def _run(f: Callable, tracers: list):
    """``f(*tracers)``; a library error that numpy turned into its own is raised as it was.

    numpy reports a failure inside its C code (``buffer[0] = x`` calls ``float(x)``) as
    ``ValueError: setting an array element with a sequence``, with our error as the cause.
    """
    try:
        return f(*tracers)
    except LagrangeADError:
        raise
    except Exception as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, LagrangeADError):
            raise cause from exc
        raise


@contextlib.contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector for a block (restored afterwards).

    A trace allocates a tracer per node and frees none until it ends, which sets off a
    collection pass over all of them every few hundred nodes: on long traces those passes cost
    more than the recording. Tracers hold no reference cycles, so nothing is lost by waiting.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _argument_names(f, count: int) -> list[str]:
    try:
        parameters = [p for p in inspect.signature(f).parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        parameters = []
    names = [p.name for p in parameters[:count]]
    return names + [f"x{k}" for k in range(len(names), count)]
