"""The tape of one trace: the graph under construction, and `record`, the one way to add a node.

A traced value is a handle ``(tape, node)``. `record` is the only way a node enters the graph
while tracing: it finds the tape among the operands, turns the other operands into constant
nodes, asks the builder to add the node (which checks the primitive, its parameters and the
operand shapes) and returns a traced value of the tape's class. Values are computed only when
something reads them (`Tape.value`); the rest are computed once when the trace ends.

This module knows nothing of numpy's interfaces: the ndarray surface of a traced value
(operators, methods, ``__array_ufunc__``, ``__array_function__``) is `numpy_api.Tracer`, a
subclass of `Traced`.
"""

from __future__ import annotations

import numpy as np

from ..errors import LagrangeADError, NonFiniteError
from ..graph.builder import GraphBuilder
from ..program.values import apply_primitive
from ..program.vectors import all_finite

NO_PARAMS: dict = {}  # shared, never written to
LARGE_CONSTANT = 1024  # entries: smaller arrays are copied at every use, which costs less


class Traced:
    """A value being traced: its node in the graph of a tape (values on demand)."""

    __slots__ = ("tape", "node")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        TRACED_TYPES.add(cls)

    def __init__(self, tape: Tape, node: int):
        self.tape = tape
        self.node = node

    @property
    def value(self) -> np.ndarray:
        """The node's value at the traced point (computed when first read)."""
        return self.tape.value(self.node)

    @property
    def shape(self) -> tuple:
        """The node's shape."""
        return self.tape.builder.shape(self.node)

    def apply(self, name: str) -> Traced:
        """The node of the one-operand primitive ``name`` applied to this value."""
        return self.tape.record(name, (self,), NO_PARAMS)


# Traced and its subclasses: ``type(x) in TRACED_TYPES`` is a quicker isinstance test
TRACED_TYPES: set[type] = {Traced}


class Tape:
    """The builder of one trace, the values computed so far, and the constants met.

    Parameters
    ----------
    tracer : type
        The class of the traced values this tape hands out (a subclass of `Traced`).
    """

    def __init__(self, tracer: type = Traced):
        self.builder = GraphBuilder()
        self.tracer = tracer
        self.values: list = []  # values of nodes 0, 1, ... as far as computed
        self.known: dict[int, np.ndarray] = {}  # values of inputs, constants, declared nodes
        self.constants: dict[float, int] = {}  # Python numbers seen, by value
        self.arrays: dict[int, tuple] = {}  # id -> (array, node) of large array constants

    def add(self, node: int, value: np.ndarray) -> int:
        """Remember the value of a node just added to the builder (input, constant, declared)."""
        self.known[node] = value
        return node

    def input(self, value: np.ndarray, name: str) -> Traced:
        """A traced input node holding ``value``."""
        return self.tracer(self, self.add(self.builder.input(value.shape, name=name), value))

    def record(self, name: str, operands: tuple, params: dict) -> Traced:
        """Add the node ``name(operands; params)``; operands are traced values or constants."""
        nodes = []
        for position, x in enumerate(operands):
            if isinstance(x, Traced):
                if x.tape is not self:
                    raise LagrangeADError(
                        f"{name}: operand {position} belongs to another trace; tracers of "
                        f"different la.trace calls cannot be mixed")
                nodes.append(x.node)
            else:
                nodes.append(self.constant(x, f"operand {position} of {name}"))
        node, _ = self.builder.add_recorded(name, nodes, params)
        return self.tracer(self, node)

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


def record(name: str, *operands, **params) -> Traced:
    """Add ``name(operands)`` to the trace of the first traced operand and return it."""
    for x in operands:
        if isinstance(x, Traced):
            return x.tape.record(name, operands, params)
    raise LagrangeADError(f"record({name!r}): no operand is a traced value")


def as_float_array(x, what: str) -> np.ndarray:
    """``x`` as a float64 array, or `LagrangeADError` saying what was expected."""
    try:
        # booleans, integers and floats only: None, strings and objects would become NaN or
        # be parsed, and complex numbers would lose their imaginary part
        out = np.asarray(x)
        if out.dtype.kind not in "biuf":
            raise TypeError
        out = out.astype(np.float64, copy=False)
    except (TypeError, ValueError, LagrangeADError):
        hint = "; combine traced values with la.stack or la.concatenate" \
            if holds_traced(x) else ""
        raise LagrangeADError(f"{what}: expected a number or an array of numbers, got "
                              f"{type(x).__name__} {x!r}{hint}") from None
    return out


def holds_traced(x) -> bool:
    """Whether ``x`` is a traced value or a (nested) list, tuple or object array holding one."""
    if isinstance(x, Traced):
        return True
    if isinstance(x, (list, tuple)):
        return any(holds_traced(e) for e in x)
    if isinstance(x, np.ndarray) and x.dtype == object:
        return any(holds_traced(e) for e in x.ravel().tolist())
    return False


def finite_array(x, what: str) -> np.ndarray:
    """`as_float_array`, and `NonFiniteError` when an entry is NaN or infinite."""
    out = as_float_array(x, what)
    if not all_finite(out):
        bad = np.flatnonzero(~np.isfinite(out.ravel()))[0]
        raise NonFiniteError(f"{what} contains NaN or infinity: entry {int(bad)} of "
                             f"{out.size} is {float(out.ravel()[bad])!r}")
    return out
