"""Scans along one axis: ``cumsum`` and ``cumprod``.

Along the axis (entries ``x_0 .. x_{n-1}`` of one slice, ``ans_{-1}`` read as 0 for the sum and
1 for the product):

    cumsum:   ans_i = ans_{i-1} + x_i,     d ans_i / d x_j = 1                          (j <= i)
    cumprod:  ans_i = ans_{i-1} x_i,       d ans_i / d x_j = ans_{j-1} prod_{j<k<=i} x_k   (j <= i)

so each slice's block is lower triangular with ``n (n + 1) / 2`` entries. No rule divides by an
entry, so cumprod's derivatives are exact where entries are zero. Its tangent and cotangent
obey first-order linear recurrences,

    jvp:  y_i = x_i y_{i-1} + t_i ans_{i-1},
    vjp:  s_j = g_j + x_{j+1} s_{j+1},      ct_j = ans_{j-1} s_j,

which `linear_recurrence` solves in ceil(log2 n) vectorized steps (a scan of affine maps).
cumsum is linear (no curvature); cumprod's curvature differentiates the VJP's recurrence once
more, and `exclusive_products` gives prod's.
"""

from __future__ import annotations

import numpy as np

from .registry import Block, Primitive, register
from .structure import linear_curvature, single_axis, size_of


def linear_recurrence(a: np.ndarray, b: np.ndarray, axis: int) -> np.ndarray:
    """``y`` with ``y_i = a_i y_{i-1} + b_i`` along ``axis`` and ``y_{-1} = 0``.

    Recursive doubling: after the step of shift d, entry i holds the affine map of the
    segment ``(i - 2d, i]``; composing with the segment before it, ``(A1, B1) o (A2, B2) =
    (A1 A2, B1 + A1 B2)``. There are ceil(log2 n) steps, each a product of whole arrays.
    """
    shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    # copies with the axis first, so that each step works on whole contiguous rows
    a, b = (np.array(np.moveaxis(np.broadcast_to(v, shape), axis, 0), dtype=np.float64,
                     order="C") for v in (a, b))
    n, shift = b.shape[0], 1
    while shift < n:
        # the right-hand products are formed before the writes (numpy buffers overlaps)
        b[shift:] += a[shift:] * b[:-shift]
        a[shift:] *= a[:-shift]
        shift *= 2
    return np.moveaxis(b, 0, axis)


def _shifted(v: np.ndarray, axis: int, first: float) -> np.ndarray:
    """``v_{i-1}`` along ``axis``, with ``first`` in place of ``v_{-1}``."""
    v = np.moveaxis(np.asarray(v, dtype=np.float64), axis, -1)
    out = np.concatenate([np.full(v.shape[:-1] + (1,), first), v[..., :-1]], axis=-1)
    return np.moveaxis(out, -1, axis)


def _slices(shape: tuple, axis: int) -> np.ndarray:
    """Flat C-order indices of the entries, one row per slice along ``axis``."""
    ids = np.moveaxis(np.arange(size_of(shape)).reshape(shape), axis, -1)
    return ids.reshape(-1, shape[axis])


def _triangle(shape: tuple, axis: int):
    """Rows and columns ``(ans_i, x_j)``, j <= i, of every slice; and i and j themselves."""
    ids = _slices(shape, axis)
    i, j = np.tril_indices(shape[axis])
    return ids[:, i].ravel(), ids[:, j].ravel(), i, j


def _count(ans_shape, x_shape, axis):
    n = x_shape[axis] if x_shape else 0
    return size_of(x_shape) // max(n, 1) * n * (n + 1) // 2


def _scan(name: str, evaluate, vjp, jvp, jacobian, reads, curvature=None) -> Primitive:
    def shape(x_shape, axis):
        single_axis(axis, len(x_shape), name)
        return tuple(x_shape)

    return register(Primitive(
        name=name, arity=1, evaluate=evaluate, vjp=vjp, jvp=jvp, shape=shape,
        jacobian=jacobian, param_names=("axis",), multiply_adds=_count, vjp_reads=reads,
        curvature=curvature,
    ))


def _cumsum_vjp(g, ans, x, axis):
    return (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),)


def _cumsum_jacobian(ans, x, axis):
    rows, cols, _, _ = _triangle(np.shape(x), axis % np.ndim(x))
    return (Block(rows, cols, np.ones(rows.size)),)


def _cumprod_jvp(ts, ans, x, axis):
    (t,) = ts
    axis = axis % np.ndim(x)
    return linear_recurrence(x, t * _shifted(ans, axis, 1.0), axis)


def _cumprod_vjp(g, ans, x, axis):
    axis = axis % np.ndim(x)
    # s_j = g_j + x_{j+1} s_{j+1} is a forward recurrence along the reversed axis
    coefficients = _shifted(np.flip(x, axis), axis, 0.0)
    s = np.flip(linear_recurrence(coefficients, np.flip(g, axis), axis), axis)
    return (_shifted(ans, axis, 1.0) * s,)


def _cumprod_curvature(g, ts, ans, x, axis):
    """The derivative of ``vjp_j = ans_{j-1} s_j`` along t with g fixed:
    ``d ans_{j-1} s_j + ans_{j-1} ds_j``, where ``ds_j = t_{j+1} s_{j+1} + x_{j+1} ds_{j+1}``
    is the cotangent recurrence again, driven by ``t s``."""
    (t,) = ts
    if t is None:
        return (None,)
    axis = axis % np.ndim(x)
    coefficients = _shifted(np.flip(x, axis), axis, 0.0)
    s = np.flip(linear_recurrence(coefficients, np.flip(g, axis), axis), axis)
    ds = np.flip(linear_recurrence(coefficients, _shifted(np.flip(t * s, axis), axis, 0.0),
                                   axis), axis)
    dans = _cumprod_jvp((t,), ans, x, axis)
    return (_shifted(dans, axis, 0.0) * s + _shifted(ans, axis, 1.0) * ds,)


def exclusive_products(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``prod_{c != a} x_c`` along the last axis, and its derivative along t (no division).

    The product of the others is the exclusive product from the left times the one from the
    right; each is a shifted cumprod, whose tangent is the cumprod's JVP shifted.
    """
    def left(v, dv):
        c = np.cumprod(v, axis=-1)
        return _shifted(c, -1, 1.0), _shifted(_cumprod_jvp((dv,), c, v, -1), -1, 0.0)

    lo, dlo = left(x, t)
    hi, dhi = (np.flip(a, -1) for a in left(np.flip(x, -1), np.flip(t, -1)))
    return lo * hi, dlo * hi + lo * dhi


def _cumprod_jacobian(ans, x, axis):
    x = np.asarray(x, dtype=np.float64)
    axis = axis % x.ndim
    rows, cols, i, j = _triangle(x.shape, axis)
    n = x.shape[axis]
    ids = _slices(x.shape, axis)
    xs, before = x.ravel()[ids], _shifted(ans, axis, 1.0).ravel()[ids]  # x_k and ans_{j-1}
    # within[s, j, i] = prod_{j<k<=i} x_k: a cumulative product of x with the entries up to j
    # replaced by ones (no division)
    later = np.where(np.arange(n)[None, :] > np.arange(n)[:, None], xs[:, None, :], 1.0)
    within = np.cumprod(later, axis=-1)
    vals = before[:, j] * within[:, j, i]
    return (Block(rows, cols, vals.ravel()),)


_scan("cumsum", lambda x, axis: np.cumsum(x, axis=axis), _cumsum_vjp,
      lambda ts, ans, x, axis: np.cumsum(ts[0], axis=axis), _cumsum_jacobian, reads=(),
      curvature=linear_curvature)
_scan("cumprod", lambda x, axis: np.cumprod(x, axis=axis), _cumprod_vjp, _cumprod_jvp,
      _cumprod_jacobian, reads=("ans", "operands"), curvature=_cumprod_curvature)
