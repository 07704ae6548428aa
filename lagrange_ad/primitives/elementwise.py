"""Elementwise primitives: one row each, ``elementwise(name, arity, evaluate, partials)``.

``partials(ans, *xs)`` returns the entrywise derivatives ``d ans / d x_k``; operands broadcast
as in numpy. Where a function has a kink (relu, abs, maximum, minimum) the rule picks one
subgradient and says which.
"""

from __future__ import annotations

import numpy as np

from .structure import elementwise, first_offender

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


elementwise("add", 2, np.add, lambda ans, x, y: (ONE, ONE), template="{0} + {1}", reads=())
elementwise("sub", 2, np.subtract, lambda ans, x, y: (ONE, -ONE), template="{0} - {1}", reads=())
elementwise("mul", 2, np.multiply, lambda ans, x, y: (y, x), template="{0} * {1}", reads=OPERANDS)
elementwise("div", 2, np.divide, lambda ans, x, y: (1.0 / y, -ans / y),
            domain=_nonzero_divisor, template="{0} / {1}")
elementwise("maximum", 2, np.maximum, _max_partials, reads=OPERANDS)
elementwise("minimum", 2, np.minimum, _min_partials, reads=OPERANDS)
elementwise("neg", 1, np.negative, lambda ans, x: (-ONE,), template="-{0}", reads=())
elementwise("pow", 1, lambda x, exponent: np.power(x, float(exponent)), _power_partial,
            domain=_power_domain, template="{0} ** {exponent!r}", param_names=("exponent",),
            reads=OPERANDS)
elementwise("square", 1, np.square, lambda ans, x: (2.0 * x,), reads=OPERANDS)
elementwise("sqrt", 1, np.sqrt, lambda ans, x: (0.5 / ans,), domain=_nonnegative, reads=ANS)
elementwise("exp", 1, np.exp, lambda ans, x: (ans,), reads=ANS)
elementwise("log", 1, np.log, lambda ans, x: (1.0 / x,), domain=_positive("log"), reads=OPERANDS)
elementwise("sin", 1, np.sin, lambda ans, x: (np.cos(x),), reads=OPERANDS)
elementwise("cos", 1, np.cos, lambda ans, x: (-np.sin(x),), reads=OPERANDS)
elementwise("tan", 1, np.tan, lambda ans, x: (1.0 + ans * ans,), reads=ANS)
elementwise("tanh", 1, np.tanh, lambda ans, x: (1.0 - ans * ans,), reads=ANS)
elementwise("sigmoid", 1, _sigmoid, lambda ans, x: (ans * (1.0 - ans),), reads=ANS)
# relu'(0) = 0 and abs'(0) = 0: the subgradients that numpy's sign and a strict test give
elementwise("relu", 1, lambda x: np.maximum(x, 0.0), lambda ans, x: ((x > 0) * ONE,),
            reads=OPERANDS)
elementwise("abs", 1, np.abs, lambda ans, x: (np.sign(x),), reads=OPERANDS)
