"""ATen's layer operations written with ``la.`` functions: normalization, softmax, losses,
embeddings, convolution and pooling.

Rules as in `lagrange_ad.importers.aten_table` (which holds the arithmetic, reductions and
moves and merges this table into ``RULES``): the ATen schema's arguments, traced values or
numpy constants, and None for an output that the interpreter fills by running PyTorch at the
example point (saved statistics, indices, counts). Integer arguments (labels, token ids,
offsets) are constants, read at the example point.
"""

from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOperationError
from ..tracing import functions as la
from ..tracing.functions.core import shape_of, value_of


def _indices(x) -> np.ndarray:
    """A constant integer tensor (labels, token ids) as an int64 array."""
    return np.asarray(value_of(x)).astype(np.int64)


# ----------------------------------------------------------------- normalization


def _native_layer_norm(x, normalized_shape, weight, bias, eps):
    """``(out, mean, rstd)``: ``out = (x - mean) rstd * weight + bias`` over the last axes,
    ``rstd = (var + eps)^(-1/2)`` with the biased variance."""
    ndim = len(shape_of(x))
    axes = tuple(range(ndim - len(normalized_shape), ndim))
    mean = la.mean(x, axis=axes, keepdims=True)
    centered = la.subtract(x, mean)
    rstd = la.power(la.add(la.mean(la.square(centered), axis=axes, keepdims=True), eps), -0.5)
    out = la.multiply(centered, rstd)
    if weight is not None:
        out = la.multiply(out, weight)
    if bias is not None:
        out = la.add(out, bias)
    return [out, mean, rstd]


def _per_channel(v, ndim: int):
    """A vector over channels (axis 1) shaped to broadcast against an ndim-array."""
    return la.reshape(v, (-1,) + (1,) * (ndim - 2))


def _batch_norm_no_training(x, weight, bias, running_mean, running_var, momentum, eps):
    """Eval-mode batch normalization with the running statistics:
    ``(x - mean_c) / sqrt(var_c + eps) * weight_c + bias_c``."""
    ndim = len(shape_of(x))
    scale = la.power(la.add(_per_channel(running_var, ndim), eps), -0.5)
    out = la.multiply(la.subtract(x, _per_channel(running_mean, ndim)), scale)
    if weight is not None:
        out = la.multiply(out, _per_channel(weight, ndim))
    if bias is not None:
        out = la.add(out, _per_channel(bias, ndim))
    return [out, None, None]


def _native_batch_norm(x, weight, bias, running_mean, running_var, training, momentum, eps):
    if training:
        raise UnsupportedOperationError("training-mode batch normalization (call .eval() "
                                        "before exporting)")
    return _batch_norm_no_training(x, weight, bias, running_mean, running_var, momentum, eps)


def _softmax(x, dim, half_to_float=False):
    return la.softmax(x, axis=int(dim))


def _log_softmax(x, dim, half_to_float=False):
    return la.log_softmax(x, axis=int(dim))


# ----------------------------------------------------------------- losses


def _nll_loss_forward(x, target, weight, reduction, ignore_index):
    """``(loss, total_weight)``: ``loss_n = -w_{t_n} x[n, t_n]`` (0 where ``t_n`` is
    ``ignore_index``), reduced by none (0), mean over the weights (1) or sum (2)."""
    labels = _indices(target)
    kept = labels != ignore_index
    labels = np.where(kept, labels, 0)
    picked = x[np.arange(labels.size), labels] if len(shape_of(x)) == 2 else x[labels]
    weights = kept.astype(np.float64)
    if weight is not None:
        weights = la.multiply(weight[labels], weights)
    losses = la.negative(la.multiply(picked, weights))
    if reduction == 0:
        return [losses, None]
    total = la.sum(losses)
    return [la.divide(total, la.sum(weights)) if reduction == 1 else total, None]


# ----------------------------------------------------------------- embeddings


def _embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """The rows ``weight[indices]``; rows at ``padding_idx`` are constants, as PyTorch gives
    them no gradient."""
    ids = _indices(indices)
    rows = weight[ids]
    padded = ids == padding_idx
    if padding_idx < 0 or not np.any(padded):
        return rows
    return la.where(padded[..., None], value_of(weight)[ids], rows)


def _embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                   per_sample_weights=None, include_last_offset=False, padding_idx=-1):
    """One row per bag: the sum (mode 0), mean (1) or maximum (2) of the rows of its token
    ids, those equal to ``padding_idx`` left out; an empty bag is zeros.

    Sum and mean are one product ``M @ weight[ids]`` with a constant bag matrix ``M``.
    """
    ids, starts = _indices(indices), _indices(offsets)
    ends = np.append(starts[1:], ids.size)
    if include_last_offset:
        starts, ends = starts[:-1], ends[:-1]
    kept = ids != padding_idx
    rows = weight[ids]
    if mode == 2:
        width = shape_of(weight)[1]
        bags = [la.max(rows[np.flatnonzero(kept[s:e]) + s], axis=0) if kept[s:e].any()
                else np.zeros(width) for s, e in zip(starts, ends)]
        return [la.stack(bags, axis=0), None, None, None]
    if per_sample_weights is not None:
        rows = la.multiply(rows, la.expand_dims(per_sample_weights, 1))
    bag_matrix = np.zeros((starts.size, ids.size))
    for b, (s, e) in enumerate(zip(starts, ends)):
        count = kept[s:e].sum()
        if count:
            bag_matrix[b, s:e] = kept[s:e] / (count if mode == 1 else 1)
    return [la.matmul(bag_matrix, rows), None, None, None]


# ----------------------------------------------------------------- convolution and pooling


def _convolution(x, weight, bias, stride, padding, dilation, transposed, output_padding,
                 groups):
    """``la.conv`` plus the bias of each output channel."""
    if transposed:
        raise UnsupportedOperationError("transposed convolution")
    out = la.conv(x, weight, stride=tuple(stride), padding=tuple(padding),
                  dilation=tuple(dilation), groups=int(groups))
    if bias is None:
        return out
    # (C_out, 1, ..., 1) broadcasts against a batched and an unbatched output alike
    return la.add(out, _per_channel(bias, len(shape_of(weight))))


def _max_pool(x, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """``la.max_pool`` (an empty ``stride`` is the kernel size); the indices are filled by
    PyTorch."""
    return [la.max_pool(x, tuple(kernel_size), tuple(stride) or None, padding, dilation,
                        bool(ceil_mode)), None]


def _avg_pool(x, kernel_size, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
              divisor_override=None):
    return la.avg_pool(x, tuple(kernel_size), tuple(stride) or None, padding,
                       bool(count_include_pad), divisor_override, ceil_mode=bool(ceil_mode))


def _adaptive_avg_pool(x, output_size):
    return la.adaptive_avg_pool(x, tuple(int(n) for n in output_size))


RULES = {
    "native_layer_norm": _native_layer_norm,
    "_native_batch_norm_legit_no_training": _batch_norm_no_training,
    "native_batch_norm": _native_batch_norm,
    "_softmax": _softmax,
    "_log_softmax": _log_softmax,
    "softmax": _softmax,
    "log_softmax": _log_softmax,
    "nll_loss_forward": _nll_loss_forward,
    "embedding": _embedding,
    "_embedding_bag": _embedding_bag,
    "_embedding_bag_forward_only": _embedding_bag,
    "convolution": _convolution,
    "max_pool2d_with_indices": _max_pool,
    "max_pool3d_with_indices": _max_pool,
    "avg_pool1d": _avg_pool,
    "avg_pool2d": _avg_pool,
    "avg_pool3d": _avg_pool,
    "_adaptive_avg_pool2d": _adaptive_avg_pool,
    "_adaptive_avg_pool3d": _adaptive_avg_pool,
}
