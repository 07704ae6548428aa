"""Functions that move entries: reshaping, joining, splitting.

Each is one or a few ``reshape``, ``transpose``, ``concatenate``, ``stack``, ``getitem`` or
``broadcast_to`` nodes; the functions that reorder or repeat entries are in `selections`.
"""

from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from ..tape import Traced
from .core import (
    as_int,
    as_ints,
    axes_of,
    call,
    lift,
    ndim_of,
    refuse,
    shape_of,
)
from .elementwise import subtract


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    """The same entries in a new shape (order "C"; "F" through transposes)."""
    shape = newshape if shape is None else shape
    shape = as_ints(np.atleast_1d(shape) if np.ndim(shape) == 0 else shape, "reshape: shape")
    if order == "F":
        reversed_shape = tuple(reversed(shape))
        flat = call("reshape", transpose(a), shape=reversed_shape)
        return transpose(flat)
    if order not in ("C", "A", "K"):
        refuse("reshape", "order", order, "use 'C' or 'F'")
    return call("reshape", a, shape=shape)


def transpose(a, axes=None):
    """Permute axes (reverse them by default)."""
    return call("transpose", a, axes=None if axes is None else as_ints(axes, "transpose: axes"))


def ravel(a, order="C"):
    """The entries as a vector (C order; "F" through a transpose)."""
    return reshape(a, (-1,), order=order)


def squeeze(a, axis=None):
    """Remove axes of length one (all of them, or those in ``axis``)."""
    shape = shape_of(a)
    axes = tuple(k for k, n in enumerate(shape) if n == 1) if axis is None else \
        axes_of(axis, len(shape), "squeeze")
    if any(shape[k] != 1 for k in axes):
        raise ShapeError(f"squeeze: cannot remove an axis of length other than 1 from shape "
                         f"{shape} (axis={axis!r})")
    return call("reshape", a, shape=tuple(n for k, n in enumerate(shape) if k not in axes))


def expand_dims(a, axis):
    """Insert axes of length one at ``axis`` (an int or a tuple)."""
    shape = shape_of(a)
    axes = axes_of(axis, len(shape) + (1 if np.ndim(axis) == 0 else len(axis)), "expand_dims")
    out = list(shape)
    for k in axes:
        out.insert(k, 1)
    return call("reshape", a, shape=tuple(out))


def swapaxes(a, axis1, axis2):
    """Exchange two axes."""
    n = ndim_of(a)
    order = list(range(n))
    i, j = axes_of(axis1, n, "swapaxes")[0], axes_of(axis2, n, "swapaxes")[0]
    order[i], order[j] = order[j], order[i]
    return transpose(a, order)


def moveaxis(a, source, destination):
    """Move axes to new positions; the others keep their order."""
    n = ndim_of(a)
    src = [axes_of(int(k), n, "moveaxis")[0] for k in np.atleast_1d(source)]
    dst = [axes_of(int(k), n, "moveaxis")[0] for k in np.atleast_1d(destination)]
    if len(src) != len(dst):
        raise ShapeError("moveaxis: source and destination need the same number of axes")
    order = [k for k in range(n) if k not in src]
    for to, k in sorted(zip(dst, src)):
        order.insert(to, k)
    return transpose(a, order)


def _atleast(n, arrays):
    out = []
    for a in arrays:
        a = lift(a)
        shape = shape_of(a)
        if len(shape) >= n:
            out.append(a)
            continue
        if n == 3 and len(shape) == 2:
            new = shape + (1,)
        elif n == 3 and len(shape) == 1:
            new = (1,) + shape + (1,)
        else:
            new = (1,) * (n - len(shape)) + shape
        out.append(call("reshape", a, shape=new))
    return out[0] if len(out) == 1 else out


def atleast_1d(*arrays):
    """Views with at least one axis (numpy's rules)."""
    return _atleast(1, arrays)


def atleast_2d(*arrays):
    """Views with at least two axes (a vector becomes a row)."""
    return _atleast(2, arrays)


def atleast_3d(*arrays):
    """Views with at least three axes (numpy's rules: (n,) -> (1, n, 1), (m, n) -> (m, n, 1))."""
    return _atleast(3, arrays)


def _sequence(name, arrays):
    if isinstance(arrays, (Traced, np.ndarray)) and not (
            isinstance(arrays, np.ndarray) and arrays.dtype == object):
        return [arrays[k] for k in range(len(arrays))]
    arrays = [lift(a) for a in arrays]
    if not arrays:
        raise ShapeError(f"{name} needs at least one array")
    return arrays


def concatenate(arrays, axis=0, out=None, dtype=None, casting=None):
    """Join arrays along an existing axis (``axis=None``: their flattened entries)."""
    if out is not None:
        refuse("concatenate", "out", "a buffer", "use the returned value")
    arrays = _sequence("concatenate", arrays)
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    return call("concatenate", *arrays, axis=as_int(axis, "concatenate: axis"))


def stack(arrays, axis=0, out=None, dtype=None, casting=None):
    """Join arrays along a new axis."""
    if out is not None:
        refuse("stack", "out", "a buffer", "use the returned value")
    return call("stack", *_sequence("stack", arrays), axis=as_int(axis, "stack: axis"))


def vstack(tup, dtype=None, casting=None):
    """Stack rows: 1-D arrays become rows, then join along axis 0."""
    return concatenate(atleast_2d(*_sequence("vstack", tup)) if len(tup) > 1
                       else [atleast_2d(*_sequence("vstack", tup))], axis=0)


row_stack = vstack


def hstack(tup, dtype=None, casting=None):
    """Join along axis 1 (axis 0 for 1-D arrays)."""
    arrays = _sequence("hstack", tup)
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, axis=0 if ndim_of(arrays[0]) == 1 else 1)


def dstack(tup):
    """Join along axis 2 after making every array 3-D."""
    arrays = _sequence("dstack", tup)
    return concatenate([atleast_3d(a) for a in arrays], axis=2)


def column_stack(tup):
    """1-D arrays as columns of a matrix; 2-D arrays joined along axis 1."""
    arrays = []
    for a in _sequence("column_stack", tup):
        arrays.append(call("reshape", a, shape=(-1, 1)) if ndim_of(a) < 2 else a)
    return concatenate(arrays, axis=1)


def split(ary, indices_or_sections, axis=0):
    """Split into pieces along ``axis`` (numpy's rules, including equal sections)."""
    return _split("split", ary, indices_or_sections, axis, np.split)


def array_split(ary, indices_or_sections, axis=0):
    """`split` that allows sections of unequal length."""
    return _split("array_split", ary, indices_or_sections, axis, np.array_split)


def _split(name, ary, sections, axis, numpy_split):
    ary = lift(ary)
    shape = shape_of(ary)
    axis = axes_of(axis, len(shape), name)[0]
    try:
        pieces = numpy_split(np.arange(shape[axis]), sections)
    except ValueError as exc:
        raise ShapeError(f"{name}: {exc}") from None
    lead = (slice(None),) * axis
    return [call("getitem", ary, index=lead + (slice(int(p[0]), int(p[-1]) + 1),))
            if len(p) else call("getitem", ary, index=lead + (slice(0, 0),)) for p in pieces]


def append(arr, values, axis=None):
    """``values`` joined to the end of ``arr`` (both flattened when ``axis`` is None)."""
    if axis is None:
        return concatenate([ravel(arr), ravel(values)], axis=0)
    return concatenate([arr, values], axis=axis)


def diff(a, n=1, axis=-1, prepend=None, append=None):
    """The n-th forward difference along ``axis``."""
    a = lift(a)
    axis = axes_of(axis, ndim_of(a), "diff")[0]
    if prepend is not None or append is not None:
        parts = [p for p in (prepend, a, append) if p is not None]
        shape = list(shape_of(a))
        shape[axis] = 1
        a = concatenate([a if p is a else np.broadcast_to(p, shape) if np.ndim(p) == 0
                         else p for p in parts], axis=axis)
    lead = (slice(None),) * axis
    for _ in range(as_int(n, "diff: n")):
        a = subtract(call("getitem", a, index=lead + (slice(1, None),)),
                     call("getitem", a, index=lead + (slice(None, -1),)))
    return a


def broadcast_to(array, shape, subok=False):
    """``array`` repeated to ``shape`` by numpy's broadcasting rules."""
    return call("broadcast_to", array, shape=as_ints(np.atleast_1d(shape), "broadcast_to: shape"))


def _sections(name):
    def split_along(ary, indices_or_sections):
        axis = {"vsplit": 0, "hsplit": 1 if ndim_of(ary) > 1 else 0, "dsplit": 2}[name]
        return _split(name, ary, indices_or_sections, axis, np.split)
    split_along.__name__ = name
    split_along.__doc__ = f"numpy's {name}: `split` along axis " + \
        {"vsplit": "0", "hsplit": "1 (0 for vectors)", "dsplit": "2"}[name] + "."
    return split_along


vsplit, hsplit, dsplit = _sections("vsplit"), _sections("hsplit"), _sections("dsplit")


def unstack(x, /, *, axis=0):
    """The slices along ``axis``, as a tuple."""
    x = lift(x)
    axis = axes_of(axis, ndim_of(x), "unstack")[0]
    lead = (slice(None),) * axis
    return tuple(call("getitem", x, index=lead + (k,)) for k in range(shape_of(x)[axis]))


def rollaxis(a, axis, start=0):
    """numpy's rollaxis: axis ``axis`` moved to before position ``start``."""
    n = ndim_of(a)
    axis = axes_of(axis, n, "rollaxis")[0]
    start = start % (n + 1) if start < 0 else start
    return moveaxis(a, axis, start - 1 if start > axis else start)


def matrix_transpose(x, /):
    """The last two axes exchanged."""
    return swapaxes(x, -1, -2)


def ediff1d(ary, to_end=None, to_begin=None):
    """Differences of consecutive entries of the flattened array."""
    out = diff(ravel(ary))
    parts = [p for p in (to_begin, out, to_end) if p is not None]
    return concatenate([ravel(p) if p is not out else p for p in parts]) if len(parts) > 1 \
        else out


def block(arrays):
    """An array assembled from nested lists of blocks (numpy's block): the innermost lists are
    joined along the last axis, the next ones along the axis before, and so on; blocks of
    fewer dimensions get leading axes of length 1."""
    depth, probe = 0, arrays
    while isinstance(probe, list):
        if not probe:
            refuse("block", "arrays", "an empty list", "give non-empty lists of blocks")
        depth, probe = depth + 1, probe[0]
    leaves = []
    pending = [arrays]
    while pending:  # the blocks, to find the number of dimensions of the result
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        else:
            leaves.append(ndim_of(item))
    ndim = max(max(leaves), depth)

    def assemble(item, level):
        if not isinstance(item, list):
            item = lift(item)
            return call("reshape", item, shape=(1,) * (ndim - ndim_of(item)) + shape_of(item))
        return concatenate([assemble(part, level + 1) for part in item], axis=level - depth)

    return assemble(arrays, 0)


def gradient(f, *varargs, axis=None, edge_order=1):
    """numpy's gradient with uniform spacings (scalars in ``varargs``): central differences
    ``(f_{k+1} - f_{k-1}) / 2h`` inside and one-sided ones ``(f_1 - f_0) / h`` at the edges
    (``edge_order=1``); one array per axis (a list when more than one)."""
    f = lift(f)
    ndim = ndim_of(f)
    axes = tuple(range(ndim)) if axis is None else axes_of(axis, ndim, "gradient")
    if edge_order != 1:
        refuse("gradient", "edge_order", edge_order, "use edge_order=1")
    spacings = varargs * len(axes) if len(varargs) == 1 else varargs or (1.0,) * len(axes)
    if len(spacings) != len(axes) or any(np.ndim(h) != 0 for h in spacings):
        refuse("gradient", "varargs", varargs, "give one scalar spacing, or one per axis")
    out = []
    for a, h in zip(axes, spacings):
        n = shape_of(f)[a]
        if n < 2:
            raise ShapeError(f"gradient needs at least 2 entries along axis {a}; got {n}")
        lead = (slice(None),) * a

        def part(s, lead=lead):
            return call("getitem", f, index=lead + (s,))
        edges_first = call("div", subtract(part(slice(1, 2)), part(slice(0, 1))), float(h))
        edges_last = call("div", subtract(part(slice(n - 1, n)), part(slice(n - 2, n - 1))),
                          float(h))
        inside = call("div", subtract(part(slice(2, n)), part(slice(0, n - 2))), 2.0 * float(h))
        out.append(concatenate([edges_first, inside, edges_last], axis=a) if n > 2 else
                   concatenate([edges_first, edges_last], axis=a))
    return out[0] if len(out) == 1 else out
