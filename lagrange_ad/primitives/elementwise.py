"""Elementwise primitives: one row each, ``elementwise(name, arity, evaluate, partials)``.

``partials(ans, *xs)`` returns the entrywise derivatives ``d ans / d x_k``; operands broadcast
as in numpy. Where a function has a kink (relu, abs, maximum, minimum) the rule picks one
subgradient and says which. The inverse trigonometric and hyperbolic rows exclude the end
points of their domains, where the derivative is infinite (arcsin at 1, arccosh at 1): there
they raise `DomainError` rather than give an infinite partial.

Functions that are constant between jumps (sign, floor, ceil, rint) have derivative zero,
jumps included: the convention of autograd and JAX. ``mod`` is numpy's remainder,
``x - floor(x / y) y``; between its jumps ``d/dx = 1`` and ``d/dy = -floor(x / y)``, and on
the jumps (x / y an integer, a set of measure zero) the rule takes the piece that numpy's
quotient selects, as autograd and JAX do.

``second(ans, *xs)`` gives the second partials for the curvature rule (``(d11,)``, or
``(d11, d12, d22)`` for two operands); ``linear=True`` marks rows whose second derivatives
vanish away from their kinks (add, sub, neg, maximum, minimum, relu, abs, mod).
"""

from __future__ import annotations

import numpy as np

from .structure import elementwise, first_offender, piecewise_constant

ZERO = np.float64(0.0)

ONE = np.float64(1.0)
ANS, OPERANDS = ("ans",), ("operands",)  # what each VJP reads (see Primitive.vjp_reads)


def _nonzero_divisor(x, y):
    if np.any(y == 0):
        return f"division by zero: the divisor is {first_offender(y == 0, y)}"
    return None


def _positive(what):
    def domain(x):
        bad = ~(x > 0)
        if np.any(bad):
            return f"{what} needs positive arguments; got {first_offender(bad, x)}"
        return None
    return domain


def _nonnegative(x):
    bad = x < 0
    if np.any(bad):
        return f"sqrt needs non-negative arguments; got {first_offender(bad, x)}"
    return None


def _inside(name, low, high=np.inf, why=""):
    """A domain rule accepting the open interval (low, high)."""
    interval = f"in the open interval ({low:g}, {high:g})" if np.isfinite(high) else \
        f"greater than {low:g}"

    def domain(x):
        bad = ~((x > low) & (x < high))
        if np.any(bad):
            return f"{name} needs arguments {interval}{why}; got {first_offender(bad, x)}"
        return None
    return domain


def _arctan2_domain(y, x):
    bad = (y == 0) & (x == 0)
    if np.any(bad):
        return ("arctan2 has no derivative where both operands are zero (the angle jumps at "
                f"the origin); both are {first_offender(bad, x)}")
    return None


def _mod_domain(x, y):
    if np.any(y == 0):
        return f"mod by zero: the divisor is {first_offender(y == 0, y)}"
    return None


def _power_domain(x, exponent):
    p = float(exponent)
    if p != int(p):
        bad = x < 0
        if np.any(bad):
            return (f"a negative base to the non-integer power {p!r}; the base is "
                    f"{first_offender(bad, x)}")
    if p < 0:
        bad = x == 0
        if np.any(bad):
            return f"division by zero: zero base to the negative power {p!r}"
    return None


def _power_partial(ans, x, exponent):
    p = float(exponent)
    if p == 0:
        return (0.0 * x,)
    return (p * np.power(x, p - 1),)


def _power_second(ans, x, exponent):
    p = float(exponent)
    if p in (0.0, 1.0):  # zero, also where x ** (p - 2) is not finite
        return (0.0 * x,)
    return (p * (p - 1.0) * np.power(x, p - 2.0),)


def _max_partials(ans, x, y):
    # ties split the derivative evenly: the symmetric subgradient
    wins = np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0))
    return (wins, 1.0 - wins)


def _min_partials(ans, x, y):
    wins = np.where(x < y, 1.0, np.where(x == y, 0.5, 0.0))
    return (wins, 1.0 - wins)


def _sigmoid(x):
    # written so that neither branch overflows
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


elementwise("add", 2, np.add, lambda ans, x, y: (ONE, ONE), template="{0} + {1}", reads=(),
            linear=True)
elementwise("sub", 2, np.subtract, lambda ans, x, y: (ONE, -ONE), template="{0} - {1}", reads=(),
            linear=True)
elementwise("mul", 2, np.multiply, lambda ans, x, y: (y, x), template="{0} * {1}", reads=OPERANDS,
            second=lambda ans, x, y: (ZERO, ONE, ZERO), multilinear=True)
elementwise("div", 2, np.divide, lambda ans, x, y: (1.0 / y, -ans / y),
            domain=_nonzero_divisor, template="{0} / {1}",
            second=lambda ans, x, y: (ZERO, -1.0 / (y * y), 2.0 * ans / (y * y)))
elementwise("maximum", 2, np.maximum, _max_partials, reads=OPERANDS, linear=True)
elementwise("minimum", 2, np.minimum, _min_partials, reads=OPERANDS, linear=True)
elementwise("neg", 1, np.negative, lambda ans, x: (-ONE,), template="-{0}", reads=(),
            linear=True)
elementwise("pow", 1, lambda x, exponent: np.power(x, float(exponent)), _power_partial,
            domain=_power_domain, template="{0} ** {exponent!r}", param_names=("exponent",),
            reads=OPERANDS, second=_power_second)
elementwise("square", 1, np.square, lambda ans, x: (2.0 * x,), reads=OPERANDS,
            second=lambda ans, x: (2.0 + ZERO * x,))
elementwise("sqrt", 1, np.sqrt, lambda ans, x: (0.5 / ans,), domain=_nonnegative, reads=ANS,
            second=lambda ans, x: (-0.25 / (ans * ans * ans),))
elementwise("exp", 1, np.exp, lambda ans, x: (ans,), reads=ANS, second=lambda ans, x: (ans,))
elementwise("log", 1, np.log, lambda ans, x: (1.0 / x,), domain=_positive("log"), reads=OPERANDS,
            second=lambda ans, x: (-1.0 / (x * x),))
elementwise("sin", 1, np.sin, lambda ans, x: (np.cos(x),), reads=OPERANDS,
            second=lambda ans, x: (-ans,))
elementwise("cos", 1, np.cos, lambda ans, x: (-np.sin(x),), reads=OPERANDS,
            second=lambda ans, x: (-ans,))
elementwise("tan", 1, np.tan, lambda ans, x: (1.0 + ans * ans,), reads=ANS,
            second=lambda ans, x: (2.0 * ans * (1.0 + ans * ans),))
elementwise("tanh", 1, np.tanh, lambda ans, x: (1.0 - ans * ans,), reads=ANS,
            second=lambda ans, x: (-2.0 * ans * (1.0 - ans * ans),))
elementwise("sigmoid", 1, _sigmoid, lambda ans, x: (ans * (1.0 - ans),), reads=ANS,
            second=lambda ans, x: (ans * (1.0 - ans) * (1.0 - 2.0 * ans),))
# relu'(0) = 0 and abs'(0) = 0: the subgradients that numpy's sign and a strict test give
elementwise("relu", 1, lambda x: np.maximum(x, 0.0), lambda ans, x: ((x > 0) * ONE,),
            reads=OPERANDS, linear=True)
elementwise("abs", 1, np.abs, lambda ans, x: (np.sign(x),), reads=OPERANDS, linear=True)

# numpy's names; the derivatives are those of calculus where they are finite
elementwise("expm1", 1, np.expm1, lambda ans, x: (ans + 1.0,), reads=ANS,
            second=lambda ans, x: (ans + 1.0,))
elementwise("log1p", 1, np.log1p, lambda ans, x: (1.0 / (1.0 + x),),
            domain=_inside("log1p", -1.0), reads=OPERANDS,
            second=lambda ans, x: (-1.0 / ((1.0 + x) * (1.0 + x)),))
elementwise("sinh", 1, np.sinh, lambda ans, x: (np.cosh(x),), reads=OPERANDS,
            second=lambda ans, x: (ans,))
elementwise("cosh", 1, np.cosh, lambda ans, x: (np.sinh(x),), reads=OPERANDS,
            second=lambda ans, x: (ans,))
_UNIT = " (|x| > 1 is undefined and the derivative is infinite at -1 and 1)"
elementwise("arcsin", 1, np.arcsin, lambda ans, x: (1.0 / np.sqrt((1.0 - x) * (1.0 + x)),),
            domain=_inside("arcsin", -1.0, 1.0, _UNIT), reads=OPERANDS,
            second=lambda ans, x: (x * ((1.0 - x) * (1.0 + x)) ** -1.5,))
elementwise("arccos", 1, np.arccos, lambda ans, x: (-1.0 / np.sqrt((1.0 - x) * (1.0 + x)),),
            domain=_inside("arccos", -1.0, 1.0, _UNIT), reads=OPERANDS,
            second=lambda ans, x: (-x * ((1.0 - x) * (1.0 + x)) ** -1.5,))
elementwise("arctan", 1, np.arctan, lambda ans, x: (1.0 / (1.0 + x * x),), reads=OPERANDS,
            second=lambda ans, x: (-2.0 * x / (1.0 + x * x) ** 2,))
elementwise("arcsinh", 1, np.arcsinh, lambda ans, x: (1.0 / np.hypot(x, 1.0),), reads=OPERANDS,
            second=lambda ans, x: (-x / np.hypot(x, 1.0) ** 3,))
elementwise("arccosh", 1, np.arccosh, lambda ans, x: (1.0 / np.sqrt((x - 1.0) * (x + 1.0)),),
            domain=_inside("arccosh", 1.0, why=" (the derivative is infinite at 1)"),
            reads=OPERANDS, second=lambda ans, x: (-x * ((x - 1.0) * (x + 1.0)) ** -1.5,))
elementwise("arctanh", 1, np.arctanh, lambda ans, x: (1.0 / ((1.0 - x) * (1.0 + x)),),
            domain=_inside("arctanh", -1.0, 1.0), reads=OPERANDS,
            second=lambda ans, x: (2.0 * x / ((1.0 - x) * (1.0 + x)) ** 2,))
# derivative zero everywhere, at the jumps too (sign at 0, floor and ceil at integers, rint
# at half-integers)
piecewise_constant("sign", np.sign)
piecewise_constant("floor", np.floor)
piecewise_constant("ceil", np.ceil)
piecewise_constant("rint", np.rint)


def _arctan2_partials(ans, y, x):
    r2 = x * x + y * y
    return (x / r2, -y / r2)


def _logaddexp_partials(ans, x, y):
    # the softmax weights of the two operands, without overflow
    return (np.exp(x - ans), np.exp(y - ans))


def _arctan2_second(ans, y, x):
    r4 = (x * x + y * y) ** 2
    return (-2.0 * x * y / r4, (y * y - x * x) / r4, 2.0 * x * y / r4)


def _logaddexp_second(ans, x, y):
    # the weights a = exp(x - ans), b = 1 - a move together: da/dx = ab = -da/dy
    ab = np.exp(x - ans) * np.exp(y - ans)
    return (ab, -ab, ab)


def _mod_partials(ans, x, y):
    # numpy's remainder is x - floor(x / y) y with the quotient of np.floor_divide; at the
    # jumps (x / y an integer) the derivative is that of the piece numpy's quotient selects
    return (ONE, -np.floor_divide(x, y))


elementwise("arctan2", 2, np.arctan2, _arctan2_partials, domain=_arctan2_domain,
            reads=OPERANDS, second=_arctan2_second)
elementwise("logaddexp", 2, np.logaddexp, _logaddexp_partials, second=_logaddexp_second)
# piecewise linear: d/dy = -floor(x / y) is constant between the jumps
elementwise("mod", 2, np.remainder, _mod_partials, domain=_mod_domain, template="{0} % {1}",
            reads=OPERANDS, linear=True)
