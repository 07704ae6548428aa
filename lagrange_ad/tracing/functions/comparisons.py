"""Comparisons, logical operations, tests and value-dependent indices as nodes of the graph.

``x > 0`` on a traced value is the node ``greater(x, 0)``, a float64 mask (1.0 where true)
with derivative zero; so are the logical operations, ``all``/``any`` (the minimum/maximum of
``a != 0``), ``isclose`` and the indices ``argmax``, ``argmin``, ``argsort``. Masks select
with ``la.where`` (the ``switch`` row when the condition is a node) or multiply; indices pick
entries with ``take`` and ``take_along_axis``. Replaying the graph at another point
recomputes all of them, so no decision taken at the traced point is baked into the graph.

What Python decides from a value (``if``, ``while``, ``int()``, a boolean mask as an index,
whose result has a value-dependent shape) raises `ControlFlowError` (`control_flow_error`).
"""

from __future__ import annotations

import numpy as np

from .core import (
    axes_of,
    call,
    check_out,
    control_flow_error,
    is_mask,
    keep,
    lift,
    refuse,
    shape_of,
    value_of,
)
from .elementwise import abs, add, multiply, subtract
from .reductions import sum
from .shapes import expand_dims


def _binary(name: str, doc: str):
    def function(x1, x2):
        return call(name, x1, x2)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


less = _binary("less", "``1.0`` where ``x1 < x2``, else ``0.0`` (a mask; derivative 0).")
less_equal = _binary("less_equal", "``1.0`` where ``x1 <= x2``, else ``0.0``.")
greater = _binary("greater", "``1.0`` where ``x1 > x2``, else ``0.0``.")
greater_equal = _binary("greater_equal", "``1.0`` where ``x1 >= x2``, else ``0.0``.")
equal = _binary("equal", "``1.0`` where ``x1 == x2``, else ``0.0``.")
not_equal = _binary("not_equal", "``1.0`` where ``x1 != x2``, else ``0.0``.")
logical_and = _binary("logical_and", "``1.0`` where both are nonzero, else ``0.0``.")
logical_or = _binary("logical_or", "``1.0`` where either is nonzero, else ``0.0``.")
logical_xor = _binary("logical_xor", "``1.0`` where exactly one is nonzero, else ``0.0``.")


def logical_not(x):
    """``1.0`` where ``x`` is zero, else ``0.0``."""
    return call("logical_not", x)


def signbit(x):
    """``1.0`` where the sign bit of ``x`` is set (negative numbers and -0.0), else ``0.0``."""
    return call("signbit", x)


def _reduce_mask(extreme: str, a, axis, keepdims):
    a = lift(a)
    shape = shape_of(a)
    axes = axes_of(axis, len(shape), extreme)
    truth = not_equal(a, 0.0)
    return keep(call(extreme, truth, axis=None if axis is None else axes), shape, axes,
                keepdims)


def all(a, axis=None, out=None, keepdims=False, *, where=True):  # noqa: A001
    """``1.0`` where every entry along ``axis`` is nonzero: the minimum of ``a != 0``."""
    _no_buffer_or_mask("all", out, where)
    return _reduce_mask("min", a, axis, keepdims)


def any(a, axis=None, out=None, keepdims=False, *, where=True):  # noqa: A001
    """``1.0`` where some entry along ``axis`` is nonzero: the maximum of ``a != 0``."""
    _no_buffer_or_mask("any", out, where)
    return _reduce_mask("max", a, axis, keepdims)


def count_nonzero(a, axis=None, *, keepdims=False):
    """The number of nonzero entries along ``axis``: the sum of ``a != 0``."""
    return sum(not_equal(a, 0.0), axis=axis, keepdims=keepdims)


def _no_buffer_or_mask(name, out, where):
    check_out(name, out)
    if where is not True:
        refuse(name, "where", "a mask", "multiply by the mask or use np.where first")


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``1.0`` where ``|a - b| <= atol + rtol |b|`` (numpy's test), else ``0.0``."""
    return less_equal(abs(subtract(a, b)), add(atol, multiply(rtol, abs(b))))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``1.0`` when every entry is close (`isclose`), else ``0.0``."""
    return all(isclose(a, b, rtol, atol))


def array_equal(a1, a2, equal_nan=False):
    """``1.0`` when the shapes agree and every entry is equal, else ``0.0``."""
    if shape_of(a1) != shape_of(a2):
        return np.float64(0.0)
    return all(equal(a1, a2))


def argmax(a, axis=None, out=None, *, keepdims=False):
    """The index of the first largest entry along ``axis`` (of the flattened array when None),
    as float64 integers; a node, recomputed on replay (derivative 0)."""
    return _arg("argmax", a, axis, out, keepdims)


def argmin(a, axis=None, out=None, *, keepdims=False):
    """The index of the first smallest entry along ``axis``, as `argmax`."""
    return _arg("argmin", a, axis, out, keepdims)


def _arg(name, a, axis, out, keepdims):
    check_out(name, out)
    a = lift(a)
    shape = shape_of(a)
    axes = axes_of(axis, len(shape), name)
    return keep(call(name, a, axis=None if axis is None else axes[0]), shape, axes, keepdims)


def argsort(a, axis=-1, kind=None, order=None, *, stable=None):
    """The permutation that sorts ``a`` along ``axis`` (stable: ties keep their order), as
    float64 integers; a node, recomputed on replay (derivative 0)."""
    if order is not None:
        refuse("argsort", "order", order, "traced arrays have no fields")
    a = lift(a)
    if axis is None:
        a, axis = call("reshape", a, shape=(-1,)), 0
    return call("argsort", a, axis=axes_of(axis, len(shape_of(a)), "argsort")[0])


def take_at(a, indices, axis=None):
    """``numpy.take(a, indices, axis)`` with traced indices (a node of integers)."""
    if is_mask(indices):
        raise control_flow_error(indices, "taking entries by a traced mask",
                                 "the number of entries taken depends on the values")
    return call("take", a, indices, axis=None if axis is None else
                axes_of(axis, len(shape_of(a)), "take")[0])


def take_along_at(arr, indices, axis=-1):
    """``numpy.take_along_axis(arr, indices, axis)`` with traced indices (``argsort`` of a
    traced value, say)."""
    return call("take_along", arr, indices, axis=None if axis is None else
                axes_of(axis, len(shape_of(arr)), "take_along_axis")[0])


def searchsorted(a, v, side="left", sorter=None):
    """Where ``v`` would be inserted into the sorted 1-D ``a``: the number of entries of ``a``
    below ``v`` (``side="left"``) or at most ``v`` (``"right"``), a sum of comparisons, so a
    node recomputed on replay."""
    if sorter is not None:
        refuse("searchsorted", "sorter", "a permutation", "sort a first (np.sort)")
    if side not in ("left", "right"):
        refuse("searchsorted", "side", side, "use 'left' or 'right'")
    if len(shape_of(a)) != 1:
        refuse("searchsorted", "a", f"shape {shape_of(a)}", "a must be a 1-D sorted array")
    below = (less if side == "left" else less_equal)(a, expand_dims(v, -1))
    return sum(below, axis=-1)


def digitize(x, bins, right=False):
    """numpy's digitize for increasing ``bins``: `searchsorted` on the other side."""
    edges = value_of(bins)
    if edges.ndim != 1 or np.any(np.diff(edges) < 0):
        refuse("digitize", "bins", "bins that are not increasing", "give increasing bins")
    return searchsorted(bins, x, side="left" if right else "right")
