"""Tracing: running a Python function on `Tracer` values records its computation graph.

``la.trace(f, *args)`` evaluates ``f`` at ``args`` with every argument wrapped in a `Tracer`.
Each Python operator (``+ - * / ** @``, unary ``-``, indexing) and each ``la.`` function
applied to a tracer adds one node to the graph. Values are computed when first read (so
Python control flow sees real numbers) and otherwise once at the end, compiled for scalar
graphs, which keeps recording to a few list appends per node. numpy arrays and numbers met
along the way become constant nodes (one per distinct Python number). numpy defers to
tracers: ``ndarray @ tracer`` and ``np.sin(tracer)`` record nodes too.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import inspect
from collections.abc import Callable

import numpy as np

from ..errors import GraphError, LagrangeADError, NonFiniteError
from ..graph.builder import GraphBuilder
from ..graph.graph import Graph
from ..program.values import Forward, apply_primitive, forward_propagate, kept_values, node_vector
from ..program.vectors import all_finite


class Tape:
    """The builder of one trace, and each node's value once it is needed.

    Recording a node stores its kind and parents in the builder's node table; its value is
    computed only when something reads it (control flow, `fixed_point`) or when the trace ends,
    so a long trace costs little more than appending to lists. While every node is a scalar
    (``scalar_only``), operators append scalar nodes of a kind seen before (``fast``: kind by
    primitive name) straight to those lists. Tracers of different traces cannot be mixed.
    """

    __slots__ = ("builder", "kinds", "parents", "values", "known", "constants", "arrays",
                 "fast", "scalar_only")

    def __init__(self):
        self.builder = GraphBuilder()
        table = self.builder.table
        # a trace adds no batches, so node i is kinds[i]: the fast path's index is len(kinds)
        self.kinds, self.parents = table.kinds, table.parents
        self.values: list = []  # values of nodes 0, 1, ... as far as computed
        self.known: dict[int, np.ndarray] = {}  # values of inputs, constants, declared nodes
        self.constants: dict[float, int] = {}  # Python numbers seen, by value
        self.arrays: dict[int, tuple] = {}  # id -> (array, node) of large array constants
        self.fast: dict[str, int] = {}
        self.scalar_only = True

    def add(self, node: int, value: np.ndarray) -> int:
        """Remember the value of a node just added to the builder (input, constant, declared)."""
        self.known[node] = value
        if value.shape:
            self.scalar_only = False
        return node

    def recorded(self, node: int, name: str, primitive, params: dict) -> Tracer:
        """The tracer of a node just recorded; scalar kinds without parameters become fast."""
        if self.scalar_only:
            if self.builder.shape(node):
                self.scalar_only = False
            elif not params and primitive.arity is not None:
                self.fast[name] = self.kinds[node]
        return Tracer(self, node)

    def value(self, node: int):
        """The value of a node, computing those recorded before it first."""
        if node >= len(self.values):
            self.settle(node)
        return self.values[node]

    def settle(self, last: int) -> None:
        """Compute every pending value up to node ``last``, with domain checks."""
        values, builder = self.values, self.builder
        for i in range(len(values), last + 1):
            value = self.known.get(i)
            if value is None:
                primitive, params, operands = builder.step(i)
                value = apply_primitive(primitive, [values[j] for j in operands], params,
                                        lambda i=i: f"node {builder.describe(i)}")
            values.append(value)

    def drop_last(self) -> None:
        """Forget the value of the node the builder just removed."""
        last = len(self.builder)
        del self.values[last:]
        self.known.pop(last, None)

    def constant(self, x, what: str) -> int:
        """The node of a constant operand; one node per distinct Python number.

        A large array used again (a weight matrix applied at every step of a loop) gets its
        node back when it still holds the values it had: comparing reads it once, where a
        new constant would copy and check it.
        """
        if type(x) in (float, int):
            node = self.constants.get(x)
            if node is None:
                node = self.constants[x] = self._new_constant(x, what)
            return node
        seen = self.arrays.get(id(x)) if isinstance(x, np.ndarray) else None
        if seen is not None and seen[0] is x and np.array_equal(x, self.known[seen[1]]):
            return seen[1]
        node = self._new_constant(x, what)
        if isinstance(x, np.ndarray) and x.size > LARGE_CONSTANT:
            self.arrays[id(x)] = (x, node)  # x is held, so its id is not reused
        return node

    def _new_constant(self, x, what: str) -> int:
        node = self.builder.const(finite_array(x, what))
        # the builder's read-only copy, not x: later changes to x must not reach the trace
        return self.add(node, self.builder.step(node)[1]["value"])


LARGE_CONSTANT = 1024  # entries: smaller arrays are copied at every use, which costs less

# a tracer made without calling __init__: a Python call fewer per node on the fast paths
new_tracer = object.__new__


def fast_unary(name: str) -> Callable:
    """Give the function of a one-operand primitive the scalar fast path.

    On a tape that holds only scalars, a node of a kind recorded before is two list appends
    and a tracer; the first node of each kind, and everything else, goes through the decorated
    function (which records with every check).
    """
    def decorate(function: Callable) -> Callable:
        @functools.wraps(function)
        def traced(x):
            if type(x) is Tracer:
                tape = x.tape
                kind = tape.fast.get(name) if tape.scalar_only else None
                if kind is not None:
                    kinds = tape.kinds
                    node = len(kinds)
                    kinds.append(kind)
                    tape.parents.append(x.node)
                    out = new_tracer(Tracer)
                    out.tape = tape
                    out.node = node
                    return out
            return function(x)
        return traced
    return decorate


def fast_binary(name: str, reflected: bool = False) -> Callable:
    """`fast_unary` for a Tracer operator of two operands (the other a tracer or a number)."""
    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def traced(self, other):
            tape = self.tape
            kind = tape.fast.get(name) if tape.scalar_only else None
            if kind is not None:
                if type(other) is Tracer:
                    operand = other.node if other.tape is tape else None
                elif type(other) is float or type(other) is int:
                    operand = tape.constants.get(other)
                else:
                    operand = None
                if operand is not None:
                    kinds = tape.kinds
                    node = len(kinds)
                    kinds.append(kind)
                    parents = tape.parents
                    if reflected:
                        parents.append(operand)
                        parents.append(self.node)
                    else:
                        parents.append(self.node)
                        parents.append(operand)
                    out = new_tracer(Tracer)
                    out.tape = tape
                    out.node = node
                    return out
            return method(self, other)
        return traced
    return decorate


class Tracer:
    """A value being traced: its node in the graph under construction (values on demand)."""

    __slots__ = ("tape", "node")

    def __init__(self, tape: Tape, node: int):
        self.tape = tape
        self.node = node

    @property
    def value(self):
        """The node's value at the traced point (computed when first read)."""
        return self.tape.value(self.node)

    # numpy: defer binary operators to us and route ufuncs and array functions to primitives
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from .functions import UFUNCS

        if method == "__call__" and not kwargs and ufunc in COMPARISONS:
            # ``ndarray < tracer``: comparisons read values, as the operators below do
            return ufunc(*[_value(x) for x in inputs])
        if method != "__call__" or kwargs or ufunc not in UFUNCS:
            raise LagrangeADError(
                f"numpy's {ufunc.__name__} (method {method!r}) cannot be traced; use the "
                f"la. functions (la.sin, la.exp, la.sum, ...) on traced values")
        return UFUNCS[ufunc](*inputs)

    def __array_function__(self, func, types, args, kwargs):
        from .functions import ARRAY_FUNCTIONS

        if func not in ARRAY_FUNCTIONS:
            raise LagrangeADError(
                f"numpy.{func.__name__} cannot be traced; use the la. functions on traced values")
        return ARRAY_FUNCTIONS[func](*args, **kwargs)

    @property
    def shape(self) -> tuple:
        return self.tape.builder.shape(self.node)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a traced scalar")
        return self.shape[0]

    def __iter__(self):
        for k in range(len(self)):
            yield self[k]

    def __repr__(self) -> str:
        return f"Tracer(v{self.node}, value={self.value!r})"

    def __float__(self):
        raise LagrangeADError(
            f"float() of traced value v{self.node} would cut it out of the graph, and its "
            f"derivative would be lost; keep it traced, or use .value to read the number")

    def __bool__(self):
        return bool(self.value)

    # comparisons read values (for control flow); they are not differentiable
    def __lt__(self, other):
        return self.value < _value(other)

    def __le__(self, other):
        return self.value <= _value(other)

    def __gt__(self, other):
        return self.value > _value(other)

    def __ge__(self, other):
        return self.value >= _value(other)

    def __eq__(self, other):
        return self.value == _value(other)

    def __ne__(self, other):
        return self.value != _value(other)

    __hash__ = object.__hash__

    @fast_binary("add")
    def __add__(self, other):
        return record("add", self, other)

    @fast_binary("add", reflected=True)
    def __radd__(self, other):
        return record("add", other, self)

    @fast_binary("sub")
    def __sub__(self, other):
        return record("sub", self, other)

    @fast_binary("sub", reflected=True)
    def __rsub__(self, other):
        return record("sub", other, self)

    @fast_binary("mul")
    def __mul__(self, other):
        return record("mul", self, other)

    @fast_binary("mul", reflected=True)
    def __rmul__(self, other):
        return record("mul", other, self)

    @fast_binary("div")
    def __truediv__(self, other):
        return record("div", self, other)

    @fast_binary("div", reflected=True)
    def __rtruediv__(self, other):
        return record("div", other, self)

    def __matmul__(self, other):
        return record("matmul", self, other)

    def __rmatmul__(self, other):
        return record("matmul", other, self)

    @fast_unary("neg")
    def __neg__(self):
        return record("neg", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return record("abs", self)

    def __pow__(self, exponent):
        from .functions import power

        return power(self, exponent)

    def __rpow__(self, base):
        from .functions import power

        return power(base, self)

    def __getitem__(self, index):
        return record("getitem", self, index=_static_index(index))

    @property
    def T(self):
        return record("transpose", self, axes=None)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
        return record("transpose", self, axes=tuple(axes) if axes else None)

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape
        return record("reshape", self, shape=tuple(int(n) for n in shape))

    def sum(self, axis=None, keepdims=False):
        from .functions import sum

        return sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        from .functions import mean

        return mean(self, axis, keepdims)

    def dot(self, other):
        return record("dot", self, other)


COMPARISONS = (np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal)


def _value(x):
    return x.value if isinstance(x, Tracer) else x


def _static_index(index):
    """An index with lists turned into arrays; tracers are refused (indices are not traced)."""
    parts = index if isinstance(index, tuple) else (index,)
    fixed = []
    for part in parts:
        if isinstance(part, Tracer):
            raise LagrangeADError("an index cannot be a traced value: indices are static; use "
                                  "part.value if the index is data")
        fixed.append(np.asarray(part) if isinstance(part, list) else part)
    return tuple(fixed) if isinstance(index, tuple) else fixed[0]


def record(name: str, *operands, **params):
    """Add ``name(operands)`` to the trace of the tracer among the operands and return it."""
    tape = None
    for x in operands:
        if isinstance(x, Tracer):
            tape = x.tape
            break
    nodes = []
    for position, x in enumerate(operands):
        if isinstance(x, Tracer):
            if x.tape is not tape:
                raise LagrangeADError(f"{name}: operand {position} belongs to another trace; "
                                      f"tracers of different la.trace calls cannot be mixed")
            nodes.append(x.node)
        else:
            nodes.append(tape.constant(x, f"operand {position} of {name}"))
    node, primitive = tape.builder.add_recorded(name, nodes, params)
    return tape.recorded(node, name, primitive, params)


def as_float_array(x, what: str) -> np.ndarray:
    """``x`` as a float64 array, or `LagrangeADError` saying what was expected."""
    try:
        # booleans, integers and floats only: None, strings and objects would become NaN or
        # be parsed, and complex numbers would lose their imaginary part
        out = np.asarray(x)
        if out.dtype.kind not in "biuf":
            raise TypeError
        out = out.astype(np.float64, copy=False)
    except (TypeError, ValueError):
        hint = "; combine traced values with la.stack or la.concatenate" \
            if _holds_tracer(x) else ""
        raise LagrangeADError(f"{what}: expected a number or an array of numbers, got "
                              f"{type(x).__name__} {x!r}{hint}") from None
    return out


def _holds_tracer(x) -> bool:
    try:
        return any(isinstance(e, Tracer) for e in np.asarray(x, dtype=object).ravel()[:100])
    except ValueError:
        return False


def finite_array(x, what: str) -> np.ndarray:
    """`as_float_array`, and `NonFiniteError` when an entry is NaN or infinite."""
    out = as_float_array(x, what)
    if not all_finite(out):
        bad = np.flatnonzero(~np.isfinite(out.ravel()))[0]
        raise NonFiniteError(f"{what} contains NaN or infinity: entry {int(bad)} of "
                             f"{out.size} is {float(out.ravel()[bad])!r}")
    return out


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
    return traced_program(f, *args, names=names, partials=False)[0]


def traced_program(f: Callable, *args, names: list[str] | None = None, partials: bool = True,
                   keep: str = "all"):
    """The graph of ``f`` at ``args`` and its forward propagation (computed once, checked).

    ``partials=False`` leaves out the local partials (a trace that only wants the graph);
    ``keep`` chooses the values kept (`forward.kept_values`).
    """
    if not callable(f):
        raise LagrangeADError(f"trace needs a function; got {type(f).__name__}")
    names = _argument_names(f, len(args)) if names is None else [str(n) for n in names]
    if len(names) != len(args):
        raise LagrangeADError(f"trace got {len(names)} name(s) for {len(args)} argument(s)")
    tape = Tape()
    point = []
    tracers = []
    for k, x in enumerate(args):
        value = finite_array(x, f"argument {k} ({names[k]}) of {getattr(f, '__name__', 'f')}")
        point.append(value)
        node = tape.add(tape.builder.input(value.shape, name=names[k]), value)
        tracers.append(Tracer(tape, node))
    with collector_paused():
        out = f(*tracers)
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
    return graph, forward_propagate(graph, graph.point, point_checked=True, partials=partials,
                                    keep=kept_values(graph, keep))


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
