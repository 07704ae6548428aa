"""Primitives that move entries without arithmetic, and the sources of a graph.

Reshape, transpose, indexing (basic and fancy), concatenate, stack, broadcast_to and
``where(mask, x, y)`` are linear selections: each output entry is a copy of one operand entry,
so their Jacobians hold a single 1 per row and their VJPs scatter-add the cotangent back
(summing over broadcast axes). ``pad`` also writes zeros, whose rows are empty. ``sort`` is a
permutation chosen by the values: its derivative is the permutation matrix of numpy's stable
sort, so among tied entries the k-th in index order receives the cotangent of the k-th of
their sorted positions (the convention of JAX, whose sort is stable). ``input`` and ``const``
have no operands; their constraints ``v_i = x_i`` and ``v_i = c_i`` give the multipliers of
inputs (the gradient) and of constants.
"""

from __future__ import annotations

import numpy as np

from ..errors import LagrangeADError, ShapeError
from .registry import Block, Primitive, register
from .structure import linear_curvature, selection, single_axis, size_of, unbroadcast


def _no_operands(**params):
    return ()


def _no_jvp(ts, ans, **params):
    return np.zeros(np.shape(ans))


def _input_evaluate(**params):
    raise LagrangeADError("an input node has no rule: its value is given at the point")


register(Primitive(
    name="input", arity=0, evaluate=_input_evaluate, vjp=lambda g, ans, **params: (),
    jvp=_no_jvp, shape=lambda **params: tuple(params["shape"]),
    jacobian=_no_operands, template="input", param_names=("shape",),
    multiply_adds=lambda *a, **k: 0, curvature=linear_curvature,
))
register(Primitive(
    name="const", arity=0, evaluate=lambda value: np.asarray(value, dtype=np.float64),
    vjp=lambda g, ans, **params: (), jvp=_no_jvp,
    shape=lambda value: np.shape(value), jacobian=_no_operands, template="const",
    param_names=("value",), multiply_adds=lambda *a, **k: 0, curvature=linear_curvature,
))


def _reshape_vjp(g, ans, x, shape):
    return (np.reshape(g, np.shape(x)),)


def _transpose_vjp(g, ans, x, axes=None):
    # the inverse permutation, of the axes made non-negative first (argsort of (-1, 0) is wrong)
    inverse = None if axes is None else tuple(np.argsort([a % np.ndim(x) for a in axes]))
    return (np.transpose(g, inverse),)


def _getitem_vjp(g, ans, x, index):
    out = np.zeros(np.shape(x))
    np.add.at(out, index, g)
    return (out,)


def _concatenate(*xs, axis=0):
    return np.concatenate(xs, axis=axis)


def _concatenate_vjp(g, ans, *xs, axis=0):
    cuts = np.cumsum([np.shape(x)[axis] for x in xs])[:-1]
    return tuple(np.split(g, cuts, axis=axis))


def _stack(*xs, axis=0):
    return np.stack(xs, axis=axis)


def _stack_vjp(g, ans, *xs, axis=0):
    return tuple(np.moveaxis(g, axis, 0))


selection("reshape", 1, lambda x, shape: np.reshape(x, shape), _reshape_vjp,
          param_names=("shape",))
selection("transpose", 1, lambda x, axes=None: np.transpose(x, axes), _transpose_vjp,
          param_names=("axes",))
selection("getitem", 1, lambda x, index: np.asarray(x)[index], _getitem_vjp,
          template="{0}[{index}]", param_names=("index",))
selection("concatenate", None, _concatenate, _concatenate_vjp, param_names=("axis",))
selection("stack", None, _stack, _stack_vjp, param_names=("axis",))


def _broadcast_to(x, shape):
    # a copy, not numpy's read-only view, so the value owns its entries
    return np.array(np.broadcast_to(x, tuple(shape)))


def _broadcast_to_vjp(g, ans, x, shape):
    return (unbroadcast(g, np.shape(x)),)


def _where(x, y, mask):
    return np.where(mask, x, y)


def _where_vjp(g, ans, x, y, mask):
    taken = np.broadcast_to(mask, np.shape(g))
    return (unbroadcast(np.where(taken, g, 0.0), np.shape(x)),
            unbroadcast(np.where(taken, 0.0, g), np.shape(y)))


def _pad_widths(pad_width, ndim: int) -> tuple:
    """``pad_width`` as one (before, after) pair of non-negative ints per axis, or ShapeError."""
    try:
        pairs = tuple((before, after) for before, after in pad_width)
    except (TypeError, ValueError):
        pairs = None
    if pairs is None or len(pairs) != ndim or not all(
            isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 0
            for pair in pairs for n in pair):
        raise ShapeError(f"pad takes one (before, after) pair of non-negative ints per axis "
                         f"of the operand ({ndim}); got {pad_width!r}")
    return tuple((int(before), int(after)) for before, after in pairs)


def _pad(x, pad_width):
    pairs = _pad_widths(pad_width, np.ndim(x))
    return np.pad(x, pairs) if pairs else np.array(x)  # numpy refuses to pad a scalar


def _pad_vjp(g, ans, x, pad_width):
    pairs = _pad_widths(pad_width, np.ndim(x))
    return (g[tuple(slice(before, before + n) for (before, _), n in zip(pairs, np.shape(x)))],)


selection("broadcast_to", 1, _broadcast_to, _broadcast_to_vjp, param_names=("shape",))
selection("where", 2, _where, _where_vjp, param_names=("mask",))
selection("pad", 1, _pad, _pad_vjp, param_names=("pad_width",),
          multiply_adds=lambda ans_shape, x_shape, pad_width: size_of(x_shape))


def _sort_shape(x_shape, axis=-1) -> tuple:
    single_axis(axis, len(x_shape), "sort")
    return tuple(x_shape)


def _order(x, axis):
    """The permutation of numpy's stable sort along ``axis``.

    Without ties every sort has this permutation, and numpy's default sort is many times
    faster than its stable one: the stable sort runs only when sorted neighbours are equal.
    """
    order = np.argsort(x, axis=axis)
    if np.any(np.diff(np.take_along_axis(x, order, axis=axis), axis=axis) == 0):
        order = np.argsort(x, axis=axis, kind="stable")
    return order


def _sort_vjp(g, ans, x, axis=-1):
    out = np.zeros(np.shape(x))
    np.put_along_axis(out, _order(x, axis), g, axis=axis)
    return (out,)


def _sort_jacobian(ans, x, axis=-1):
    ids = np.arange(np.size(x)).reshape(np.shape(x))
    sources = np.take_along_axis(ids, _order(x, axis), axis=axis).ravel()
    return (Block(np.arange(sources.size), sources, np.ones(sources.size)),)


register(Primitive(
    name="sort", arity=1, evaluate=lambda x, axis=-1: np.sort(x, axis=axis),  # values: any sort
    vjp=_sort_vjp,
    jvp=lambda ts, ans, x, axis=-1: np.take_along_axis(ts[0], _order(x, axis), axis=axis),
    shape=_sort_shape,
    jacobian=_sort_jacobian, param_names=("axis",),
    multiply_adds=lambda ans_shape, x_shape, axis=-1: size_of(x_shape),
    vjp_reads=("operands",),  # the permutation comes from the operand
    curvature=linear_curvature,  # a permutation, constant away from ties
))
