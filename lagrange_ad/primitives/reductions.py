"""Reductions along axes and the normalizers built on them.

A reduction ``ans[r] = R(x[c] : c reduces to r)`` has the local Jacobian
``d ans[r] / d x[c] = w[c]`` when c reduces to r (zero otherwise), where the weights are 1 for
sum, 1/n for mean, the softmax for logsumexp, the product of the other entries for prod, and
for max and min the indicator of the entries equal to the extreme value divided by their
number: tied entries share the derivative evenly (the convention of autograd and JAX; the VJP
splits the cotangent, the JVP averages the tied tangents). Softmax and log-softmax keep the
shape and couple every pair of entries of one slice along the axis:

    d softmax(x)_a / d x_b = s_a (delta_ab - s_b),
    d log_softmax(x)_a / d x_b = delta_ab - s_b.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .registry import Block, Primitive, register
from .scans import exclusive_products
from .structure import linear_curvature, size_of


def normalize_axes(axis, ndim: int, name: str) -> tuple[int, ...]:
    """Axis argument (None, int or tuple) as sorted non-negative axes; `ShapeError` if invalid."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < ndim:
            raise ShapeError(f"{name}: axis {a} is out of range for an operand of {ndim} "
                             f"dimensions")
        out.append(a % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(out))


def _expand(g, x, axis):
    axes = normalize_axes(axis, np.ndim(x), "reduction")
    return np.broadcast_to(np.expand_dims(g, axes), np.shape(x))


def reduction(name: str, evaluate, weights,
              reads: tuple[str, ...] = ("ans", "operands"), nonempty: bool = False,
              curvature=None) -> Primitive:
    """Register an axis reduction from its evaluation and its weights ``w(ans, x, axis)``.

    ``reads`` says which of ans and x the weights read (see `Primitive.vjp_reads`);
    ``nonempty`` that the reduction has no value over zero entries (max, min); ``curvature``
    is the row's curvature rule (see `Primitive`).
    """

    def vjp(g, ans, x, axis=None):
        return (_expand(g, x, axis) * weights(ans, x, axis),)

    def jvp(ts, ans, x, axis=None):
        (t,) = ts
        return np.sum(t * weights(ans, x, axis), axis=axis)

    def jacobian(ans, x, axis=None):
        reduced = _expand(np.arange(np.size(ans)).reshape(np.shape(ans)), x, axis)
        w = np.broadcast_to(weights(ans, x, axis), np.shape(x))
        return (Block(reduced.ravel(), np.arange(np.size(x)), np.asarray(w, float).ravel()),)

    def shape(x_shape, axis=None):
        axes = normalize_axes(axis, len(x_shape), name)
        if nonempty and any(x_shape[k] == 0 for k in axes):
            raise ShapeError(f"{name} of zero entries has no value: the operand of shape "
                             f"{tuple(x_shape)} is empty along the axes {axes}")
        return tuple(n for k, n in enumerate(x_shape) if k not in axes)

    return register(Primitive(
        name=name, arity=1, evaluate=evaluate, vjp=vjp, jvp=jvp, shape=shape,
        jacobian=jacobian, param_names=("axis",),
        multiply_adds=lambda ans_shape, x_shape, axis=None: size_of(x_shape), vjp_reads=reads,
        curvature=curvature,
    ))


def _count(x, axis):
    axes = normalize_axes(axis, np.ndim(x), "mean")
    return float(np.prod([np.shape(x)[a] for a in axes]))


def _logsumexp(x, axis=None):
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.log(np.sum(np.exp(x - top), axis=axis)) + np.squeeze(top, axis=axis)


def _softmax_weights(ans, x, axis):
    return np.exp(x - _expand(ans, x, axis))


# the weights of sum and mean depend on the operand's shape alone
def _logsumexp_curvature(g, ts, ans, x, axis=None):
    # Hess = diag(s) - s s^T within each reduced slice, s the softmax weights
    (t,) = ts
    if t is None:
        return (None,)
    s = _softmax_weights(ans, x, axis)
    st = s * t
    return (_expand(g, x, axis) * (st - s * _expand(np.sum(st, axis=axis), x, axis)),)


# the weights of sum and mean depend on the operand's shape alone
reduction("sum", lambda x, axis=None: np.sum(x, axis=axis), lambda ans, x, axis: 1.0,
          reads=(), curvature=linear_curvature)
reduction("mean", lambda x, axis=None: np.mean(x, axis=axis),
          lambda ans, x, axis: 1.0 / _count(x, axis), reads=(), curvature=linear_curvature)
reduction("logsumexp", _logsumexp, _softmax_weights, curvature=_logsumexp_curvature)


def _tie_weights(ans, x, axis):
    # the entries equal to the extreme value share its derivative evenly
    hit = x == _expand(ans, x, axis)
    return hit / np.sum(hit, axis=normalize_axes(axis, np.ndim(x), "reduction"), keepdims=True)


def _others_product(ans, x, axis):
    """``prod_{c' != c} x[c']`` within each reduced slice, without division (exact at zeros).

    The reduced axes are moved last and flattened to one axis of length n; the product of the
    others is the exclusive product from the left times the exclusive product from the right.
    """
    x = np.asarray(x, dtype=np.float64)
    axes = normalize_axes(axis, x.ndim, "prod")
    if x.size == 0:
        return np.zeros(x.shape)
    order = [a for a in range(x.ndim) if a not in axes] + list(axes)
    moved = np.transpose(x, order)
    flat = moved.reshape(moved.shape[:x.ndim - len(axes)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,))
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.transpose((left * right).reshape(moved.shape), np.argsort(order))


# piecewise linear: no curvature away from ties
reduction("max", lambda x, axis=None: np.max(x, axis=axis), _tie_weights, nonempty=True,
          curvature=linear_curvature)
reduction("min", lambda x, axis=None: np.min(x, axis=axis), _tie_weights, nonempty=True,
          curvature=linear_curvature)
def _prod_curvature(g, ts, ans, x, axis=None):
    """``g`` times the derivative of the product of the others along t, slice by slice."""
    (t,) = ts
    if t is None:
        return (None,)
    x = np.asarray(x, dtype=np.float64)
    axes = normalize_axes(axis, x.ndim, "prod")
    if x.size == 0:
        return (np.zeros(x.shape),)
    order = [a for a in range(x.ndim) if a not in axes] + list(axes)
    moved = np.transpose(x, order)
    kept = moved.shape[:x.ndim - len(axes)]
    flat_x, flat_t = (np.reshape(np.transpose(v, order), kept + (-1,)) for v in (x, t))
    _, derivative = exclusive_products(flat_x, flat_t)
    back = np.transpose(derivative.reshape(moved.shape), np.argsort(order))
    return (_expand(g, x, axis) * back,)


reduction("prod", lambda x, axis=None: np.prod(x, axis=axis), _others_product,
          reads=("operands",), curvature=_prod_curvature)


def _softmax(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(z)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis=-1):
    z = x - np.max(x, axis=axis, keepdims=True)
    return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))


def _slice_pairs(s, axis):
    """Flat indices (a, b) of every pair of entries in one slice along ``axis``, and s_a, s_b."""
    ids = np.moveaxis(np.arange(s.size).reshape(s.shape), axis, -1)
    ids = ids.reshape(-1, ids.shape[-1]) if s.ndim else ids.reshape(1, 1)
    a = np.broadcast_to(ids[:, :, None], ids.shape + ids.shape[-1:]).ravel()
    b = np.broadcast_to(ids[:, None, :], ids.shape + ids.shape[-1:]).ravel()
    flat = s.ravel()
    return a, b, flat[a], flat[b]


def _normalizer(name: str, evaluate, probabilities, couple):
    """Softmax-like primitive: ``d ans_a / d x_b = couple(s_a, delta_ab, s_b)`` within slices."""

    def vjp(g, ans, x, axis=-1):
        s = probabilities(ans)
        if name == "softmax":
            return (s * (g - np.sum(g * s, axis=axis, keepdims=True)),)
        return (g - s * np.sum(g, axis=axis, keepdims=True),)

    def jvp(ts, ans, x, axis=-1):
        (t,) = ts
        s = probabilities(ans)
        centred = t - np.sum(t * s, axis=axis, keepdims=True)
        return s * centred if name == "softmax" else centred

    def jacobian(ans, x, axis=-1):
        s = np.asarray(probabilities(ans), dtype=np.float64)
        a, b, sa, sb = _slice_pairs(s, axis if s.ndim else 0)
        return (Block(a, b, couple(sa, (a == b) * 1.0, sb)),)

    def shape(x_shape, axis=-1):
        if len(x_shape) == 0:
            raise ShapeError(f"{name} needs an operand with at least one axis; got a scalar")
        normalize_axes(axis, len(x_shape), name)
        return tuple(x_shape)

    def count(ans_shape, x_shape, axis=-1):
        return size_of(x_shape) * (x_shape[axis] if x_shape else 1)

    def curvature(g, ts, ans, x, axis=-1):
        # the VJP's derivative with g fixed, through ds = s (t - <s, t>) (the JVP of softmax):
        # softmax: ds (g - <g, s>) - s <g, ds>;   log_softmax: -ds sum(g)
        (t,) = ts
        if t is None:
            return (None,)
        s = probabilities(ans)
        ds = s * (t - np.sum(t * s, axis=axis, keepdims=True))
        if name == "softmax":
            return (ds * (g - np.sum(g * s, axis=axis, keepdims=True))
                    - s * np.sum(g * ds, axis=axis, keepdims=True),)
        return (-ds * np.sum(g, axis=axis, keepdims=True),)

    return register(Primitive(
        name=name, arity=1, evaluate=evaluate, vjp=vjp, jvp=jvp, shape=shape,
        jacobian=jacobian, param_names=("axis",), multiply_adds=count,
        vjp_reads=("ans",),  # the probabilities come from the value
        curvature=curvature,
    ))


_normalizer("softmax", _softmax, lambda ans: ans, lambda sa, d, sb: sa * (d - sb))
_normalizer("log_softmax", _log_softmax, np.exp, lambda sa, d, sb: d - sb)
