"""Convolution and pooling in PyTorch's layout ``(batch, channels, *spatial)``, N = 1, 2, 3.

``conv`` is PyTorch's N-d cross-correlation of a batch of images with a bank of filters.

The input ``x`` has shape ``(B, C, *S)``, the weight ``w`` shape ``(O, C / G, *K)`` (G groups:
input channels ``g C/G .. (g + 1) C/G - 1`` feed output channels ``g O/G .. (g + 1) O/G - 1``)
and, with the windows of `windows.Windows` (zero padding, stride, dilation),

    ans[b, o, p] = sum_{c, k}  w[o, c, k] x_pad[b, g(o) C/G + c, p * stride + k * dilation].

There is no bias: add it by broadcasting. The rule is the im2col form: the windows of x
copied into a matrix ``X[b, g, (c, k), p]`` (p over the position grid of `windows.Columns`)
and one batched matrix product
``ans[b, g] = W[g] X[b, g]`` with ``W[g] = w[g O/G .., :, :].reshape(O/G, -1)``, so BLAS does
the arithmetic; a batch whose matrix would pass `COLUMNS_BUDGET` entries is taken in chunks
of examples. Being bilinear,

    jvp = conv(t_x, w) + conv(x, t_w),
    vjp_w[g] = sum_b  G[b, g] X[b, g]^T,            (a correlation of x with the cotangent)
    vjp_x = col2im( W[g]^T G[b, g] ),               (the transposed convolution)

with ``G[b, g]`` the cotangent grouped like ans; col2im adds each window entry back to the
input entry it read (`Windows.scatter`). The second derivatives are the cross terms alone
(`structure.multilinear_curvature`). The explicit Jacobian has one entry per output entry
and per tap that reads the input (not the padding), in each of the two blocks:
``d ans[b, o, p] / d x[b, c', q] = w[o, c, k]`` and ``d ans[b, o, p] / d w[o, c, k] =
x[b, c', q]`` where ``q = p * stride + k * dilation - padding``; their number is
``multiply_adds`` (twice ``B O C/G`` times the taps inside the input).

``max_pool`` takes the maximum of each window of the input padded with minus infinity. Each
output entry copies one input entry, so the rule is a selection, recomputed from the values
at every point: linear with zero curvature away from ties. Among tied entries of a window
the first in C order over the kernel offsets is the one copied (PyTorch's max_pool indices);
it is found with one pass per kernel offset, as the first offset whose entry equals the
value. ``avg_pool`` divides each window's sum of the zero-padded input by the kernel's size,
by the number of input entries in the window (``count_include_pad=False``) or by a given
divisor: linear, its cotangent spreads ``g / divisor`` over each window.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .registry import Block, Primitive, register
from .structure import linear_curvature, multilinear_curvature, size_of
from .windows import Windows, per_axis, remembered


@remembered
def geometry(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1) -> Windows:
    """The checked windows of ``conv`` on these shapes, or `ShapeError` saying what is wrong."""
    x_shape, w_shape = tuple(x_shape), tuple(w_shape)
    if len(w_shape) not in (3, 4, 5) or len(x_shape) != len(w_shape):
        raise ShapeError(f"conv takes an input (batch, channels, *spatial) and a weight "
                         f"(out_channels, in_channels / groups, *kernel) with 1, 2 or 3 spatial "
                         f"axes each; got shapes {x_shape} and {w_shape}")
    (groups,) = per_axis(groups, 1, "conv", "groups", 1)
    if x_shape[1] != w_shape[1] * groups:
        raise ShapeError(f"conv: the input has {x_shape[1]} channels but the weight of shape "
                         f"{w_shape} with groups={groups} takes {w_shape[1]} * {groups} = "
                         f"{w_shape[1] * groups}")
    if w_shape[0] % groups:
        raise ShapeError(f"conv: groups={groups} does not divide the {w_shape[0]} output "
                         f"channels of the weight of shape {w_shape}")
    return Windows.of("conv", x_shape, w_shape[2:], stride, padding, dilation)


def _columns(x, windows: Windows, groups: int) -> np.ndarray:
    """The im2col matrix ``X[b, g, (c, k), grid]`` of ``x`` (a copy; see `Columns`)."""
    return windows.columns.matrix(x).reshape(np.shape(x)[0], groups, -1,
                                             size_of(windows.columns.grid))


def _grouped_weight(w, groups: int) -> np.ndarray:
    """``W[g, o, (c, k)]``: the filters of each group as the rows of one matrix."""
    return np.reshape(w, (groups, np.shape(w)[0] // groups, -1))


# entries of one im2col matrix (64 MB); a larger batch is taken in chunks of examples
COLUMNS_BUDGET = 2**23


def _chunks(windows: Windows, batch: int, channels: int) -> list[slice]:
    """Slices of the batch whose im2col matrices stay within `COLUMNS_BUDGET` entries."""
    per_example = channels * size_of(windows.kernel) * size_of(windows.columns.grid)
    step = max(1, COLUMNS_BUDGET // max(per_example, 1))
    return [slice(start, min(start + step, batch)) for start in range(0, batch, step)]


def _conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    windows = geometry(np.shape(x), np.shape(w), stride, padding, dilation, groups)
    weight = _grouped_weight(w, groups)

    def chunk(xs):
        ans = np.matmul(weight, _columns(xs, windows, groups))
        return windows.columns.crop(ans.reshape(np.shape(xs)[0], np.shape(w)[0], -1))

    parts = _chunks(windows, *np.shape(x)[:2])
    if len(parts) == 1:
        return chunk(x)
    return np.concatenate([chunk(x[part]) for part in parts], axis=0)


def _vjp_operand(k, g, ans, x, w, stride=1, padding=0, dilation=1, groups=1):
    windows = geometry(np.shape(x), np.shape(w), stride, padding, dilation, groups)
    weight = _grouped_weight(w, groups)
    out_channels = np.shape(w)[0]
    parts = _chunks(windows, *np.shape(x)[:2])
    cotangents = []
    for part in parts:
        xs, gs = (x, g) if len(parts) == 1 else (x[part], g[part])
        grouped = windows.columns.extend(gs).reshape(np.shape(xs)[0], groups,
                                                     out_channels // groups, -1)
        if k == 0:
            cols = np.matmul(np.swapaxes(weight, -1, -2), grouped)
            cotangents.append(windows.columns.scatter(cols, np.shape(xs)))
        else:
            # a product per example, G[b, g] X[b, g]^T (BLAS reads the transpose in place)
            cols = _columns(xs, windows, groups)
            cotangents.append(np.matmul(grouped, np.swapaxes(cols, -1, -2)).sum(axis=0))
    if k == 0:
        return cotangents[0] if len(parts) == 1 else np.concatenate(cotangents, axis=0)
    return sum(cotangents[1:], cotangents[0]).reshape(np.shape(w))


def _vjp(g, ans, x, w, **params):
    return _vjp_operand(0, g, ans, x, w, **params), _vjp_operand(1, g, ans, x, w, **params)


def _jvp(ts, ans, x, w, **params):
    tx, tw = ts
    out = np.zeros(np.shape(ans))
    if tx is not None:
        out = out + _conv(tx, w, **params)
    if tw is not None:
        out = out + _conv(x, tw, **params)
    return out


def _jacobian_operand(k, ans, x, w, stride=1, padding=0, dilation=1, groups=1):
    """Block k: one entry per output entry and per tap reading the input (not padding)."""
    x, w = np.asarray(x, dtype=np.float64), np.asarray(w, dtype=np.float64)
    windows = geometry(x.shape, w.shape, stride, padding, dilation, groups)
    batch, out_channels = x.shape[0], w.shape[0]
    per_group, taps, positions = out_channels // groups, size_of(w.shape[1:]), \
        size_of(windows.out)
    # read[b, g, 1, (c, k), p]: the flat index of the input entry read, -1 in the padding
    ids = np.arange(x.size).reshape(x.shape)
    read = windows.view(ids, fill=-1).reshape(batch, groups, 1, taps, positions)
    o = np.arange(out_channels).reshape(groups, per_group)[None, :, :, None, None]
    rows = (np.arange(batch)[:, None, None, None, None] * out_channels + o) * positions \
        + np.arange(positions)
    w_index = o * taps + np.arange(taps)[:, None]
    shape = (batch, groups, per_group, taps, positions)
    read, rows, w_index = (np.broadcast_to(a, shape) for a in (read, rows, w_index))
    keep = read >= 0
    if k == 0:
        return Block(rows[keep], read[keep], w.ravel()[w_index[keep]])
    return Block(rows[keep], w_index[keep], x.ravel()[read[keep]])


def _jacobian(ans, x, w, **params):
    return tuple(_jacobian_operand(k, ans, x, w, **params) for k in (0, 1))


def _shape(x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1):
    windows = geometry(x_shape, w_shape, stride, padding, dilation, groups)
    return (x_shape[0], w_shape[0]) + windows.out


def _count(ans_shape, x_shape, w_shape, stride=1, padding=0, dilation=1, groups=1):
    windows = geometry(x_shape, w_shape, stride, padding, dilation, groups)
    return 2 * x_shape[0] * w_shape[0] * w_shape[1] * windows.taps_inside()


CONV = register(Primitive(
    name="conv", arity=2, evaluate=_conv, vjp=_vjp, jvp=_jvp, shape=_shape,
    jacobian=_jacobian, jacobian_operand=_jacobian_operand,
    param_names=("stride", "padding", "dilation", "groups"), multiply_adds=_count,
    vjp_operand=_vjp_operand, vjp_reads=("operands",),
    curvature=multilinear_curvature(_vjp_operand),
))


# ---------------------------------------------------------------------------------- pooling


@remembered
def pool_geometry(name: str, x_shape, kernel_size, stride=None, padding=0,
                  dilation=1) -> Windows:
    """The checked windows of a pooling row (stride defaults to the kernel size).

    No side may be padded by as much as the window's span: every window reads at least one
    input entry (PyTorch asks for at most half the span on each side, and pads the right
    side further in its ceil mode, which stays within this bound).
    """
    x_shape = tuple(x_shape)
    if len(x_shape) not in (3, 4, 5):
        raise ShapeError(f"{name} takes an input (batch, channels, *spatial) with 1, 2 or 3 "
                         f"spatial axes; got shape {x_shape}")
    n = len(x_shape) - 2
    kernel = per_axis(kernel_size, n, name, "kernel_size", 1)
    windows = Windows.of(name, x_shape, kernel, kernel if stride is None else stride, padding,
                         dilation)
    for axis, (span, pair) in enumerate(zip(windows.span, windows.padding)):
        if max(pair) >= span:
            raise ShapeError(f"{name}: padding {pair} along spatial axis {axis} is as wide as "
                             f"the window's span {span}, so a window would read padding "
                             f"alone; pad at most {span - 1} (PyTorch: at most {span // 2})")
    return windows


def _pool_shape(name):
    def shape(x_shape, kernel_size, stride=None, padding=0, dilation=1, **params):
        return tuple(x_shape[:2]) + pool_geometry(name, x_shape, kernel_size, stride, padding,
                                                  dilation).out
    return shape


def _window_matrix(x, windows: Windows, fill: float) -> np.ndarray:
    """The windows of ``x`` as ``(B, C, taps, positions)`` (a copy), padded with ``fill``."""
    shape = np.shape(x)
    return windows.view(x, fill).reshape(shape[0], shape[1], -1, size_of(windows.out))


def _max_pool(x, kernel_size, stride=None, padding=0, dilation=1):
    return pool_geometry("max_pool", np.shape(x), kernel_size, stride, padding,
                         dilation).maximum(x)


def _first_maxima(ans, x, kernel_size, stride=None, padding=0, dilation=1):
    """The windows and, per kernel offset, where the entry read there is the one its output
    entry copies: the first maximum of the window in C order over the kernel offsets (as
    PyTorch's max_pool indices). Chosen afresh from the values at every point."""
    windows = pool_geometry("max_pool", np.shape(x), kernel_size, stride, padding, dilation)
    padded = windows.padded(np.asarray(x, dtype=np.float64), -np.inf)
    free = None  # where no earlier offset was the maximum (None: everywhere)
    hits = {}
    for offset in windows.offsets():
        hit = windows.reads(padded, offset) == ans
        if free is None:
            free = ~hit
        else:
            hit &= free
            free ^= hit
        hits[offset] = hit
    return windows, hits


def _max_pool_vjp(g, ans, x, **params):
    windows, hits = _first_maxima(ans, x, **params)
    return (windows.scatter(lambda offset: hits[offset] * g, np.shape(x)),)


def _max_pool_jvp(ts, ans, x, **params):
    windows, hits = _first_maxima(ans, x, **params)
    padded = windows.padded(ts[0], 0.0)
    return sum(hit * windows.reads(padded, offset) for offset, hit in hits.items())


def _max_pool_jacobian(ans, x, **params):
    windows, hits = _first_maxima(ans, x, **params)
    chosen = sum(k * hit for k, hit in enumerate(hits.values()))
    shape = np.shape(x)
    planes = np.arange(shape[0] * shape[1]).reshape(shape[:2] + (1,) * len(windows.out))
    sources = (planes * size_of(windows.spatial) + windows.sources(chosen)).ravel()
    return (Block(np.arange(sources.size), sources, np.ones(sources.size)),)


MAX_POOL = register(Primitive(
    name="max_pool", arity=1, evaluate=_max_pool, vjp=_max_pool_vjp, jvp=_max_pool_jvp,
    shape=_pool_shape("max_pool"), jacobian=_max_pool_jacobian,
    param_names=("kernel_size", "stride", "padding", "dilation"),
    multiply_adds=lambda ans_shape, x_shape, **params: size_of(ans_shape),
    vjp_reads=("ans", "operands"),  # the selection: where the operand equals the value
    curvature=linear_curvature,  # a selection, constant away from ties
))


def _avg_geometry(x_shape, kernel_size, stride, padding, count_include_pad, divisor_override):
    """The windows of ``avg_pool`` and the divisor of each position, ``()`` or ``(*out)``."""
    windows = pool_geometry("avg_pool", x_shape, kernel_size, stride, padding)
    if divisor_override is not None:
        (divisor,) = per_axis(divisor_override, 1, "avg_pool", "divisor_override", 1)
        return windows, np.float64(divisor)
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise ShapeError(f"avg_pool: count_include_pad takes True or False; got "
                         f"{count_include_pad!r}")
    if count_include_pad:
        return windows, np.float64(size_of(windows.kernel))
    return windows, windows.inside_counts()


def _avg_pool(x, kernel_size, stride=None, padding=0, count_include_pad=True,
              divisor_override=None):
    windows, divisor = _avg_geometry(np.shape(x), kernel_size, stride, padding,
                                     count_include_pad, divisor_override)
    return windows.sum(x) / divisor


def _avg_pool_vjp(g, ans, x, kernel_size, stride=None, padding=0, count_include_pad=True,
                  divisor_override=None):
    shape = np.shape(x)
    windows, divisor = _avg_geometry(shape, kernel_size, stride, padding, count_include_pad,
                                     divisor_override)
    spread = g / divisor
    return (windows.scatter(lambda offset: spread, shape),)


def _avg_pool_jacobian(ans, x, kernel_size, stride=None, padding=0, count_include_pad=True,
                       divisor_override=None):
    shape = np.shape(x)
    windows, divisor = _avg_geometry(shape, kernel_size, stride, padding, count_include_pad,
                                     divisor_override)
    read = _window_matrix(np.arange(size_of(shape)).reshape(shape), windows, -1)
    rows = np.arange(size_of(np.shape(ans))).reshape(shape[:2] + (1, -1))
    weights = np.broadcast_to(1.0 / divisor, windows.out).reshape(1, 1, 1, -1)
    rows, weights = (np.broadcast_to(a, read.shape) for a in (rows, weights))
    keep = read >= 0
    return (Block(rows[keep], read[keep], weights[keep]),)


AVG_POOL = register(Primitive(
    name="avg_pool", arity=1, evaluate=_avg_pool, vjp=_avg_pool_vjp,
    jvp=lambda ts, ans, x, **params: _avg_pool(ts[0], **params),
    shape=_pool_shape("avg_pool"), jacobian=_avg_pool_jacobian,
    param_names=("kernel_size", "stride", "padding", "count_include_pad", "divisor_override"),
    multiply_adds=lambda ans_shape, x_shape, kernel_size, stride=None, padding=0, **params:
        x_shape[0] * x_shape[1] * pool_geometry("avg_pool", x_shape, kernel_size, stride,
                                                padding).taps_inside(),
    vjp_reads=(),  # linear: the shapes alone
    curvature=linear_curvature,
))
