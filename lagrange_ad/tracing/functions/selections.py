"""Selections of entries: repeat, tile, roll, flip, rot90, take, diagonals, triangles, pad.

Those that reorder or repeat entries (repeat, tile, roll, diagonal, pad by reflection) are a
``getitem`` of the flattened array with the index map numpy's own function gives when applied
to the entry numbers ``arange(size).reshape(shape)``: the derivative of a selection is the
scatter-add of the same map. ``tril`` and ``triu`` multiply by a constant mask; constant
padding is the ``pad`` row.
"""

from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .comparisons import take_along_at, take_at
from .core import call, is_traced, lift, refuse, shape_of
from .elementwise import multiply
from .shapes import ravel


def _gather(a, mapping, *args, **kwargs):
    """A selection of ``a``'s entries: ``mapping`` (a numpy function) applied to entry numbers."""
    a = lift(a)
    shape = shape_of(a)
    ids = mapping(np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape), *args, **kwargs)
    flat = a if len(shape) == 1 else call("reshape", a, shape=(-1,))
    return call("getitem", flat, index=np.asarray(ids, dtype=np.intp))


def _padded_gather(a, ids):
    """Entries ``ids`` of ``a``'s flattened entries, where id -1 stands for a zero."""
    flat = call("concatenate", call("reshape", a, shape=(-1,)), np.zeros(1), axis=0)
    return call("getitem", flat, index=np.asarray(ids, dtype=np.intp))


def repeat(a, repeats, axis=None):
    """Repeat each entry (along ``axis``; of the flattened array when None)."""
    return _gather(a, np.repeat, repeats, axis=axis)


def tile(A, reps):
    """Repeat the whole array ``reps`` times along each axis."""
    return _gather(A, np.tile, reps)


def roll(a, shift, axis=None):
    """Shift entries cyclically along ``axis`` (of the flattened array when None)."""
    return _gather(a, np.roll, shift, axis=axis)


def flip(m, axis=None):
    """Reverse the order of entries along ``axis`` (all axes when None)."""
    return _gather(m, np.flip, axis=axis)


def fliplr(m):
    """Reverse along axis 1."""
    return flip(m, 1)


def flipud(m):
    """Reverse along axis 0."""
    return flip(m, 0)


def rot90(m, k=1, axes=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``."""
    return _gather(m, np.rot90, k, axes)


def take(a, indices, axis=None, out=None, mode="raise"):
    """Entries at ``indices`` along ``axis`` (of the flattened array when None)."""
    if out is not None or mode != "raise":
        refuse("take", "out/mode", (out, mode), "use the returned value and in-range indices")
    if is_traced(indices):  # indices computed from values (argmax): recomputed on replay
        return take_at(a, indices, axis=axis)
    return _gather(a, np.take, indices, axis=axis)


def diagonal(a, offset=0, axis1=0, axis2=1):
    """The diagonal of the planes ``(axis1, axis2)`` (last axis of the result)."""
    return _gather(a, np.diagonal, offset, axis1, axis2)


def diag(v, k=0):
    """The k-th diagonal of a matrix, or the square matrix with vector ``v`` on it."""
    shape = shape_of(v)
    if len(shape) == 2:
        return diagonal(v, k)
    if len(shape) != 1:
        raise ShapeError(f"diag needs a vector or a matrix; got shape {shape}")
    n = shape[0] + abs(k)
    ids = np.full((n, n), shape[0], dtype=np.intp)
    rows = np.arange(shape[0]) + max(-k, 0)
    ids[rows, rows + k] = np.arange(shape[0])
    return _padded_gather(v, ids)


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """The sum of the diagonal (of each plane ``(axis1, axis2)``)."""
    from .reductions import sum

    return sum(diagonal(a, offset, axis1, axis2), axis=-1, dtype=dtype, out=out)


def _triangle(m, k, keep_lower):
    shape = shape_of(m)
    if len(shape) < 2:
        raise ShapeError(f"{'tril' if keep_lower else 'triu'} needs at least 2 axes; "
                         f"got shape {shape}")
    mask = np.tri(shape[-2], shape[-1], k) if keep_lower else 1.0 - np.tri(shape[-2], shape[-1],
                                                                           k - 1)
    return multiply(m, mask)


def tril(m, k=0):
    """The lower triangle (entries ``j <= i + k``), the rest zero: ``m * mask``."""
    return _triangle(m, k, True)


def triu(m, k=0):
    """The upper triangle (entries ``j >= i + k``), the rest zero: ``m * mask``."""
    return _triangle(m, k, False)


def pad(array, pad_width, mode="constant", **kwargs):
    """numpy's pad: ``constant`` (with ``constant_values``), ``edge``, ``reflect``, ``symmetric``
    and ``wrap`` (selections of the entries: their derivative is the scatter-add)."""
    array = lift(array)
    shape = shape_of(array)
    if mode == "constant":
        values = kwargs.pop("constant_values", 0.0)
        if kwargs:
            refuse("pad", next(iter(kwargs)), "", "constant mode takes constant_values only")
        try:
            pairs = np.broadcast_to(np.asarray(pad_width), (len(shape), 2))
        except ValueError:
            raise ShapeError(f"pad: pad_width {pad_width!r} does not fit an array of shape "
                             f"{shape}") from None
        out = call("pad", array, pad_width=tuple((int(b), int(a)) for b, a in pairs.tolist()))
        if np.any(np.asarray(values) != 0):
            fill = np.pad(np.zeros(shape), pad_width, constant_values=values)
            out = call("add", out, fill)
        return out
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        refuse("pad", "mode", mode, "use constant, edge, reflect, symmetric or wrap")
    return _gather(array, np.pad, pad_width, mode=mode, **kwargs)


def take_along_axis(arr, indices, axis=-1):
    """Entries picked along ``axis`` by an index array (numpy's take_along_axis)."""
    if is_traced(indices):  # argsort of a traced value: recomputed on replay
        return take_along_at(arr, indices, axis=axis)
    return _gather(arr, np.take_along_axis, np.asarray(indices), axis)


def diagflat(v, k=0):
    """A square matrix with the flattened ``v`` on its k-th diagonal."""
    return diag(ravel(v), k)


def delete(arr, obj, axis=None):
    """The entries of ``arr`` without those at ``obj`` along ``axis`` (of the flattened array
    when None): a selection."""
    return _gather(arr, np.delete, obj, axis=axis)


def insert(arr, obj, values, axis=None):
    """``values`` inserted into ``arr`` before the indices ``obj`` along ``axis`` (numpy's
    insert): numpy's own insert applied to entry numbers tells which entry of ``arr`` or of
    ``values`` each output entry is, and a gather of both picks them."""
    arr, values = lift(arr), lift(values)
    size = int(np.prod(shape_of(arr), dtype=np.int64))
    ids = np.arange(size).reshape(shape_of(arr))
    value_ids = size + np.arange(int(np.prod(shape_of(values), dtype=np.int64)))
    picked = np.insert(ids, obj, value_ids.reshape(shape_of(values)), axis=axis)
    both = call("concatenate", call("reshape", arr, shape=(-1,)),
                call("reshape", values, shape=(-1,)), axis=0)
    return call("getitem", both, index=np.asarray(picked, dtype=np.intp))


def resize(a, new_shape):
    """The entries of ``a`` repeated in C order to fill ``new_shape`` (numpy's resize): a
    selection."""
    return _gather(a, np.resize, new_shape)
