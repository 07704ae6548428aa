"""The ``la.`` functions: record a node when an operand is traced, else compute directly.

Outside a trace every function evaluates its primitive on plain numbers and arrays, with the
same domain and finiteness checks, so ``la.log(-1.0)`` raises `DomainError` rather than
returning NaN.
"""

from __future__ import annotations

import numpy as np

from ..errors import DomainError, LagrangeADError, ShapeError
from ..primitives import lookup
from ..program.values import apply_primitive
from .tracer import Tracer, as_float_array, fast_unary, finite_array, record


def call(name: str, *operands, **params):
    """Apply primitive ``name``: a traced node if any operand is traced, else its value."""
    for x in operands:
        if isinstance(x, Tracer):
            return record(name, *operands, **params)
    xs = [finite_array(x, f"operand {k} of {name}") for k, x in enumerate(operands)]
    primitive = lookup(name)
    try:
        primitive.shape(*[x.shape for x in xs], **params)
    except ShapeError as exc:
        shapes = ", ".join(str(x.shape) for x in xs)
        raise ShapeError(f"{name} of operands of shapes {shapes}: {exc}") from None
    return apply_primitive(primitive, xs, params, lambda: name)


def add(x, y):
    """``x + y`` with broadcasting."""
    return call("add", x, y)


def subtract(x, y):
    """``x - y`` with broadcasting."""
    return call("sub", x, y)


def multiply(x, y):
    """``x * y`` with broadcasting."""
    return call("mul", x, y)


def divide(x, y):
    """``x / y`` with broadcasting; a zero divisor raises `DomainError`."""
    return call("div", x, y)


@fast_unary("neg")
def negative(x):
    """``-x``."""
    return call("neg", x)


def power(x, exponent):
    """``x ** exponent``.

    A constant exponent is the primitive ``pow`` (``d/dx x^p = p x^(p-1)``). A traced exponent
    is written as ``exp(exponent * log(x))``, which needs ``x > 0``.
    """
    if not isinstance(exponent, Tracer) and np.ndim(exponent) == 0:
        return call("pow", x, exponent=float(as_float_array(exponent, "the exponent")))
    base = x.value if isinstance(x, Tracer) else as_float_array(x, "the base")
    if not np.all(base > 0):
        where = f" v{x.node}" if isinstance(x, Tracer) else ""
        raise DomainError(f"pow: base{where} ** exponent with a traced or array exponent is "
                          f"computed as exp(exponent * log(base)), which needs a positive base; "
                          f"the base is {float(np.min(base))!r}")
    return exp(multiply(exponent, log(x)))


@fast_unary("square")
def square(x):
    """``x ** 2``."""
    return call("square", x)


@fast_unary("sqrt")
def sqrt(x):
    """Square root; negative entries raise `DomainError`."""
    return call("sqrt", x)


@fast_unary("exp")
def exp(x):
    """Exponential."""
    return call("exp", x)


@fast_unary("log")
def log(x):
    """Natural logarithm; entries that are not positive raise `DomainError`."""
    return call("log", x)


@fast_unary("sin")
def sin(x):
    """Sine."""
    return call("sin", x)


@fast_unary("cos")
def cos(x):
    """Cosine."""
    return call("cos", x)


@fast_unary("tan")
def tan(x):
    """Tangent."""
    return call("tan", x)


@fast_unary("tanh")
def tanh(x):
    """Hyperbolic tangent."""
    return call("tanh", x)


@fast_unary("sigmoid")
def sigmoid(x):
    """The logistic function ``1 / (1 + exp(-x))``."""
    return call("sigmoid", x)


@fast_unary("relu")
def relu(x):
    """``max(x, 0)``; its derivative at 0 is taken as 0."""
    return call("relu", x)


@fast_unary("abs")
def abs(x):  # noqa: A001  (the numpy name)
    """Absolute value; its derivative at 0 is taken as 0."""
    return call("abs", x)


def maximum(x, y):
    """Entrywise maximum; at ties the derivative is split evenly."""
    return call("maximum", x, y)


def minimum(x, y):
    """Entrywise minimum; at ties the derivative is split evenly."""
    return call("minimum", x, y)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None for all axes)."""
    return _keep(call("sum", x, axis=_axis(axis)), x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (an int, a tuple, or None for all axes)."""
    return _keep(call("mean", x, axis=_axis(axis)), x, axis, keepdims)


def _keep(out, x, axis, keepdims):
    """With ``keepdims``, the reduced axes put back with length 1 (a reshape node)."""
    if not keepdims:
        return out
    shape = np.shape(x.value if isinstance(x, Tracer) else x)
    axes = range(len(shape)) if axis is None else [a % len(shape) for a in np.atleast_1d(axis)]
    return reshape(out, tuple(1 if k in axes else n for k, n in enumerate(shape)))


def logsumexp(x, axis=None):
    """``log(sum(exp(x), axis))``, computed without overflow."""
    return call("logsumexp", x, axis=_axis(axis))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x), axis)`` along one axis."""
    return call("softmax", x, axis=_int(axis, "softmax: axis"))


def log_softmax(x, axis=-1):
    """``x - logsumexp(x, axis)`` along one axis."""
    return call("log_softmax", x, axis=_int(axis, "log_softmax: axis"))


def dot(x, y):
    """Inner product of vectors, matrix-vector or matrix-matrix product (1-D and 2-D only)."""
    return call("dot", x, y)


def matmul(x, y):
    """Matrix product with numpy's ``@`` rules (vectors promoted, stacks broadcast)."""
    return call("matmul", x, y)


def transpose(x, axes=None):
    """Permute axes (reverse them by default)."""
    return call("transpose", x, axes=None if axes is None else _ints(axes, "transpose: axes"))


def reshape(x, shape):
    """The same entries in a new shape (C order)."""
    shape = _ints(np.atleast_1d(shape) if np.ndim(shape) == 0 else shape, "reshape: shape")
    return call("reshape", x, shape=shape)


def concatenate(xs, axis=0):
    """Join arrays along an existing axis."""
    return call("concatenate", *_sequence(xs, "concatenate"), axis=_int(axis, "concatenate: axis"))


def stack(xs, axis=0):
    """Join arrays along a new axis."""
    return call("stack", *_sequence(xs, "stack"), axis=_int(axis, "stack: axis"))


def _sequence(xs, name):
    xs = list(xs)
    if not xs:
        raise LagrangeADError(f"{name} needs at least one array")
    return xs


def _axis(axis):
    if axis is None or np.ndim(axis) == 0:
        return None if axis is None else _int(axis, "axis")
    return _ints(axis, "axis")


def _int(value, what: str) -> int:
    """An axis or a length as an int, or `ShapeError` saying what was given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ShapeError(f"{what} must be an int; got {value!r}")
    return int(value)


def _ints(values, what: str) -> tuple[int, ...]:
    try:
        return tuple(_int(v, what) for v in values)
    except TypeError:
        raise ShapeError(f"{what} must be a sequence of ints; got {values!r}") from None


def _true_divide(x, y):
    return divide(x, y)


UFUNCS = {
    np.add: add, np.subtract: subtract, np.multiply: multiply, np.divide: _true_divide,
    np.negative: negative, np.power: power, np.square: square, np.sqrt: sqrt,
    np.exp: exp, np.log: log, np.sin: sin, np.cos: cos, np.tan: tan, np.tanh: tanh,
    np.absolute: abs, np.maximum: maximum, np.minimum: minimum, np.matmul: matmul,
}

ARRAY_FUNCTIONS = {
    np.sum: sum,
    np.mean: mean,
    np.dot: dot, np.transpose: lambda x, axes=None: transpose(x, axes),
    np.reshape: lambda x, shape=None: reshape(x, shape),
    np.concatenate: lambda xs, axis=0: concatenate(xs, axis),
    np.stack: lambda xs, axis=0: stack(xs, axis),
    np.matmul: matmul,
}

__all__ = [
    "abs", "add", "call", "concatenate", "cos", "divide", "dot", "exp", "log", "log_softmax",
    "logsumexp", "matmul", "maximum", "mean", "minimum", "multiply", "negative", "power",
    "relu", "reshape", "sigmoid", "sin", "softmax", "sqrt", "square", "stack", "subtract",
    "sum", "tan", "tanh", "transpose",
]
