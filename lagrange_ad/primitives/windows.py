"""Sliding windows over the trailing axes of ``(batch, channels, *spatial)`` arrays.

Convolution and pooling read, for every output position ``p`` and kernel offset ``k`` (both
multi-indices over the N spatial axes), the entry of the padded input at

    q = p * stride + k * dilation            (padded coordinates; ``q - before`` in the input),

so along one axis of length ``n`` with ``before + after`` padding, a window of ``K`` taps
spans ``e = dilation (K - 1) + 1`` entries and there are ``P = (n + before + after - e) //
stride + 1`` positions (PyTorch's ``floor`` output size). `Windows` holds this geometry and
the moves the rows are built from:

``view``            the windows as one strided view ``(batch, channels, *K, *P)`` of the
                    padded input, without copying (reshaping it copies: the im2col matrix);
``reads``           the entries read at one kernel offset by every position, a strided view
                    ``(batch, channels, *P)``: `sum` and `maximum` make one pass per offset;
``scatter``         the transpose: per kernel offset, values added back to the input entries
                    they read (col2im), one strided addition per offset;
``sources``         for chosen kernel offsets, the flat index of the input entry they read;
``columns``         the im2col layout of convolution (`Columns`), whose matrices move long
                    contiguous stretches when the strides are one.

The parameters are normalized here once (`per_axis`, `padding_pairs`) and checked with
`ShapeError` messages that name the row, the parameter and the value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, lru_cache, wraps
from itertools import product

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ShapeError
from .structure import size_of


def remembered(function: Callable) -> Callable:
    """``function`` with its results remembered for hashable arguments (shapes and parameters
    as tuples, as the ``la.`` functions record them); other arguments are computed each time.

    A row's rules read their geometry at every call (evaluation, shape, each cotangent), and
    a geometry is the same for every call at one node.
    """
    cached = lru_cache(maxsize=256)(function)

    @wraps(function)
    def lookup(*args, **kwargs):
        try:
            return cached(*args, **kwargs)
        except TypeError:  # an unhashable argument (a list): computed afresh
            return function(*args, **kwargs)

    return lookup


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def per_axis(value, n: int, name: str, what: str, minimum: int) -> tuple[int, ...]:
    """``value`` (an int, or one int per spatial axis) as n ints of at least ``minimum``."""
    values = (value,) * n if _is_int(value) else value
    try:
        values = tuple(values)
    except TypeError:
        values = None
    if values is None or len(values) != n or not all(_is_int(v) and v >= minimum
                                                     for v in values):
        raise ShapeError(f"{name}: {what} takes an int >= {minimum} or a tuple of {n} such "
                         f"ints (one per spatial axis); got {value!r}")
    return tuple(int(v) for v in values)


def padding_pairs(value, n: int, name: str) -> tuple[tuple[int, int], ...]:
    """Padding as one ``(before, after)`` pair of non-negative ints per spatial axis.

    An int pads every side by that much, a tuple of n ints pads both sides of each axis
    (PyTorch's symmetric padding), a tuple of n pairs says each side.
    """
    if _is_int(value) or (np.ndim(value) == 1 and all(_is_int(v) for v in value)):
        sides = per_axis(value, n, name, "padding", 0)
        return tuple((p, p) for p in sides)
    try:
        pairs = tuple(tuple(pair) for pair in value)
    except TypeError:
        pairs = ()
    if len(pairs) != n or not all(len(pair) == 2 and all(_is_int(v) and v >= 0 for v in pair)
                                  for pair in pairs):
        raise ShapeError(f"{name}: padding takes an int >= 0, a tuple of {n} such ints, or "
                         f"{n} (before, after) pairs; got {value!r}")
    return tuple((int(a), int(b)) for a, b in pairs)


@dataclass(frozen=True)
class Windows:
    """The windows of one row over inputs of spatial shape ``spatial``."""

    spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    padding: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]

    @classmethod
    @remembered
    def of(cls, name: str, x_shape: tuple, kernel, stride, padding, dilation) -> Windows:
        """The checked geometry of row ``name`` on an input of shape ``x_shape``."""
        n = len(x_shape) - 2
        if n < 1:
            raise ShapeError(f"{name} takes an input (batch, channels, *spatial) with at least "
                             f"one spatial axis; got shape {tuple(x_shape)}")
        kernel = per_axis(kernel, n, name, "kernel_size", 1)
        windows = cls(tuple(int(s) for s in x_shape[2:]), kernel,
                      per_axis(stride, n, name, "stride", 1), padding_pairs(padding, n, name),
                      per_axis(dilation, n, name, "dilation", 1))
        for axis, (size, span, (before, after)) in enumerate(
                zip(windows.spatial, windows.span, windows.padding)):
            if size + before + after < span:
                raise ShapeError(
                    f"{name}: along spatial axis {axis} the window spans {span} entries "
                    f"(dilation * (kernel - 1) + 1) but the padded input has only "
                    f"{size + before + after} ({size} + padding {before} + {after}): the output "
                    f"would be empty; pad more or use a smaller kernel or dilation")
        return windows

    @cached_property
    def span(self) -> tuple[int, ...]:
        """Entries covered by one window along each axis, ``dilation (K - 1) + 1``."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))

    @cached_property
    def out(self) -> tuple[int, ...]:
        """The number of window positions along each axis."""
        return tuple((n + a + b - e) // s + 1 for n, (a, b), e, s in
                     zip(self.spatial, self.padding, self.span, self.stride))

    def _region(self, offset: tuple[int, ...]) -> tuple:
        """Slices of the padded input read at kernel offset ``offset`` by every position."""
        return tuple(slice(k * d, k * d + (p - 1) * s + 1, s)
                     for k, d, p, s in zip(offset, self.dilation, self.out, self.stride))

    @cached_property
    def columns(self) -> Columns:
        """The im2col layout of these windows."""
        return Columns(self)

    def padded(self, x: np.ndarray, fill: float) -> np.ndarray:
        """``x`` with its spatial axes padded by ``fill``."""
        if not any(a or b for a, b in self.padding):
            return x
        return np.pad(x, ((0, 0), (0, 0)) + self.padding, constant_values=fill)

    def view(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The windows of ``x`` as a read-only view ``(batch, channels, *kernel, *out)``."""
        n = len(self.spatial)
        spatial_axes = tuple(range(2, 2 + n))
        every = sliding_window_view(self.padded(np.asarray(x), fill), self.span,
                                    axis=spatial_axes)
        picked = every[(slice(None), slice(None))
                       + tuple(slice(0, (p - 1) * s + 1, s) for p, s in zip(self.out, self.stride))
                       + tuple(slice(None, None, d) for d in self.dilation)]
        return picked.transpose((0, 1) + tuple(range(2 + n, 2 + 2 * n)) + spatial_axes)

    def offsets(self):
        """The kernel offsets (multi-indices over the kernel), in C order."""
        return product(*(range(k) for k in self.kernel))

    def reads(self, padded: np.ndarray, offset: tuple[int, ...]) -> np.ndarray:
        """The entries of the padded input read at kernel offset ``offset``: a strided view
        ``(batch, channels, *out)``."""
        return padded[(slice(None), slice(None)) + self._region(offset)]

    def scatter(self, part, x_shape: tuple) -> np.ndarray:
        """The transpose of `view` (zero fill): the window entries, given per kernel offset as
        ``part(offset)`` of shape ``(batch, channels, *out)`` (or broadcasting to it), summed
        into the input positions they read."""
        padded = np.zeros(tuple(x_shape[:2]) + tuple(n + a + b for n, (a, b) in
                                                     zip(self.spatial, self.padding)))
        apart = all(s >= e for s, e in zip(self.stride, self.span))
        for offset in self.offsets():
            if apart:  # windows that do not overlap: each entry is written once at most
                np.copyto(self.reads(padded, offset), part(offset))
            else:
                self.reads(padded, offset)[...] += part(offset)
        return padded[(slice(None), slice(None)) + tuple(slice(a, a + n) for n, (a, _) in
                                                         zip(self.spatial, self.padding))]

    def sum(self, x: np.ndarray) -> np.ndarray:
        """The sum of each window of ``x`` (zero fill), ``(batch, channels, *out)``."""
        padded = self.padded(np.asarray(x, dtype=np.float64), 0.0)
        offsets = self.offsets()
        total = np.array(self.reads(padded, next(offsets)))
        for offset in offsets:
            total += self.reads(padded, offset)
        return total

    def maximum(self, x: np.ndarray) -> np.ndarray:
        """The maximum of each window of ``x`` (padded with minus infinity),
        ``(batch, channels, *out)``: one pass per kernel offset, no copy of the windows."""
        padded = self.padded(np.asarray(x, dtype=np.float64), -np.inf)
        offsets = self.offsets()
        best = np.array(self.reads(padded, next(offsets)))
        for offset in offsets:
            np.maximum(best, self.reads(padded, offset), out=best)
        return best

    def sources(self, offsets: np.ndarray) -> np.ndarray:
        """The flat spatial index of the input entry read at flat kernel offset
        ``offsets[..., *out]`` (C order over the kernel), for offsets that land inside."""
        taps = np.unravel_index(offsets, self.kernel)
        n = len(self.spatial)
        positions = np.indices(self.out).reshape((n,) + (1,) * (offsets.ndim - n) + self.out)
        read = [p * s + k * d - a for p, k, s, d, (a, _) in
                zip(positions, taps, self.stride, self.dilation, self.padding)]
        return np.ravel_multi_index(read, self.spatial)

    @cached_property
    def _inside_per_axis(self) -> list[np.ndarray]:
        """Per axis, the ``(K, P)`` table of whether tap k at position p reads the input."""
        tables = []
        for size, k, s, d, (a, _), p in zip(self.spatial, self.kernel, self.stride,
                                            self.dilation, self.padding, self.out):
            read = np.arange(p)[None, :] * s + np.arange(k)[:, None] * d - a
            tables.append((read >= 0) & (read < size))
        return tables

    def taps_inside(self) -> int:
        """The number of (kernel offset, position) pairs that read an input entry."""
        return int(np.prod([t.sum() for t in self._inside_per_axis], dtype=np.int64))

    def inside_counts(self) -> np.ndarray:
        """For each position, how many of its window's taps read the input, ``(*out)``."""
        count = np.ones(())
        for table in self._inside_per_axis:
            count = np.multiply.outer(count, table.sum(axis=0))
        return count



@dataclass(frozen=True)
class Columns:
    """The im2col layout of some `Windows`: ``(batch, channels, *kernel, grid)`` matrices whose
    last axis runs over a grid of window positions.

    With strides other than one the grid is the positions themselves. With unit strides it is
    wider: every axis but the first spans the whole padded input, so that the positions of one
    kernel offset read one contiguous stretch of the flattened padded input, shifted by
    ``sum_i k_i dilation_i r_i`` (``r_i`` the row-major strides of the padded input); copying
    the windows and adding them back are then a few long contiguous moves instead of many
    short ones. The extra positions of the grid read entries of the next row; they are cut
    off the results (`crop`) and given zero cotangents (`extend`).
    """

    windows: Windows

    @cached_property
    def padded_shape(self) -> tuple[int, ...]:
        return tuple(n + a + b for n, (a, b) in zip(self.windows.spatial, self.windows.padding))

    @cached_property
    def wide(self) -> bool:
        """Whether the grid is the wide one of unit strides."""
        return all(s == 1 for s in self.windows.stride) and len(self.windows.spatial) > 1

    @cached_property
    def grid(self) -> tuple[int, ...]:
        out = self.windows.out
        return (out[0],) + self.padded_shape[1:] if self.wide else out

    @cached_property
    def _shifts(self) -> list[int]:
        """The flat shift of each kernel offset, in C order."""
        strides = np.cumprod((1,) + self.padded_shape[:0:-1])[::-1]
        return [int(sum(k * d * r for k, d, r in zip(offset, self.windows.dilation, strides)))
                for offset in self.windows.offsets()]

    def _flat_buffer(self, batch_channels: tuple, fill: float) -> tuple[np.ndarray, tuple]:
        """A flat padded buffer with one padded row of slack, and the view of its interior."""
        size = size_of(self.padded_shape)
        slack = size_of(self.padded_shape[1:])
        buffer = np.full(batch_channels + (size + slack,), fill)
        inside = (slice(None), slice(None)) + tuple(
            slice(a, a + n) for n, (a, _) in zip(self.windows.spatial, self.windows.padding))
        return buffer, buffer[..., :size].reshape(batch_channels + self.padded_shape)[inside]

    def matrix(self, x: np.ndarray) -> np.ndarray:
        """The windows of ``x`` (zero padding) copied, ``(batch, channels, *kernel, grid)``."""
        x = np.asarray(x)
        if not self.wide:
            return self.windows.view(x).reshape(x.shape[:2] + self.windows.kernel + (-1,))
        buffer, inside = self._flat_buffer(x.shape[:2], 0.0)
        inside[...] = x
        cols = np.empty(x.shape[:2] + (len(self._shifts), size_of(self.grid)))
        span = cols.shape[-1]
        for k, shift in enumerate(self._shifts):
            cols[:, :, k] = buffer[..., shift:shift + span]
        return cols.reshape(x.shape[:2] + self.windows.kernel + (span,))

    def scatter(self, cols: np.ndarray, x_shape: tuple) -> np.ndarray:
        """The transpose of `matrix`: ``cols`` added back to the input entries they read."""
        if not self.wide:
            cols = cols.reshape(tuple(x_shape[:2]) + self.windows.kernel + self.windows.out)
            return self.windows.scatter(lambda offset: cols[(slice(None), slice(None)) + offset],
                                        x_shape)
        buffer, inside = self._flat_buffer(tuple(x_shape[:2]), 0.0)
        flat = cols.reshape(tuple(x_shape[:2]) + (len(self._shifts), -1))
        span = flat.shape[-1]
        for k, shift in enumerate(self._shifts):
            buffer[..., shift:shift + span] += flat[:, :, k]
        return inside

    def crop(self, y: np.ndarray) -> np.ndarray:
        """``(batch, channels, grid)`` values at the positions alone, ``(batch, channels,
        *out)`` (contiguous)."""
        y = y.reshape(y.shape[:2] + self.grid)
        if not self.wide:
            return y
        return np.ascontiguousarray(y[(slice(None), slice(None))
                                      + tuple(slice(0, p) for p in self.windows.out)])

    def extend(self, g: np.ndarray) -> np.ndarray:
        """The transpose of `crop`: ``(batch, channels, *out)`` cotangents on the grid, zero
        at its extra positions, ``(batch, channels, grid)``."""
        g = np.asarray(g)
        if not self.wide:
            return g.reshape(g.shape[:2] + (-1,))
        out = np.zeros(g.shape[:2] + self.grid)
        out[(slice(None), slice(None)) + tuple(slice(0, p) for p in self.windows.out)] = g
        return out.reshape(g.shape[:2] + (-1,))
