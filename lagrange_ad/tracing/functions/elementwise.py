"""Elementwise ``la.`` functions: one primitive row each, or a short stable composition.

Operands broadcast as in numpy. Conventions at points where a function is not differentiable
(the ones autograd and JAX use): ``abs'(0) = 0``, ``sign'(x) = 0``, ``relu'(0) = 0``, and
``maximum``/``minimum`` split the derivative evenly at ties; ``floor``, ``ceil``, ``rint`` and
``round`` have derivative 0.
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import DomainError
from ..tape import TRACED_TYPES, Traced, as_float_array
from .core import call, control_flow_error, lift, refuse, value_of

NO_PARAMS: dict = {}
LN2 = math.log(2.0)
LN10 = math.log(10.0)


def _unary(name: str, doc: str):
    """The ``la.`` function of the one-operand primitive ``name``."""
    traced = TRACED_TYPES  # a closure cell reads faster than a module global

    def function(x):
        if type(x) in traced:
            return x.apply(name)
        return call(name, x)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


def _binary(name: str, doc: str):
    """The ``la.`` function of the two-operand (broadcasting) primitive ``name``."""
    def function(x, y):
        return call(name, x, y)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


negative = _unary("neg", "``-x``.")
square = _unary("square", "``x ** 2``.")
sqrt = _unary("sqrt", "Square root; negative entries raise `DomainError`.")
exp = _unary("exp", "Exponential.")
log = _unary("log", "Natural logarithm; entries that are not positive raise `DomainError`.")
sin = _unary("sin", "Sine.")
cos = _unary("cos", "Cosine.")
tan = _unary("tan", "Tangent.")
tanh = _unary("tanh", "Hyperbolic tangent.")
sigmoid = _unary("sigmoid", "The logistic function ``1 / (1 + exp(-x))`` (scipy's expit).")
relu = _unary("relu", "``max(x, 0)``; its derivative at 0 is taken as 0.")
abs = _unary("abs", "Absolute value; its derivative at 0 is taken as 0.")  # noqa: A001
sign = _unary("sign", "The sign of x (-1, 0 or 1); its derivative is 0 everywhere.")
expm1 = _unary("expm1", "``exp(x) - 1``, accurate near 0.")
log1p = _unary("log1p", "``log(1 + x)``, accurate near 0; needs ``x > -1``.")
sinh = _unary("sinh", "Hyperbolic sine.")
cosh = _unary("cosh", "Hyperbolic cosine.")
arcsin = _unary("arcsin", "Inverse sine; needs ``|x| < 1`` for a finite derivative.")
arccos = _unary("arccos", "Inverse cosine; needs ``|x| < 1`` for a finite derivative.")
arctan = _unary("arctan", "Inverse tangent.")
arcsinh = _unary("arcsinh", "Inverse hyperbolic sine.")
arccosh = _unary("arccosh", "Inverse hyperbolic cosine; needs ``x > 1``.")
arctanh = _unary("arctanh", "Inverse hyperbolic tangent; needs ``|x| < 1``.")
floor = _unary("floor", "The largest integer <= x; derivative 0.")
ceil = _unary("ceil", "The smallest integer >= x; derivative 0.")
rint = _unary("rint", "The nearest integer (ties to even); derivative 0.")
erf = _unary("erf", "The error function ``2/sqrt(pi) int_0^x exp(-t^2) dt``.")
erfc = _unary("erfc", "``1 - erf(x)``, accurate for large x.")
gammaln = _unary("gammaln", "``log |Gamma(x)|``.")
digamma = _unary("digamma", "``d/dx log Gamma(x)``.")

add = _binary("add", "``x + y`` with broadcasting.")
subtract = _binary("sub", "``x - y`` with broadcasting.")
multiply = _binary("mul", "``x * y`` with broadcasting.")
divide = _binary("div", "``x / y`` with broadcasting; a zero divisor raises `DomainError`.")
maximum = _binary("maximum", "Entrywise maximum; at ties the derivative is split evenly.")
minimum = _binary("minimum", "Entrywise minimum; at ties the derivative is split evenly.")
arctan2 = _binary("arctan2", "The angle of the point (y, x) = (x1, x2): ``arctan(x1 / x2)``.")
logaddexp = _binary("logaddexp", "``log(exp(x) + exp(y))`` without overflow.")
mod = _binary("mod", "``x - floor(x / y) * y`` (numpy's mod); d/dx = 1, "
              "d/dy = -floor(x / y).")
xlogy = _binary("xlogy", "``x * log(y)``, 0 where x is 0 (scipy.special.xlogy).")
xlog1py = _binary("xlog1py", "``x * log1p(y)``, 0 where x is 0 (scipy.special.xlog1py).")
for _f, _name in ((subtract, "subtract"), (multiply, "multiply"), (divide, "divide"),
                  (negative, "negative")):
    _f.__name__ = _f.__qualname__ = _name
remainder = mod
fmax, fmin = maximum, minimum  # traced values are never NaN, so fmax is maximum
fabs = abs
expit = sigmoid


def power(x, exponent):
    """``x ** exponent``.

    A constant exponent is the primitive ``pow`` (``d/dx x^p = p x^(p-1)``). A traced exponent
    is written as ``exp(exponent * log(x))``, which needs ``x > 0``.
    """
    exponent = lift(exponent)
    if not isinstance(exponent, Traced) and np.ndim(exponent) == 0:
        return call("pow", x, exponent=float(as_float_array(exponent, "the exponent")))
    x = lift(x)
    base = value_of(x)
    if not np.all(base > 0):
        where = f" v{x.node}" if isinstance(x, Traced) else ""
        raise DomainError(f"pow: base{where} ** exponent with a traced or array exponent is "
                          f"computed as exp(exponent * log(base)), which needs a positive base; "
                          f"the base is {float(np.min(base))!r}")
    return exp(multiply(exponent, log(x)))


def log2(x):
    """Base-2 logarithm, ``log(x) / log(2)``."""
    return multiply(log(x), 1.0 / LN2)


def log10(x):
    """Base-10 logarithm, ``log(x) / log(10)``."""
    return multiply(log(x), 1.0 / LN10)


def exp2(x):
    """``2 ** x = exp(x log 2)``."""
    return exp(multiply(x, LN2))


def logaddexp2(x, y):
    """``log2(2**x + 2**y) = logaddexp(x log 2, y log 2) / log 2``."""
    return multiply(logaddexp(multiply(x, LN2), multiply(y, LN2)), 1.0 / LN2)


def reciprocal(x):
    """``1 / x``; a zero entry raises `DomainError`."""
    return divide(1.0, x)


def deg2rad(x):
    """Degrees to radians, ``x pi / 180``."""
    return multiply(x, math.pi / 180.0)


def rad2deg(x):
    """Radians to degrees, ``x 180 / pi``."""
    return multiply(x, 180.0 / math.pi)


radians, degrees = deg2rad, rad2deg


def floor_divide(x, y):
    """``floor(x / y)``; derivative 0."""
    return floor(divide(x, y))


def divmod_(x, y):
    """``(floor(x / y), mod(x, y))``, numpy's divmod."""
    return floor_divide(x, y), mod(x, y)


def round(x, decimals=0):  # noqa: A001  (the numpy name)
    """Round to ``decimals`` places (ties to even, as numpy); derivative 0."""
    if decimals == 0:
        return rint(x)
    scale = 10.0 ** int(decimals)
    return divide(rint(multiply(x, scale)), scale)


around = round


def where(condition, x=None, y=None):
    """``x`` where ``condition`` is nonzero, else ``y`` (broadcast).

    The derivative flows to ``x`` where the condition holds and to ``y`` elsewhere. A traced
    condition (``x > 0``) is a node, recomputed when the graph is replayed at another point
    (the ``switch`` row); a constant one is the ``where`` row's mask.
    """
    condition = lift(condition)
    if x is None and y is None:
        if isinstance(condition, Traced):
            raise control_flow_error(condition, "np.where(condition) with one argument",
                                     "the number of indices where a traced condition holds "
                                     "depends on the values")
        return np.nonzero(np.asarray(condition))
    if isinstance(condition, Traced):
        return call("switch", condition, x, y)
    return call("where", x, y, mask=np.asarray(condition, dtype=bool))


def clip(a, a_min=None, a_max=None, out=None, *, min=None, max=None):  # noqa: A002
    """``minimum(maximum(a, a_min), a_max)`` (numpy's ``min=``/``max=`` spell the bounds too).

    At a bound the derivative is split evenly between ``a`` and the bound (the convention of
    ``maximum`` and ``minimum``, as in JAX): 1/2 for ``a`` there.
    """
    if out is not None:
        refuse("clip", "out", "a buffer", "use the returned value")
    a_min = min if a_min is None else a_min
    a_max = max if a_max is None else a_max
    out = a
    if a_min is not None:
        out = maximum(out, a_min)
    if a_max is not None:
        out = minimum(out, a_max)
    return out


def sinc(x):
    """``sin(pi x) / (pi x)``, 1 at 0 (numpy's normalized sinc); derivative 0 at 0.

    The zeros are found by a node (``x == 0``), so a replay at another point finds its own.
    """
    zero = call("equal", x, 0.0)
    safe = multiply(where(zero, 1.0, x), math.pi)
    return where(zero, 1.0, divide(sin(safe), safe))


def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """``x`` itself: traced values are always finite (NaN and infinity raise when recorded)."""
    return lift(x)


def logit(p):
    """``log(p / (1 - p)) = log(p) - log1p(-p)``; needs ``0 < p < 1``."""
    return subtract(log(p), log1p(negative(p)))


def log_expit(x):
    """``log(sigmoid(x)) = -logaddexp(0, -x)``, without overflow."""
    return negative(logaddexp(0.0, negative(x)))


def softplus(x):
    """``log(1 + exp(x)) = logaddexp(0, x)``, without overflow."""
    return logaddexp(0.0, x)


def select(condlist, choicelist, default=0.0):
    """numpy's select: the first choice whose condition holds, else ``default``."""
    if len(condlist) != len(choicelist):
        refuse("select", "condlist", f"{len(condlist)} conditions",
               f"give one condition per choice ({len(choicelist)})")
    out = default
    for condition, choice in reversed(list(zip(condlist, choicelist))):
        out = where(condition, choice, out)
    return out


def hypot(x1, x2):
    """``sqrt(x1^2 + x2^2)``; its derivative is infinite at (0, 0)."""
    return sqrt(add(square(x1), square(x2)))


def fix(x, out=None):
    """Round toward zero (floor where ``x >= 0``, a node, else ceil); derivative 0."""
    return where(call("greater_equal", x, 0.0), floor(x), ceil(x))


def trapezoid(y, x=None, dx=1.0, axis=-1):
    """The trapezoidal rule along ``axis``: ``sum((y[1:] + y[:-1]) / 2 * diff(x))``."""
    from .reductions import sum
    from .shapes import diff

    y = lift(y)
    n = len(value_of(y).shape)
    axis = axis % n
    lead = (slice(None),) * axis
    pairs = add(call("getitem", y, index=lead + (slice(1, None),)),
                call("getitem", y, index=lead + (slice(None, -1),)))
    widths = dx if x is None else diff(x, axis=axis if np.ndim(value_of(x)) > 1 else -1)
    if x is not None and np.ndim(value_of(x)) == 1 and n > 1:
        widths = call("reshape", lift(widths), shape=(-1,) + (1,) * (n - 1 - axis))
    return sum(multiply(pairs, multiply(widths, 0.5)), axis=axis)


def copysign(x1, x2):
    """``|x1|`` with the sign of ``x2``: ``|x1| (1 - 2 signbit(x2))``; the sign is a node, so
    its derivative is zero (and ``abs'(0) = 0``)."""
    return multiply(abs(x1), subtract(1.0, multiply(2.0, call("signbit", x2))))


def fmod(x1, x2):
    """The C remainder ``x1 - trunc(x1 / x2) x2``, with the sign of ``x1`` (numpy's fmod);
    ``d/dx1 = 1``, ``d/dx2 = -trunc(x1 / x2)``."""
    return subtract(x1, multiply(fix(divide(x1, x2)), x2))


def heaviside(x1, x2):
    """The step function: 0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0``;
    derivative zero in ``x1``, and 1 in ``x2`` where ``x1 == 0``."""
    return where(call("equal", x1, 0.0), x2, call("greater", x1, 0.0))
