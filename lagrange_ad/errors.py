"""Exceptions raised by lagrange_ad: one small class per kind of failure.

Every message names the node, the primitive or the argument at fault, the value found and what
was expected, so that a user never has to read a traceback from inside numpy to learn what went
wrong.
"""

from __future__ import annotations

import numpy as np


class LagrangeADError(Exception):
    """Base class of every error raised on purpose by lagrange_ad."""


class UnknownPrimitiveError(LagrangeADError, KeyError):
    """A primitive name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class UnknownMethodError(LagrangeADError, KeyError):
    """A schedule name that is not registered."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class GraphError(LagrangeADError, ValueError):
    """A graph that is malformed: missing parents, wrong arity, bad output, bad node index."""


class ShapeError(GraphError):
    """Operand shapes that a primitive cannot combine."""


class CyclicGraphError(GraphError):
    """A cycle in a graph handed to an operation that needs a DAG."""


class DomainError(LagrangeADError, ValueError):
    """A point outside a primitive's domain (log of a negative number, division by zero, ...)."""


class LinAlgDomainError(DomainError, np.linalg.LinAlgError):
    """A matrix outside a ``la.linalg`` function's domain (singular, not positive definite, too
    small a spectral gap); numpy code that catches ``numpy.linalg.LinAlgError`` catches it."""


class NonFiniteError(LagrangeADError, FloatingPointError):
    """NaN or infinity in an input, a value, a local derivative or a multiplier."""


class NonScalarOutputError(LagrangeADError, ValueError):
    """A gradient requested of an output with more than one entry."""


class MethodNotApplicableError(LagrangeADError):
    """A schedule that cannot handle the program it was given; the message says why."""


class BudgetError(MethodNotApplicableError):
    """A schedule whose estimated work exceeds its budget, or that ran past its time limit."""


class OptionError(MethodNotApplicableError, ValueError):
    """An option a schedule does not accept (unknown, inapplicable, wrong type, out of range)."""


class ConvergenceError(LagrangeADError):
    """An iteration that reached its cap or diverged; carries the schedule and residual trace."""

    def __init__(self, message: str, residuals=(), iterations: int = 0, schedule: str = ""):
        super().__init__(message)
        self.residuals = tuple(float(r) for r in residuals)
        self.iterations = int(iterations)
        self.schedule = str(schedule)

    @property
    def residual(self) -> float:
        """The last residual recorded (NaN when none was)."""
        return self.residuals[-1] if self.residuals else float("nan")


class SingularKKTError(LagrangeADError, ArithmeticError):
    """A KKT matrix ``A = I - J`` (or a block of it) that is singular: no unique multipliers."""


class CheckpointError(LagrangeADError, ValueError):
    """A number of steps or checkpoints that is not a non-negative integer."""


class EliminationOrderError(LagrangeADError, ValueError):
    """An elimination order that is not a permutation of the intermediate vertices."""


class NoCurvatureRuleError(LagrangeADError, NotImplementedError):
    """A second derivative through a primitive whose registry row has no curvature rule."""


class OrderError(LagrangeADError, ValueError):
    """A derivative order that is not offered (`compare` takes order 1 or 2)."""


class TracingError(LagrangeADError):
    """An operation on a traced value that cannot be recorded in the graph (reading it as a
    Python number, writing it into a numpy buffer, an unsupported argument); the message says
    what to write instead."""


class ControlFlowError(TracingError):
    """A Python decision on a traced value (``if``, ``while``, ``bool()``, ``int()``, an index,
    a boolean mask): the graph would keep the branch taken at the traced point and replay it
    wrongly elsewhere; the message says what to write instead (``np.where``, a mask,
    ``la.fixed_point``)."""


class UnsupportedOperationError(LagrangeADError):
    """An operation of an imported program has no mapping to the library's primitives; the
    message lists every unmapped operation of the program at once, with counts."""
