"""Fast recording of scalar programs (accelerator of task "record").

The reference `Tape.record` checks every node through the graph builder: operands, constants,
the primitive's parameters and the shape rule. On a program whose values are all scalars
(a long chain of ``sin``, a random scalar DAG) the nodes repeat a handful of *kinds*
(primitive, shape, parameters, arity), and once a kind has been checked, a node of the same
kind is fully described by its parents. `ScalarTape` therefore records the first node of each
kind through the reference path and every later one by two list appends to the builder's node
table (`NodeTable.kinds`, `NodeTable.parents`), which makes recording several times faster.
It falls back to the reference path for everything else: a node of a new kind, parameters,
an operand that is not a scalar traced value or a known Python number, or once any value of
the trace is not a scalar. The nodes recorded are the same as the reference tape's.

Served subjects: traces whose inputs are all scalars.
"""

from __future__ import annotations

import numpy as np

from ..primitives import PRIMITIVES
from ..tracing.numpy_api import Tracer
from ..tracing.tape import Tape
from .dispatch import Accelerator, register_accelerator

# a tracer made without calling __init__: a Python call fewer per node
_new = object.__new__


class ScalarTape(Tape):
    """A `Tape` that appends scalar nodes of a kind seen before straight to the node table."""

    def __init__(self):
        super().__init__(ScalarTracer)
        table = self.builder.table
        # a trace adds no batches, so node i is kinds[i]: a new node's index is len(kinds)
        self.kinds, self.parents = table.kinds, table.parents
        # primitive name -> kind of its scalar nodes; emptied for good (scalar_only False) once
        # the trace holds a value that is not a scalar, so the fast paths read one dict only
        self.fast: dict[str, int] = {}
        self.scalar_only = True

    def add(self, node: int, value: np.ndarray) -> int:
        if value.shape:
            self._not_scalar()
        return super().add(node, value)

    def _not_scalar(self) -> None:
        self.scalar_only = False
        self.fast.clear()

    def record(self, name: str, operands: tuple, params: dict):
        out = super().record(name, operands, params)
        if self.scalar_only:
            if self.builder.shape(out.node):
                self._not_scalar()
            elif not params and PRIMITIVES[name].arity is not None:
                self.fast[name] = self.kinds[out.node]
        return out


def _binary(name: str, reflected: bool, reference):
    """The operator ``reference`` of `Tracer` with a fast path for scalar nodes."""
    def operator(self, other):
        tape = self.tape
        kind = tape.fast.get(name)
        if kind is not None:
            if type(other) is ScalarTracer:
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
                out = _new(ScalarTracer)
                out.tape = tape
                out.node = node
                return out
        return reference(self, other)
    operator.__name__ = reference.__name__
    operator.__doc__ = reference.__doc__
    return operator


def _apply(self, name):
    tape = self.tape
    try:
        kind = tape.fast[name]
    except KeyError:  # the first node of its kind, or a trace that is not scalar
        return Tracer.apply(self, name)
    kinds = tape.kinds
    node = len(kinds)
    kinds.append(kind)
    tape.parents.append(self.node)
    out = _new(ScalarTracer)
    out.tape = tape
    out.node = node
    return out


class ScalarTracer(Tracer):
    """The tracer of a `ScalarTape`: ``+ - * /`` and unary ``-`` record scalar nodes fast."""

    __slots__ = ()

    __add__ = _binary("add", False, Tracer.__add__)
    __radd__ = _binary("add", True, Tracer.__radd__)
    __sub__ = _binary("sub", False, Tracer.__sub__)
    __rsub__ = _binary("sub", True, Tracer.__rsub__)
    __mul__ = _binary("mul", False, Tracer.__mul__)
    __rmul__ = _binary("mul", True, Tracer.__rmul__)
    __truediv__ = _binary("div", False, Tracer.__truediv__)
    __rtruediv__ = _binary("div", True, Tracer.__rtruediv__)
    apply = _apply

    def __neg__(self):
        return _apply(self, "neg")


def _scalar_point(point) -> bool:
    return all(np.shape(x) == () for x in point)


SCALAR_RECORDING = register_accelerator(Accelerator(
    name="scalar recording", task="record", serves=_scalar_point, run=ScalarTape,
    doc="Records scalar nodes of a kind seen before by two list appends (scalar inputs)."))
