"""Special functions of scipy.special that machine learning code uses, as elementwise rows.

    d erf(x) / dx = 2 / sqrt(pi) exp(-x^2),          d erfc(x) / dx = -d erf(x) / dx,
    d gammaln(x) / dx = digamma(x),                  d digamma(x) / dx = polygamma(1, x),
    xlogy(x, y) = x log y,        d/dx = log y,        d/dy = x / y,
    xlog1py(x, y) = x log1p(y),   d/dx = log1p(y),     d/dy = x / (1 + y).

Second partials (the curvature rules): erf'' = -2x erf', gammaln'' = polygamma(1, x),
digamma'' = polygamma(2, x); for xlogy d2/dx2 = 0, d2/dxdy = 1/y, d2/dy2 = -x/y^2 (1 + y in
place of y for xlog1py).

``gammaln`` is log|Gamma(x)| (scipy's definition), so negative non-integer arguments are in
its domain; both it and ``digamma`` have poles at the non-positive integers. ``xlogy`` is 0
where x = 0 whatever y (scipy's definition), so that ``xlogy(p, p)`` is an entropy term:
there ``d/dy = 0``, while ``d/dx = log y`` is -inf at y = 0, as it is for p log p at p = 0.
Points where the value itself is not finite (y = 0 with x != 0) or not real (y < 0) are
outside the domain.

scipy's ufuncs are not understood by the compiled scalar loop, so these rows run in the
checked Python loop (``compiled=False``).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .structure import elementwise, first_offender

_TWO_OVER_ROOT_PI = 2.0 / np.sqrt(np.pi)


def _no_pole(name):
    def domain(x):
        bad = (x <= 0) & (x == np.floor(x))
        if np.any(bad):
            return (f"{name} has a pole at every non-positive integer; got "
                    f"{first_offender(bad, x)}")
        return None
    return domain


def _log_domain(name, shift):
    """Domain of ``x log(shift + y)``: the logarithm's argument positive, or x = 0 and it is 0."""

    def domain(x, y):
        arg = shift + y
        bad = (arg < 0) | ((arg == 0) & (x != 0))
        if np.any(bad):
            where = first_offender(bad, np.broadcast_to(y, np.broadcast_shapes(
                np.shape(x), np.shape(y))))
            return (f"{name}(x, y) needs {'1 + ' if shift else ''}y > 0, or "
                    f"{'1 + ' if shift else ''}y = 0 where x = 0; got y = {where}")
        return None
    return domain


def _zero_where_x_is(x, value):
    # x / y with 0 where x = 0, whatever y: no division by zero is ever formed
    return x / np.where(x == 0, 1.0, value)


def _xlogy_partials(ans, x, y):
    return (np.log(y), _zero_where_x_is(x, y))


def _xlog1py_partials(ans, x, y):
    return (np.log1p(y), _zero_where_x_is(x, 1.0 + y))


def _xlogy_second(ans, x, y):
    # d2/dx2 = 0, d2/dxdy = 1 / y, d2/dy2 = -x / y^2
    return (0.0 * x, 1.0 / y, -_zero_where_x_is(x, y) / y)


def _xlog1py_second(ans, x, y):
    return (0.0 * x, 1.0 / (1.0 + y), -_zero_where_x_is(x, 1.0 + y) / (1.0 + y))


OPERANDS = ("operands",)
elementwise("erf", 1, special.erf,
            lambda ans, x: (_TWO_OVER_ROOT_PI * np.exp(-x * x),), reads=OPERANDS,
            compiled=False, second=lambda ans, x: (-2.0 * x * _TWO_OVER_ROOT_PI * np.exp(-x * x),))
elementwise("erfc", 1, special.erfc,
            lambda ans, x: (-_TWO_OVER_ROOT_PI * np.exp(-x * x),), reads=OPERANDS,
            compiled=False, second=lambda ans, x: (2.0 * x * _TWO_OVER_ROOT_PI * np.exp(-x * x),))
elementwise("gammaln", 1, special.gammaln, lambda ans, x: (special.digamma(x),),
            domain=_no_pole("gammaln"), reads=OPERANDS, compiled=False,
            second=lambda ans, x: (special.polygamma(1, x),))
elementwise("digamma", 1, special.digamma, lambda ans, x: (special.polygamma(1, x),),
            domain=_no_pole("digamma"), reads=OPERANDS, compiled=False,
            second=lambda ans, x: (special.polygamma(2, x),))
elementwise("xlogy", 2, special.xlogy, _xlogy_partials, domain=_log_domain("xlogy", 0.0),
            reads=OPERANDS, compiled=False, second=_xlogy_second)
elementwise("xlog1py", 2, special.xlog1py, _xlog1py_partials,
            domain=_log_domain("xlog1py", 1.0), reads=OPERANDS, compiled=False,
            second=_xlog1py_second)
