"""``la.grad``: the familiar shortcut, trace -> program -> solve.

The steps are those of the library's layers: `trace` records the graph (skipped when given a
graph), `forward_values` computes the values the solve will read, `Program` holds them, and
the schedule solves ``A^T lam = e_N``, whose input multipliers are the gradient. Which values
the forward pass keeps is decided by the plan the dispatcher picks for what the schedule will
read (`lagrange_ad.accel.dispatch`), never here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .graph.graph import Graph
from .program.program import Program
from .program.values import Reads, check_point, forward_values
from .schedules import get_schedule, solve
from .schedules.registry import require_converged
from .tracing.tracer import traced_program


def grad(f: Callable | Graph, method: str = "reverse",
         **options) -> Callable[..., tuple[np.ndarray, ...]]:
    """The gradient function of a scalar-valued ``f``, or of a traced graph.

    Parameters
    ----------
    f : callable or Graph
        A function of numbers or arrays written with operators and ``la.`` functions, traced
        anew at every call; or a graph (from `trace`), whose program is evaluated at each
        point given, without tracing again.
    method : str
        The schedule that solves the KKT system (``"reverse"`` is backpropagation).
    **options
        Passed to the schedule.

    Returns
    -------
    callable
        ``g(*args)`` returns a tuple with one array per argument, shaped like it: the
        multipliers of the input constraints of ``f``'s program at ``args`` (read-only
        arrays; copy one to change it).

    Raises
    ------
    ConvergenceError
        When an iterative schedule stops at its iteration cap before converging.

    Notes
    -----
    With a schedule that has the options, ``check=False`` (no KKT residual) and
    ``gradient_only=True`` (the multipliers of the inputs alone, and none formed for data
    matrices, which depend on no input) are the defaults; pass ``check=True`` for the
    residual. The arguments are read in place during the call, not copied.

    A graph stands for the function it was traced from only where that function takes the
    same path through its code (no branch on the values). Tracing once and differentiating
    the graph at many points saves the recording, which is the cost that remains for small
    tensor programs such as a training step.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> g = la.grad(lambda x, y, z: z + la.sin(x**2 + y * la.exp(z)))
    >>> [round(float(d), 4) for d in g(2.0, -1.0, 0.0)]
    [-3.96, -0.99, 1.99]
    >>> graph = la.trace(lambda x, y, z: z + la.sin(x**2 + y * la.exp(z)), 2.0, -1.0, 0.0)
    >>> [round(float(d), 4) for d in la.grad(graph)(1.0, 1.0, 0.0)]
    [-0.8323, -0.4161, 0.5839]
    """

    schedule = get_schedule(method)
    # the shortcut wants the gradient only: skip the KKT residual (a second sweep's work) and
    # the multipliers no input depends on, where the schedule has those options
    shortcuts = {"check": False, "gradient_only": not options.get("check", False)}
    options = {**{k: v for k, v in shortcuts.items() if k in schedule.options}, **options}
    # what the solve will read: the forward plan the dispatcher picks may keep only that
    reads = Reads.by_schedule(schedule.name, options)

    program_at, name = program_builder(f, reads)

    def gradient(*args) -> tuple[np.ndarray, ...]:
        # the program lives only for this call and never writes to its point, so float64
        # arguments are read through read-only views instead of copies
        solution = solve(program_at(*args), schedule, **options)
        return require_converged(solution).gradient

    gradient.__name__ = f"grad_{name}"
    gradient.__doc__ = f"Gradient of {name} by the {method!r} schedule."
    return gradient


def program_builder(f: Callable | Graph, reads: Reads) -> tuple[Callable[..., Program], str]:
    """``program_at(*args)``, the program of ``f`` at a point, and a name for ``f``.

    A function is traced anew at each point; a graph is evaluated at it without tracing.
    ``reads`` is what the solve will read, which tells the forward plan what to keep.
    """
    if isinstance(f, Graph):
        def program_at(*args) -> Program:
            point = tuple(check_point(f, tuple(map(_read_only, args))))
            return Program.from_forward(f, point, forward_values(f, point, reads=reads))
        return program_at, "graph"

    def traced_at(*args) -> Program:
        graph, forward = traced_program(f, *map(_read_only, args), reads=reads)
        return Program.from_forward(graph, graph.point, forward)
    return traced_at, getattr(f, "__name__", "f")


def _read_only(x):
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        view = x.view()
        view.flags.writeable = False
        return view
    return x
