"""The rows of the lax primitives over sliding windows: convolution and pooling.

``conv_general_dilated`` is `la.conv` with its operands laid out as ``(batch, channels,
*spatial)`` and ``(out, in, *kernel)``; ``reduce_window_max`` and ``reduce_window_sum`` (the
lowering of ``lax.reduce_window`` with ``lax.max`` or ``lax.add``, as in max and average
pooling) are `la.max_pool` and `la.avg_pool` (with divisor 1: a sum) over the axes their window
moves along. Read by `lax_table`; only `from_jax` imports it, when it is called.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperationError
from ..tracing import functions as la
from ..tracing.functions.core import shape_of


def _permuted(x, order: tuple[int, ...]):
    return x if order == tuple(range(len(order))) else la.transpose(x, order)


def conv_general_dilated(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                         dimension_numbers, feature_group_count, batch_group_count, **params):
    r"""``la.conv`` of ``lhs`` and ``rhs`` read through ``dimension_numbers``.

    Each spec lists the axes of (batch, feature, *spatial) of lhs, (out feature, in feature,
    *spatial) of rhs and (batch, feature, *spatial) of the output ("NCHW", "OIHW", "NCHW" is
    the identity; "NHWC", "HWIO", "NHWC" are transposes). ``rhs_dilation`` is the dilation,
    ``feature_group_count`` the groups and ``padding`` the (before, after) pairs.
    """
    if any(int(d) != 1 for d in lhs_dilation) or int(batch_group_count) != 1:
        raise UnsupportedOperationError(
            f"conv_general_dilated with lhs_dilation {tuple(lhs_dilation)} and "
            f"batch_group_count {batch_group_count}: only lhs_dilation 1 and "
            f"batch_group_count 1 (a convolution, not a transposed one) are imported; write "
            f"the transposed convolution as la.conv of the padded, dilated input")
    lhs_spec, rhs_spec, out_spec = (tuple(int(a) for a in spec) for spec in dimension_numbers)
    y = la.conv(_permuted(lhs, lhs_spec), _permuted(rhs, rhs_spec),
                stride=tuple(int(s) for s in window_strides),
                padding=tuple((int(a), int(b)) for a, b in padding),
                dilation=tuple(int(d) for d in rhs_dilation), groups=int(feature_group_count))
    return _permuted(y, tuple(int(a) for a in np.argsort(out_spec)))


def _pooled(name: str, pool, x, window_dimensions, window_strides, padding, base_dilation,
            window_dilation):
    """``pool`` over the axes the window moves along, the others taken as channels.

    Those axes are moved last and the others flattened into one channel axis, so that `pool`
    sees one example ``(C, *spatial)``; the result is laid out back.
    """
    if any(int(d) != 1 for d in base_dilation):
        raise UnsupportedOperationError(
            f"{name} with base_dilation {tuple(base_dilation)}: only base_dilation 1 is "
            f"imported (the lowering of pooling); write the pooling with la.max_pool or "
            f"la.avg_pool")
    shape = shape_of(x)
    moving = [k for k in range(len(shape))
              if (int(window_dimensions[k]), int(window_strides[k]), tuple(padding[k]),
                  int(window_dilation[k])) != (1, 1, (0, 0), 1)]
    if not moving:
        return x
    fixed = [k for k in range(len(shape)) if k not in moving]
    order = tuple(fixed + moving)
    channels = int(np.prod([shape[k] for k in fixed], dtype=np.int64))
    images = la.reshape(_permuted(x, order), (channels,) + tuple(shape[k] for k in moving))
    pooled = pool(images, tuple(int(window_dimensions[k]) for k in moving),
                  tuple(int(window_strides[k]) for k in moving),
                  tuple((int(padding[k][0]), int(padding[k][1])) for k in moving),
                  tuple(int(window_dilation[k]) for k in moving))
    out = la.reshape(pooled, tuple(shape[k] for k in fixed) + shape_of(pooled)[1:])
    return _permuted(out, tuple(int(a) for a in np.argsort(order)))


def _max(images, kernel, stride, padding, dilation):
    return la.max_pool(images, kernel, stride, padding, dilation)


def _sum(images, kernel, stride, padding, dilation):
    if any(d != 1 for d in dilation):
        raise UnsupportedOperationError(
            f"reduce_window_sum with window_dilation {dilation}: only window_dilation 1 is "
            f"imported; write the sum as la.conv with a dilated kernel of ones")
    return la.avg_pool(images, kernel, stride, padding, divisor_override=1)


def reduce_window_max(x, **params):
    """``la.max_pool`` over the axes the window moves along (padding is minus infinity)."""
    return _pooled("reduce_window_max", _max, x, **params)


def reduce_window_sum(x, **params):
    """``la.avg_pool`` with divisor 1, a window sum, over the axes the window moves along
    (padding is zero)."""
    return _pooled("reduce_window_sum", _sum, x, **params)
