"""Norms: norm, vector_norm, matrix_norm and cond, as compositions of rows.

The vector 2-norm and the Frobenius norm are the row ``norm2`` (its derivative at 0 is taken
as 0); 1, inf and p-norms are sums and maxima of ``abs`` and ``pow``; the nuclear norm and the
matrix 2-norms are the sum, max and min of the singular values.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..tracing.functions import call
from ..tracing.functions.core import lift
from .common import Array, ArrayLike, plain_or_refuse, shape_of
from .decompositions import svdvals
from .inverses import inv


def _keep(out, shape: tuple, axes: tuple, keepdims: bool):
    if not keepdims:
        return out
    return call("reshape", out, shape=tuple(1 if k in axes else s for k, s in enumerate(shape)))


def _axes(axis, ndim: int) -> tuple:
    axes = tuple(range(ndim)) if axis is None else \
        (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ShapeError(f"norm: axis {a!r} is not an axis of an array of {ndim} dimensions")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"norm: repeated axis in {axis!r}")
    return tuple(out)


def _vector_norm(x, ord, axes: tuple):  # noqa: A002  (numpy's name)
    axis = axes if len(axes) != 1 else axes[0]
    if ord is None or ord == 2:
        return call("norm2", x, axis=axis)
    if ord == 0:
        return plain_or_refuse("vector_norm", "ord=0 counts nonzero entries, which has no "
                                "derivative; compute it from the value", x, axis=axis, ord=0)
    if ord == np.inf:
        return call("max", call("abs", x), axis=axes)
    if ord == -np.inf:
        return call("min", call("abs", x), axis=axes)
    if ord == 1:
        return call("sum", call("abs", x), axis=axis)
    if isinstance(ord, str):
        raise ShapeError(f"norm: ord={ord!r} is a matrix norm; a vector norm takes a number")
    p = float(ord)
    powered = call("sum", call("pow", call("abs", x), exponent=p), axis=axis)
    return call("pow", powered, exponent=1.0 / p)


def _matrix_norm(x, ord, axes: tuple):  # noqa: A002
    row, col = axes
    ndim = len(shape_of(x))
    rest = tuple(k for k in range(ndim) if k not in axes)
    if ord is None or ord == "fro":
        return call("norm2", x, axis=tuple(sorted(axes)))
    moved = call("transpose", x, axes=rest + (row, col))  # (..., rows, cols)
    if ord == "nuc":
        return call("sum", svdvals(moved), axis=-1)
    if ord in (2, -2):
        return call("max" if ord == 2 else "min", svdvals(moved), axis=(-1,))
    if ord in (1, -1, np.inf, -np.inf):
        along = -2 if ord in (1, -1) else -1
        sums = call("sum", call("abs", moved), axis=len(shape_of(moved)) + along)
        return call("max" if ord > 0 else "min", sums, axis=(-1,))
    raise ShapeError(f"norm: ord={ord!r} is not a matrix norm (use None, 'fro', 'nuc', 1, -1, "
                     f"2, -2, inf or -inf)")


def norm(x: ArrayLike, ord=None, axis=None, keepdims: bool = False) -> Array:  # noqa: A002
    """Vector and matrix norms with numpy's ``ord``, ``axis`` and ``keepdims``.

    Parameters
    ----------
    x : array_like or traced
    ord : None, number, "fro" or "nuc"
        Vector ords: 2 (default; its derivative at 0 is taken as 0), 1, inf, -inf and any
        real p (``sum(|x|^p)^(1/p)``); 0 (a count) is refused on traced values. Matrix ords:
        "fro" (default), "nuc" (the sum of singular values), 2 and -2 (largest and smallest
        singular value; ties share the derivative), 1, -1, inf, -inf (largest or smallest
        absolute column or row sum; ties share it too).
    axis : None, int or pair of ints
        None: the whole array with ``ord=None``, else a vector or a matrix as numpy decides.
    keepdims : bool
        Keep the reduced axes with length 1.

    Raises
    ------
    ShapeError
        For an ``ord`` or ``axis`` numpy would refuse.
    TracingError
        For ``ord=0`` on a traced value.
    """
    x = lift(x)
    shape = shape_of(x)
    if axis is None and ord is None:
        axes = tuple(range(len(shape)))
        return _keep(call("norm2", x, axis=None), shape, axes, keepdims)
    if axis is None and len(shape) not in (1, 2):
        raise ShapeError(f"norm: an ord needs a vector or a matrix (or an axis); got shape "
                         f"{shape}")
    axes = _axes(axis, len(shape))
    if len(axes) == 1:
        out = _vector_norm(x, ord, axes)
    elif len(axes) == 2:
        out = _matrix_norm(x, ord, axes)
    else:
        raise ShapeError(f"norm: axis must be an int or a pair of ints; got {axis!r}")
    return _keep(out, shape, axes, keepdims)


def vector_norm(x: ArrayLike, /, *, axis=None, keepdims: bool = False,  # noqa: A002
                ord=2) -> Array:
    """The vector norm over ``axis`` (all axes by default, or any tuple of them)."""
    x = lift(x)
    shape = shape_of(x)
    axes = _axes(axis, len(shape))
    return _keep(_vector_norm(x, ord, axes), shape, axes, keepdims)


def matrix_norm(x: ArrayLike, /, *, keepdims: bool = False,  # noqa: A002
                ord="fro") -> Array:
    """The matrix norm of the last two axes."""
    return norm(x, ord, axis=(-2, -1), keepdims=keepdims)


def cond(x: ArrayLike, p=None) -> Array:
    """The condition number: ``s_max / s_min`` for ``p`` None or 2, else
    ``norm(x, p) norm(inv(x), p)``."""
    x = lift(x)
    if p is None or p == 2 or p == -2:
        s = svdvals(x)
        big, small = call("max", s, axis=(-1,)), call("min", s, axis=(-1,))
        return call("div", big, small) if p != -2 else call("div", small, big)
    return call("mul", norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))
