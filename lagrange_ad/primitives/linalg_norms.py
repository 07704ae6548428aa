"""The Euclidean norm along axes, ``norm2(x, axis) = sqrt(sum(x^2, axis))``, as one row.

    d norm2 = <x, dx> / norm2,        x_bar = g x / norm2,

and the curvature rule, x_bar differentiated along t,

    x_bar' = g (t - x <x, t> / norm2^2) / norm2

(g times the projection of t off x, over the norm: the Hessian of a norm).

At ``x = 0`` the norm has a kink; the rule takes the subgradient 0 there (the least-norm
element of the subdifferential, the unit ball), so that ``norm(w) ** 2`` at ``w = 0`` has its
true gradient 0 where ``sqrt(sum(w ** 2))`` would give 0 * infinity. JAX and autograd give NaN
at that point. The curvature there is 0 as well: the VJP ``g x / |x|`` is odd along every
line through 0, so its central derivative there vanishes.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .reductions import normalize_axes
from .registry import Block, Primitive, register
from .structure import size_of


def _norm2(x, axis=None):
    return np.sqrt(np.sum(np.square(x), axis=axis))


def _spread(y, x, axis):
    """``y`` (reduced over ``axis``) broadcast back to the shape of ``x``."""
    axes = normalize_axes(axis, np.ndim(x), "norm")
    return np.broadcast_to(np.expand_dims(y, axes), np.shape(x))


def _weights(ans, x, axis):
    """``d ans / d x = x / ans``, and 0 where the norm is 0."""
    norm = _spread(ans, x, axis)
    return np.where(norm > 0, x / np.where(norm > 0, norm, 1.0), 0.0)


def _vjp(g, ans, x, axis=None):
    return (_spread(g, x, axis) * _weights(ans, x, axis),)


def _jvp(ts, ans, x, axis=None):
    return np.sum(ts[0] * _weights(ans, x, axis), axis=axis)


def _curvature(g, ts, ans, x, axis=None):
    (t,) = ts
    if t is None:
        return (None,)
    norm = _spread(ans, x, axis)
    inner = _spread(np.sum(x * t, axis=axis), x, axis)
    safe = np.where(norm > 0, norm, 1.0)
    projected = np.where(norm > 0, (t - x * inner / (safe * safe)) / safe, 0.0)
    return (_spread(g, x, axis) * projected,)


def _jacobian(ans, x, axis=None):
    reduced = _spread(np.arange(np.size(ans)).reshape(np.shape(ans)), x, axis)
    return (Block(reduced.ravel(), np.arange(np.size(x)),
                  np.asarray(_weights(ans, x, axis), float).ravel()),)


def _shape(x_shape, axis=None):
    if len(x_shape) == 0 and axis is not None:
        raise ShapeError("norm2 of a scalar takes axis=None")
    axes = normalize_axes(axis, len(x_shape), "norm2")
    return tuple(n for k, n in enumerate(x_shape) if k not in axes)


register(Primitive(
    name="norm2", arity=1, evaluate=_norm2, vjp=_vjp, jvp=_jvp, shape=_shape,
    jacobian=_jacobian, param_names=("axis",),
    multiply_adds=lambda ans_shape, x_shape, axis=None: size_of(x_shape),
    curvature=_curvature,
))
