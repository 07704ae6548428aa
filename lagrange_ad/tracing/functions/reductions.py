"""Reductions and scans with numpy's arguments: sum, mean, max, min, prod, var, std, cumsum,
cumprod, logsumexp, softmax, log_softmax.

Each takes numpy's ``axis`` (None, an int or a tuple) and ``keepdims``; ``out`` must be None,
``dtype`` None or a float type. ``where=`` (a constant mask) is supported where the result is a
weighted sum (sum, mean, var, std); ``initial=`` where numpy has it. Ties in max and min split
the derivative evenly among the tied entries.
"""

from __future__ import annotations

import numpy as np

from ...errors import DomainError
from .core import (
    as_int,
    axes_of,
    call,
    check_dtype,
    check_out,
    is_traced,
    keep,
    lift,
    refuse,
    shape_of,
)
from .elementwise import maximum, minimum, multiply, sqrt, subtract


def _reduce(name, a, axis, keepdims, out, dtype=None):
    """``name`` over ``axis`` (a reduction row), with the checks every reduction shares."""
    check_out(name, out)
    check_dtype(name, dtype)
    a = lift(a)
    shape = shape_of(a)
    axes = axes_of(axis, len(shape), name)
    total = call(name, a, axis=None if axis is None else axes)
    return keep(total, shape, axes, keepdims), shape, axes


def _masked(name, a, where):
    """``a`` with zeros where ``where`` is False (for weighted sums), and the mask's weights."""
    if where is True:
        return lift(a), None
    if is_traced(where):  # a mask node (x > 0): recomputed on replay
        return multiply(a, where), None
    mask = np.broadcast_to(np.asarray(where, dtype=bool), shape_of(a)).astype(np.float64)
    return multiply(a, mask), mask


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=0.0, where=True):  # noqa: A001
    """Sum over ``axis`` (an int, a tuple, or None for all axes), as ``numpy.sum``."""
    a, _ = _masked("sum", a, where)
    total = _reduce("sum", a, axis, keepdims, out, dtype)[0]
    return total if initial == 0 else call("add", total, float(initial))


def mean(a, axis=None, dtype=None, out=None, keepdims=False, where=True):
    """Mean over ``axis``, as ``numpy.mean``; with ``where``, over the selected entries."""
    if where is True:
        return _reduce("mean", a, axis, keepdims, out, dtype)[0]
    a, mask = _masked("mean", a, where)
    if mask is None:  # a traced mask: divide by its count, a node too
        counts = _reduce("sum", call("mul", where, np.ones(shape_of(a))), axis, keepdims, out)[0]
        return call("div", _reduce("sum", a, axis, keepdims, out, dtype)[0], counts)
    axes = axes_of(axis, mask.ndim, "mean")
    counts = np.sum(mask, axis=axes, keepdims=keepdims)
    if np.any(counts == 0):
        raise DomainError("mean: the where= mask selects no entry of some slice")
    return call("div", _reduce("sum", a, axis, keepdims, out, dtype)[0], counts)


def _extreme(name, pairwise, a, axis, out, keepdims, initial, where):
    if where is not True:
        refuse(name, "where", "a mask", f"select the entries first (a[mask]), then take {name}")
    total, shape, axes = _reduce(name, a, axis, keepdims, out)
    if initial is not None:
        total = pairwise(total, float(initial))
    return total


def max(a, axis=None, out=None, keepdims=False, initial=None, where=True):  # noqa: A001
    """Maximum over ``axis``; tied maxima share the derivative evenly."""
    return _extreme("max", maximum, a, axis, out, keepdims, initial, where)


def min(a, axis=None, out=None, keepdims=False, initial=None, where=True):  # noqa: A001
    """Minimum over ``axis``; tied minima share the derivative evenly."""
    return _extreme("min", minimum, a, axis, out, keepdims, initial, where)


amax, amin = max, min


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=None, where=True):
    """Product over ``axis``, as ``numpy.prod``."""
    if where is not True:
        refuse("prod", "where", "a mask", "select the entries first (a[mask])")
    total = _reduce("prod", a, axis, keepdims, out, dtype)[0]
    return total if initial is None else multiply(total, float(initial))


def ptp(a, axis=None, out=None, keepdims=False):
    """``max - min`` over ``axis``."""
    return subtract(max(a, axis, out, keepdims), min(a, axis, out, keepdims))


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=None,
        correction=None):
    """Variance ``sum((a - mean)^2) / (n - ddof)`` over ``axis``, as ``numpy.var``."""
    check_out("var", out)
    check_dtype("var", dtype)
    if mean is not None:
        refuse("var", "mean", "a precomputed mean", "leave it out; the mean is recomputed")
    ddof = ddof if correction is None else correction
    if is_traced(where):
        refuse("var", "where", "a traced mask", "compute the weighted mean and squares with "
               "np.sum(..., where=mask) / np.sum(mask)")
    a = lift(a)
    shape = shape_of(a)
    axes = axes_of(axis, len(shape), "var")
    weights = np.ones(shape) if where is True else \
        np.broadcast_to(np.asarray(where, dtype=bool), shape).astype(np.float64)
    n = np.sum(weights, axis=axes, keepdims=True)
    if np.any(n - ddof <= 0):
        raise DomainError(f"var: ddof={ddof} needs more than {ddof} entries in each slice; "
                          f"the smallest slice has {int(np.min(n))}")
    centre = call("div", sum(a, axis=axes, keepdims=True, where=where), n)
    deviation = subtract(a, centre)
    if where is not True:
        deviation = multiply(deviation, weights)
    squares = sum(multiply(deviation, deviation), axis=axes, keepdims=True)
    return keep(call("reshape", call("div", squares, n - ddof),
                     shape=tuple(k for i, k in enumerate(np.shape(n)) if i not in axes)),
                shape, axes, keepdims)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=True, mean=None,
        correction=None):
    """Standard deviation ``sqrt(var)``; its derivative is infinite where var is 0."""
    return sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                    correction=correction))


def _scan(name, a, axis, dtype, out):
    check_out(name, out)
    check_dtype(name, dtype)
    a = lift(a)
    if axis is None:
        a = call("reshape", a, shape=(-1,))
        axis = 0
    axis = axes_of(axis, len(shape_of(a)), name)[0]
    return call(name, a, axis=axis)


def cumsum(a, axis=None, dtype=None, out=None):
    """Cumulative sum along ``axis`` (the flattened array when None)."""
    return _scan("cumsum", a, axis, dtype, out)


def cumprod(a, axis=None, dtype=None, out=None):
    """Cumulative product along ``axis`` (the flattened array when None)."""
    return _scan("cumprod", a, axis, dtype, out)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """``log(sum(b * exp(a), axis))`` without overflow, as ``scipy.special.logsumexp``."""
    if return_sign:
        refuse("logsumexp", "return_sign", True, "the sign of a sum of exponentials is 1")
    a = lift(a)
    if b is not None:
        b = np.asarray(b, dtype=np.float64)
        if np.any(b <= 0):
            refuse("logsumexp", "b", "weights that are not positive",
                   "use positive weights (log(b) is added to a)")
        a = call("add", a, np.log(b))
    shape = shape_of(a)
    axes = axes_of(axis, len(shape), "logsumexp")
    return keep(call("logsumexp", a, axis=axes), shape, axes, keepdims)


def _normalizer(name, x, axis):
    x = lift(x)
    if axis is None:
        shape = shape_of(x)
        return call("reshape", call(name, call("reshape", x, shape=(-1,)), axis=0), shape=shape)
    return call(name, x, axis=as_int(axis, f"{name}: axis"))


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x), axis)`` along one axis (None: over all entries)."""
    return _normalizer("softmax", x, axis)


def log_softmax(x, axis=-1):
    """``x - logsumexp(x, axis)`` along one axis (None: over all entries)."""
    return _normalizer("log_softmax", x, axis)



def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    """Sorted along ``axis`` (the flattened array when None).

    Tied entries keep their order (a stable sort), and the derivative follows the
    permutation: each output entry's derivative goes to the entry it came from.
    """
    if order is not None:
        refuse("sort", "order", order, "traced arrays have no fields")
    a = lift(a)
    if axis is None:
        a = call("reshape", a, shape=(-1,))
        axis = 0
    return call("sort", a, axis=axes_of(axis, len(shape_of(a)), "sort")[0])


def cumulative_sum(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """numpy's cumulative_sum (the array API's): `cumsum`, optionally starting with 0."""
    return _with_initial(cumsum(x, axis=axis, dtype=dtype, out=out), x, axis, include_initial,
                         0.0)


def cumulative_prod(x, /, *, axis=None, dtype=None, out=None, include_initial=False):
    """numpy's cumulative_prod: `cumprod`, optionally starting with 1."""
    return _with_initial(cumprod(x, axis=axis, dtype=dtype, out=out), x, axis,
                         include_initial, 1.0)


def _with_initial(out, x, axis, include_initial, initial):
    if not include_initial:
        return out
    shape = list(shape_of(out))
    axis = 0 if axis is None else axes_of(axis, len(shape), "cumulative")[0]
    shape[axis] = 1
    return call("concatenate", np.full(shape, initial), out, axis=axis)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    """The middle entry (mean of the two middle ones) along ``axis``, from `sort`."""
    check_out("median", out)
    a = lift(a)
    shape = shape_of(a)
    if axis is None:
        a, axes = call("reshape", a, shape=(-1,)), tuple(range(len(shape)))
        along = 0
    else:
        axes = axes_of(axis, len(shape), "median")
        if len(axes) != 1:
            refuse("median", "axis", axis, "give one axis or None")
        along = axes[0]
    n = shape_of(a)[along]
    ordered = sort(a, axis=along)
    lead = (slice(None),) * along
    middle = call("getitem", ordered, index=lead + (slice((n - 1) // 2, n // 2 + 1),))
    return keep(mean(middle, axis=along), shape, axes, keepdims)


def quantile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
             keepdims=False):
    """The q-th quantiles along ``axis`` (numpy's default "linear" method) from `sort`.

    With ``n`` entries, quantile q lies at position ``q (n - 1)`` of the sorted entries; the
    result interpolates linearly between its two neighbours (q is a constant).
    """
    check_out("quantile", out)
    if method != "linear":
        refuse("quantile", "method", method, "use the default 'linear'")
    q = np.asarray(q, dtype=np.float64)
    if np.any((q < 0) | (q > 1)):
        raise DomainError(f"quantile: q must lie in [0, 1]; got {q!r}")
    a = lift(a)
    shape = shape_of(a)
    if axis is None:
        a, axes, along = call("reshape", a, shape=(-1,)), tuple(range(len(shape))), 0
    else:
        axes = axes_of(axis, len(shape), "quantile")
        if len(axes) != 1:
            refuse("quantile", "axis", axis, "give one axis or None")
        along = axes[0]
    ordered = _last(sort(a, axis=along), along)
    n = shape_of(ordered)[-1]
    position = q * (n - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, n - 1)
    weight = position - low
    lower = call("getitem", ordered, index=(Ellipsis, low))
    upper = call("getitem", ordered, index=(Ellipsis, high))
    result = call("add", call("mul", lower, 1.0 - weight), call("mul", upper, weight))
    if q.ndim:  # numpy puts the quantiles first
        result = call("transpose", result,
                      axes=(len(shape_of(result)) - 1,) + tuple(range(len(shape_of(result)) - 1)))
    if keepdims:
        kept = tuple(1 if k in axes else m for k, m in enumerate(shape))
        result = call("reshape", result, shape=q.shape + kept)
    return result


def _last(x, axis):
    """``x`` with ``axis`` moved to the end (a transpose node when needed)."""
    n = len(shape_of(x))
    if axis == n - 1:
        return x
    order = tuple(k for k in range(n) if k != axis) + (axis,)
    return call("transpose", x, axes=order)


def percentile(a, q, axis=None, out=None, overwrite_input=False, method="linear",
               keepdims=False):
    """`quantile` with q in percent."""
    return quantile(a, np.asarray(q, dtype=np.float64) / 100.0, axis, out, overwrite_input,
                    method, keepdims)
