"""The core ATen operations of a ``torch.export`` graph, each written with ``la.`` functions.

A rule takes the FX node's arguments as the ATen schema orders them,
``rule(*args, **kwargs)``, with every tensor argument replaced by a traced value (when it
depends on the graph's inputs) or a numpy array (a constant), and returns the output: one
value, or a list for an operation with several outputs. An output that is not a float
function of the operands (the indices of ``max_pool2d_with_indices``, the counts of
``_embedding_bag``) may be returned as None: the interpreter (`lagrange_ad.importers.
torch_export`) fills it by running the ATen operation itself at the example point.

The interpreter calls a rule only when some operand is traced and some output is a float
tensor. A comparison or logical operation with a traced operand is a row of `MASKS`: a mask
node (float 0/1, derivative 0) recomputed on replay, so a ``where`` on it, and the branches
of ``leaky_relu``, ``elu``, ``softplus``, ``clamp`` (written with ``la.where`` on masks),
take the branch of the point replayed; ``argmax``/``argmin`` are index nodes, read by
``index``, ``index_select`` and ``gather``. Operations on constants alone, and other
operations with integer or boolean outputs (index arithmetic, ``arange``, ``full``), are
run by PyTorch at the example point and enter the graph as constants. Keys are ATen operation names
without their overload (``addmm``, ``sum``): a rule reads the arguments every overload of
its operation passes. Layers (normalization, losses, embeddings, convolution and pooling)
are in `lagrange_ad.importers.aten_layers`.

This module imports no PyTorch.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import UnsupportedOperationError
from ..tracing import functions as la
from ..tracing.functions.core import shape_of, value_of
from ..tracing.tape import Traced
from . import aten_layers

Rule = Callable[..., object]


def _unary(function: Callable) -> Rule:
    """The rule of an operation that is ``function`` of one tensor."""
    def rule(x):
        return function(x)
    rule.__doc__ = f"``{function.__name__}`` entrywise."
    return rule


def _scaled(function: Callable) -> Rule:
    """``add`` / ``sub``: ``function(x, alpha * y)`` (the ``alpha`` of the Tensor overloads)."""
    def rule(x, y, alpha=1):
        return function(x, y if alpha == 1 else la.multiply(alpha, y))
    rule.__doc__ = f"``{function.__name__}(x, alpha * y)``."
    return rule


def _identity(x, *args, **kwargs):
    """The operand itself: a copy, an alias, a float-to-float conversion, a layout change."""
    return x


def _constant(*args, **kwargs):
    """None: the output does not depend on the operand's values (``zeros_like``,
    ``full_like``); PyTorch computes it and it is a constant."""
    return None


def _detach(x):
    """The operand's value as a constant: its derivative is zero."""
    return np.array(value_of(x))


def _div(x, y, rounding_mode=None):
    quotient = la.divide(x, y)
    if rounding_mode is None:
        return quotient
    return la.floor(quotient) if rounding_mode == "floor" else la.fix(quotient)


def _pow(x, exponent):
    """``pow.Tensor_Scalar``, ``pow.Tensor_Tensor`` and ``pow.Scalar`` (a number's power)."""
    return la.power(x, exponent)


def _rsqrt(x):
    return la.power(x, -0.5)


def _gelu(x, approximate="none"):
    """``x Phi(x)``, or its tanh approximation when ``approximate == "tanh"``."""
    if approximate == "tanh":
        inner = la.multiply(np.sqrt(2.0 / np.pi), la.add(x, la.multiply(0.044715,
                                                                        la.power(x, 3.0))))
        return la.multiply(la.multiply(0.5, x), la.add(1.0, la.tanh(inner)))
    return la.multiply(la.multiply(0.5, x), la.add(1.0, la.erf(la.multiply(x, np.sqrt(0.5)))))


def _silu(x):
    return la.multiply(x, la.sigmoid(x))


def _softplus(x, beta=1, threshold=20):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold`` (a
    mask node, so replay at another point takes that point's branch)."""
    smooth = la.divide(la.softplus(la.multiply(beta, x)), beta)
    return la.where(la.greater(la.multiply(beta, x), threshold), x, smooth)


def _elu(x, alpha=1, scale=1, input_scale=1):
    """``scale x`` where ``x > 0``, else ``scale alpha (exp(input_scale x) - 1)``; the
    exponential reads only the non-positive entries, so it cannot overflow."""
    positive = la.greater(x, 0.0)
    negative_part = la.where(positive, 0.0, x)
    curve = la.multiply(scale * alpha, la.expm1(la.multiply(input_scale, negative_part)))
    return la.where(positive, la.multiply(scale, x), curve)


def _leaky_relu(x, negative_slope=0.01):
    return la.where(la.greater(x, 0.0), x, la.multiply(negative_slope, x))


def _clamp(x, min=None, max=None):  # noqa: A002  (ATen's names)
    """Entries outside ``[min, max]`` replaced by the bound; derivative 1 inside, bounds
    included, as PyTorch's (a traced bound: ``maximum`` and ``minimum``). The tests
    ``x >= min``, ``x <= max`` are mask nodes, recomputed on replay."""
    if isinstance(min, Traced) or isinstance(max, Traced):
        out = x if min is None else la.maximum(x, min)
        return out if max is None else la.minimum(out, max)
    out = x if min is None else la.where(la.greater_equal(x, min), x, float(min))
    return out if max is None else la.where(la.less_equal(out, max), out, float(max))


def _where(condition, x, y):
    """``x`` where ``condition``; a traced condition (a mask node) is recomputed on replay."""
    if isinstance(condition, Traced):
        return la.where(condition, x, y)
    return la.where(np.asarray(value_of(condition), dtype=bool), x, y)


# comparisons and logical operations with a traced operand: mask nodes (float 0/1,
# derivative 0), though PyTorch's outputs are booleans
MASKS: dict[str, Rule] = {
    "gt": la.greater,
    "ge": la.greater_equal,
    "lt": la.less,
    "le": la.less_equal,
    "eq": la.equal,
    "ne": la.not_equal,
    "logical_and": la.logical_and,
    "logical_or": la.logical_or,
    "logical_xor": la.logical_xor,
    "logical_not": la.logical_not,
    "bitwise_not": la.logical_not,  # ``~mask`` on a boolean
    "bitwise_and": la.logical_and,  # ``mask & mask``
    "bitwise_or": la.logical_or,
    # indices of traced values: index nodes (float64 integers), read by ``index``,
    # ``index_select`` and ``gather`` with ``la.take`` / ``la.take_along_axis``
    "argmax": lambda x, dim=None, keepdim=False: la.argmax(x, axis=dim, keepdims=keepdim),
    "argmin": lambda x, dim=None, keepdim=False: la.argmin(x, axis=dim, keepdims=keepdim),
}


# ----------------------------------------------------------------- reductions


def _axes(x, dim) -> tuple | None:
    """ATen's ``dim`` of a reduction: None and ``[]`` mean every axis."""
    if dim is None or (not np.isscalar(dim) and len(dim) == 0):
        return None
    return (int(dim),) if np.isscalar(dim) else tuple(int(d) for d in dim)


def _reduction(function: Callable) -> Rule:
    """``sum``, ``mean``, ``amax``, ``amin``, ``prod``, ``logsumexp`` over ``dim``."""
    def rule(x, dim=None, keepdim=False, dtype=None):
        return function(x, axis=_axes(x, dim), keepdims=bool(keepdim))
    rule.__doc__ = f"``{function.__name__}`` over ``dim`` (every axis when it is None or [])."
    return rule


def _extreme(function: Callable) -> Rule:
    """``max`` / ``min``: of every entry, of two tensors, or along ``dim`` with the indices."""
    pairwise = la.maximum if function is la.max else la.minimum

    def rule(x, dim=None, keepdim=False):
        if dim is None:
            return function(x)
        if not np.isscalar(dim):  # max.other: the entrywise maximum of two tensors
            return pairwise(x, dim)
        return [function(x, axis=int(dim), keepdims=bool(keepdim)), None]
    rule.__doc__ = f"``{function.__name__}``; along ``dim``, the indices are filled by PyTorch."
    return rule


def _variance(function: Callable) -> Rule:
    """``var`` / ``std`` with Bessel's ``correction`` (1 unless given)."""
    def rule(x, dim=None, *, correction=None, keepdim=False, unbiased=None):
        ddof = 1 if correction is None and unbiased is not False else (correction or 0)
        return function(x, axis=_axes(x, dim), ddof=ddof, keepdims=bool(keepdim))
    rule.__doc__ = f"``{function.__name__}`` over ``dim`` with ``ddof = correction``."
    return rule


def _vector_norm(x, ord=2, dim=None, keepdim=False, dtype=None):  # noqa: A002  (ATen's name)
    """``(sum |x|^ord)^(1/ord)`` over ``dim``; ``ord`` 2 is ``sqrt(sum x^2)``, infinite ord
    the largest (smallest) ``|x|``."""
    axis, keepdims = _axes(x, dim), bool(keepdim)
    if ord == 2:
        return la.sqrt(la.sum(la.square(x), axis=axis, keepdims=keepdims))
    if np.isinf(ord):
        extreme = la.max if ord > 0 else la.min
        return extreme(la.abs(x), axis=axis, keepdims=keepdims)
    if ord == 1:
        return la.sum(la.abs(x), axis=axis, keepdims=keepdims)
    return la.power(la.sum(la.power(la.abs(x), float(ord)), axis=axis, keepdims=keepdims),
                    1.0 / ord)


def _var_mean(x, dim=None, *, correction=None, keepdim=False):
    return [_variance(la.var)(x, dim, correction=correction, keepdim=keepdim),
            la.mean(x, axis=_axes(x, dim), keepdims=bool(keepdim))]


def _cumsum(x, dim, dtype=None):
    return la.cumsum(x, axis=int(dim))


# ----------------------------------------------------------------- products


def _addmm(bias, a, b, *, beta=1, alpha=1):
    """``beta bias + alpha (a @ b)`` (``addmm``, ``baddbmm``, ``addmv``)."""
    product = la.matmul(a, b)
    if alpha != 1:
        product = la.multiply(alpha, product)
    if beta == 0:
        return product
    return la.add(bias if beta == 1 else la.multiply(beta, bias), product)


# ----------------------------------------------------------------- shapes and moves


def _reshape(x, shape):
    return la.reshape(x, tuple(int(n) for n in shape))


def _permute(x, dims):
    return la.transpose(x, tuple(int(d) for d in dims))


def _t(x):
    return la.transpose(x) if len(shape_of(x)) == 2 else x


def _transpose(x, dim0, dim1):
    return la.swapaxes(x, int(dim0), int(dim1))


def _expand(x, size, implicit=False):
    """Broadcast to ``size``; an entry ``-1`` keeps the operand's length on that axis."""
    shape, size = shape_of(x), [int(n) for n in size]
    lead = len(size) - len(shape)
    target = tuple(shape[k - lead] if n == -1 else n for k, n in enumerate(size))
    return x if target == tuple(shape) else la.broadcast_to(x, target)


def _unsqueeze(x, dim):
    return la.expand_dims(x, int(dim))


def _squeeze(x, dim=None):
    """Drop the given axes (every axis when None) that have length 1; others are kept."""
    shape = shape_of(x)
    dims = range(len(shape)) if dim is None else [dim] if np.isscalar(dim) else dim
    drop = {int(d) % max(len(shape), 1) for d in dims if shape and shape[int(d)] == 1}
    kept = tuple(n for k, n in enumerate(shape) if k not in drop)
    return x if kept == tuple(shape) else la.reshape(x, kept)


def _along(dim: int, index) -> tuple:
    """The index tuple that applies ``index`` on axis ``dim``."""
    return (slice(None),) * int(dim) + (index,)


def _slice(x, dim=0, start=None, end=None, step=1):
    return x[_along(dim % len(shape_of(x)), slice(start, end, step))]


def _select(x, dim, index):
    return x[_along(dim % len(shape_of(x)), int(index))]


def _cat(tensors, dim=0):
    return la.concatenate(list(tensors), axis=int(dim))


def _stack(tensors, dim=0):
    return la.stack(list(tensors), axis=int(dim))


def _split_with_sizes(x, sizes, dim=0):
    dim = int(dim) % len(shape_of(x))
    ends = np.cumsum([int(n) for n in sizes])
    return [x[_along(dim, slice(int(e - n), int(e)))] for n, e in zip(sizes, ends)]


def _split(x, split_size, dim=0):
    """``split.Tensor``: pieces of ``split_size`` (the last may be shorter), or of the sizes
    given as a list."""
    if not np.isscalar(split_size):
        return _split_with_sizes(x, split_size, dim)
    length = shape_of(x)[int(dim)]
    sizes = [min(int(split_size), length - s) for s in range(0, length, int(split_size))]
    return _split_with_sizes(x, sizes, dim)


def _unbind(x, dim=0):
    return [_select(x, dim, k) for k in range(shape_of(x)[int(dim)])]


def _index(x, indices):
    """``x[i0, i1, ...]`` with constant index tensors (None keeps an axis whole)."""
    traced = [k for k, i in enumerate(indices) if isinstance(i, Traced)]
    if len(traced) == 1 and sum(i is not None for i in indices) == 1:  # x[..., argmax(y)]
        return la.take(x, indices[traced[0]], axis=traced[0])
    return x[tuple(slice(None) if i is None else np.asarray(value_of(i)).astype(np.int64)
                   for i in indices)]


def _index_select(x, dim, index):
    if isinstance(index, Traced):
        return la.take(x, index, axis=int(dim))
    return la.take(x, np.asarray(value_of(index)), axis=int(dim))


def _gather(x, dim, index, sparse_grad=False):
    """``out[..., i, ...] = x[..., index[..., i, ...], ...]`` on axis ``dim``; ``index`` may be
    smaller than ``x`` on the other axes. A traced index (``argmax`` of a traced value) of
    ``x``'s shape but on axis ``dim`` is an index node, recomputed on replay."""
    if isinstance(index, Traced):
        axis, shape, of_x = int(dim) % len(shape_of(x)), shape_of(index), shape_of(x)
        if all(shape[k] == of_x[k] for k in range(len(of_x)) if k != axis):
            return la.take_along_axis(x, index, axis=axis)
    index = np.asarray(value_of(index)).astype(np.int64)
    grids = list(np.indices(index.shape, sparse=True))
    grids[int(dim) % index.ndim] = index
    return x[tuple(grids)]


def _diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal moved to the last axis, as numpy's ``diagonal``."""
    return la.diagonal(x, int(offset), int(dim1), int(dim2))


def _flip(x, dims):
    return la.flip(x, axis=tuple(int(d) for d in dims))


def _roll(x, shifts, dims=()):
    if len(dims) == 0:
        return la.roll(x, tuple(shifts) if len(shifts) > 1 else int(shifts[0]))
    return la.roll(x, tuple(int(s) for s in shifts), axis=tuple(int(d) for d in dims))


def _repeat(x, repeats):
    return la.tile(x, tuple(int(r) for r in repeats))


def _constant_pad_nd(x, pad, value=0):
    """Pad the last axes: ``pad`` holds (before, after) pairs from the last axis backwards."""
    pairs = [(int(pad[k]), int(pad[k + 1])) for k in range(0, len(pad), 2)]
    if any(b < 0 or a < 0 for b, a in pairs):
        raise UnsupportedOperationError(f"constant_pad_nd: negative padding {list(pad)} (a "
                                        f"crop) is not supported; slice the tensor instead")
    ndim = len(shape_of(x))
    widths = [(0, 0)] * (ndim - len(pairs)) + pairs[::-1]
    return la.pad(x, widths, constant_values=value)


def _triangle(function: Callable) -> Rule:
    def rule(x, diagonal=0):
        return function(x, int(diagonal))
    rule.__doc__ = f"``{function.__name__}`` above or below ``diagonal``."
    return rule


RULES: dict[str, Rule] = {
    # arithmetic
    "add": _scaled(la.add),
    "sub": _scaled(la.subtract),
    "rsub": lambda x, y, alpha=1: la.subtract(y, x if alpha == 1 else la.multiply(alpha, x)),
    "mul": la.multiply,
    "div": _div,
    "neg": _unary(la.negative),
    "pow": _pow,
    "reciprocal": _unary(la.reciprocal),
    "square": _unary(la.square),
    "sqrt": _unary(la.sqrt),
    "rsqrt": _rsqrt,
    "abs": _unary(la.abs),
    "sign": _unary(la.sign),
    "floor": _unary(la.floor),
    "ceil": _unary(la.ceil),
    "round": _unary(la.rint),
    "maximum": la.maximum,
    "minimum": la.minimum,
    "clamp": _clamp,
    "clamp_min": lambda x, low: _clamp(x, min=low),
    "clamp_max": lambda x, high: _clamp(x, max=high),
    "hardtanh": lambda x, low=-1, high=1: _clamp(x, min=low, max=high),
    "where": _where,
    # transcendental and activations
    "exp": _unary(la.exp),
    "exp2": _unary(la.exp2),
    "expm1": _unary(la.expm1),
    "log": _unary(la.log),
    "log1p": _unary(la.log1p),
    "log2": _unary(la.log2),
    "log10": _unary(la.log10),
    "sin": _unary(la.sin),
    "cos": _unary(la.cos),
    "tan": _unary(la.tan),
    "sinh": _unary(la.sinh),
    "cosh": _unary(la.cosh),
    "tanh": _unary(la.tanh),
    "asin": _unary(la.arcsin),
    "acos": _unary(la.arccos),
    "atan": _unary(la.arctan),
    "atan2": la.arctan2,
    "asinh": _unary(la.arcsinh),
    "acosh": _unary(la.arccosh),
    "atanh": _unary(la.arctanh),
    "erf": _unary(la.erf),
    "erfc": _unary(la.erfc),
    "lgamma": _unary(la.gammaln),
    "digamma": _unary(la.digamma),
    "sigmoid": _unary(la.sigmoid),
    "relu": _unary(la.relu),
    "gelu": _gelu,
    "silu": _silu,
    "softplus": _softplus,
    "leaky_relu": _leaky_relu,
    "elu": _elu,
    # reductions
    "sum": _reduction(la.sum),
    "mean": _reduction(la.mean),
    "amax": _reduction(la.max),
    "amin": _reduction(la.min),
    "prod": _reduction(la.prod),
    "logsumexp": _reduction(la.logsumexp),
    "max": _extreme(la.max),
    "min": _extreme(la.min),
    "var": _variance(la.var),
    "std": _variance(la.std),
    "var_mean": _var_mean,
    "linalg_vector_norm": _vector_norm,
    "cumsum": _cumsum,
    # products
    "mm": la.matmul,
    "bmm": la.matmul,
    "matmul": la.matmul,
    "mv": la.matmul,
    "dot": la.matmul,
    "addmm": _addmm,
    "baddbmm": _addmm,
    "addmv": _addmm,
    # shapes and moves
    "view": _reshape,
    "_unsafe_view": _reshape,
    "reshape": _reshape,
    "permute": _permute,
    "t": _t,
    "transpose": _transpose,
    "expand": _expand,
    "unsqueeze": _unsqueeze,
    "squeeze": _squeeze,
    "slice": _slice,
    "select": _select,
    "cat": _cat,
    "stack": _stack,
    "split": _split,
    "split_with_sizes": _split_with_sizes,
    "unbind": _unbind,
    "index": _index,
    "index_select": _index_select,
    "gather": _gather,
    "diagonal": _diagonal,
    "flip": _flip,
    "roll": _roll,
    "repeat": _repeat,
    "constant_pad_nd": _constant_pad_nd,
    "tril": _triangle(la.tril),
    "triu": _triangle(la.triu),
    # no change of value, or none of the derivative
    "clone": _identity,
    "alias": _identity,
    "_to_copy": _identity,
    "contiguous": _identity,
    "lift_fresh_copy": _identity,
    "detach": _detach,
    "zeros_like": _constant,
    "ones_like": _constant,
    "full_like": _constant,
    "empty_like": _constant,
    "new_zeros": _constant,
    "new_ones": _constant,
    "new_full": _constant,
    "new_empty": _constant,
    **aten_layers.RULES,
}
