"""Inverses and determinants: ``solve``, ``inv``, ``pinv``, ``det``, ``logabsdet``, ``det_sign``.

Rules (M. Giles, "An extended collection of matrix derivative results for forward and reverse
mode algorithmic differentiation", 2008), for one matrix of a stack; ``g`` is the cotangent of
the output and ``t`` the tangent of ``A``:

    x = A^{-1} b:     dx = A^{-1} (db - dA x),      b_bar = A^{-T} g,   A_bar = -b_bar x^T
    C = A^{-1}:       dC = -C dA C,                 A_bar = -C^T g C^T
    d = det A:        dd = <cof A, dA>,             A_bar = g cof A
    l = log|det A|:   dl = <A^{-T}, dA>,            A_bar = g A^{-T}
    P = A^+ (full rank, Golub and Pereyra 1973):
        dP = -P dA P + P P^T dA^T (I - A P) + (I - P A) dA^T P^T P

The cofactor matrix ``cof A = det(A) A^{-T}`` is computed from the SVD ``A = U diag(s) V^T``
as ``det(U) det(V) U diag(prod_{j != i} s_j) V^T``, which holds at singular matrices too: det
is a polynomial, differentiable everywhere, and its gradient there is the (transposed)
adjugate. solve, inv, logabsdet and pinv refuse a matrix that is singular (rank deficient for
pinv) to working precision. ``det_sign`` (the sign from ``slogdet``) is piecewise constant:
its derivative is zero.

Curvature rules (the VJP formulas above differentiated along t, the right-hand side's tangent
``t_b`` for solve), with ``dC = -C t C`` the tangent of ``C = A^{-1}``:

    solve:       b_bar' = -A^{-T} t^T b_bar,     A_bar' = -b_bar' x^T - b_bar dx^T
    inv:         A_bar' = -(dC^T g C^T + C^T g dC^T)
    logabsdet:   A_bar' = g dC^T
    det:         A_bar' = g d cof A[t]
    pinv:        the three terms of A_bar, each by the product rule with dP (the JVP),
                 d(I - A P) = -(t P + A dP) and d(I - P A) = -(dP A + P t).

The cofactor's derivative is taken from the SVD as cof A is: with ``P = U^T t V`` and
``q_ij = prod_{k != i, j} s_k``, the derivative of ``cof diag(s)`` along P is
``-P_ji q_ij`` off the diagonal and ``sum_{k != i} P_kk q_ik`` on it (at an invertible
matrix, ``det(A) (tr(A^{-1} t) A^{-T} - A^{-T} t^T A^{-T})``); no division, so it holds at
singular matrices too, where det stays a polynomial.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .linalg_support import (
    EPS,
    full_pattern,
    inverse_tangent,
    matrix_row,
    matrix_shape,
    mT,
    singular_problem,
    square_shape,
)
from .structure import broadcast_shape, linear_curvature, size_of, unbroadcast


def _nonsingular(name):
    def domain(a, *rest, **params):
        return singular_problem(name, a)
    return domain


# -- solve ----------------------------------------------------------------------------------

def _columns(b):
    """numpy's rule: a 1-D right-hand side is one vector; otherwise (..., n, k) matrices."""
    return b[:, None] if np.ndim(b) == 1 else b


def _solve_vjp(g, ans, a, b):
    vector = np.ndim(b) == 1
    g2 = g[..., None] if vector else g
    x2 = ans[..., None] if vector else ans
    gb = np.linalg.solve(mT(a), g2)
    ga = -np.matmul(gb, mT(x2))
    gb = unbroadcast(gb[..., 0] if vector else gb, np.shape(b))
    return unbroadcast(ga, np.shape(a)), gb


def _solve_curvature(g, ts, ans, a, b):
    ta, tb = ts
    vector = np.ndim(b) == 1
    g2 = g[..., None] if vector else g
    x2 = ans[..., None] if vector else ans
    gb = np.linalg.solve(mT(a), g2)
    dx = _solve_jvp(ts, ans, a, b)
    dx = dx[..., None] if vector else dx
    ga = -np.matmul(gb, mT(dx))
    dgb = None
    if ta is not None:
        dgb = -np.linalg.solve(mT(a), np.matmul(mT(ta), gb))  # d A^{-T} g = -A^{-T} t^T b_bar
        ga = ga - np.matmul(dgb, mT(x2))
        dgb = unbroadcast(dgb[..., 0] if vector else dgb, np.shape(b))
    return unbroadcast(ga, np.shape(a)), dgb


def _solve_jvp(ts, ans, a, b):
    ta, tb = ts
    x = ans[..., None] if np.ndim(b) == 1 else ans
    rhs = np.zeros(np.shape(x))
    if tb is not None:
        rhs = rhs + _columns(tb)
    if ta is not None:
        rhs = rhs - np.matmul(ta, x)
    out = np.linalg.solve(a, rhs)
    return out[..., 0] if np.ndim(b) == 1 else out


def _solve_shape(a_shape, b_shape):
    n = square_shape("solve", a_shape)
    if len(b_shape) == 1:
        if b_shape[0] != n:
            raise ShapeError(f"solve: a vector right-hand side needs {n} entries; got "
                             f"shape {tuple(b_shape)}")
        return tuple(a_shape[:-1])
    if len(b_shape) < 1 or b_shape[-2] != n:
        raise ShapeError(f"solve: the right-hand side needs shape ({n},) or (..., {n}, k); "
                         f"got shape {tuple(b_shape)}")
    return broadcast_shape(tuple(a_shape[:-2]), tuple(b_shape[:-2])) + tuple(b_shape[-2:])


def _solve_structure(ans_shape, a_shape, b_shape):
    n = a_shape[-1]
    if len(b_shape) == 1:
        return (1, 2, 1), (full_pattern((n,), (n, n)), full_pattern((n,), (n,)))
    k = b_shape[-1]
    # x[i, c] reads the column c of b alone
    same_column = np.equal.outer(np.tile(np.arange(k), n), np.tile(np.arange(k), n))
    return (2, 2, 2), (full_pattern((n, k), (n, n)), same_column)


def _solve_count(ans_shape, a_shape, b_shape):
    n = a_shape[-1]
    return size_of(ans_shape) * (n * n + n)


matrix_row("solve", 2, np.linalg.solve, _solve_vjp, _solve_jvp, _solve_shape,
           _solve_structure, _solve_count, domain=_nonsingular("solve"),
           curvature=_solve_curvature)


# -- inv --------------------------------------------------------------------------------------

def _inv_vjp(g, ans, a):
    return (-np.matmul(np.matmul(mT(ans), g), mT(ans)),)


def _inv_curvature(g, ts, ans, a):
    dc = inverse_tangent(ans, ts[0])
    return (-np.matmul(np.matmul(mT(dc), g), mT(ans)) - np.matmul(np.matmul(mT(ans), g), mT(dc)),)


def _inv_jvp(ts, ans, a):
    (t,) = ts
    return -np.matmul(np.matmul(ans, t), ans)


def _square_structure(ans_shape, a_shape):
    core = 2 if len(ans_shape) == len(a_shape) else 0
    return (core, 2), (full_pattern(ans_shape[len(ans_shape) - core:], a_shape[-2:]),)


def _square_count(ans_shape, a_shape, **params):
    return size_of(ans_shape) * a_shape[-1] * a_shape[-2]


def _inv_shape(a_shape):
    square_shape("inv", a_shape)
    return tuple(a_shape)


matrix_row("inv", 1, np.linalg.inv, _inv_vjp, _inv_jvp, _inv_shape, _square_structure,
           _square_count, domain=_nonsingular("inv"), reads=("ans",), curvature=_inv_curvature)


# -- det, logabsdet, det_sign -----------------------------------------------------------------

def _products_of_others(s: np.ndarray) -> np.ndarray:
    """``prod_{j != i} s_j`` for each i (last axis), without dividing by ``s_i``."""
    ones = np.ones(s.shape[:-1] + (1,))
    before = np.cumprod(np.concatenate([ones, s[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, s[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return before * after


def cofactor(a: np.ndarray) -> np.ndarray:
    """``cof A`` (the gradient of det), from the SVD: valid at singular matrices too."""
    if np.shape(a)[-1] == 0:
        return np.zeros(np.shape(a))
    u, s, vh = np.linalg.svd(a)
    others = _products_of_others(s)
    orientation = np.linalg.det(u) * np.linalg.det(vh)
    return orientation[..., None, None] * np.matmul(u * others[..., None, :], vh)


def cofactor_tangent(a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The derivative of ``cof A`` along ``t``, from the SVD (valid at singular matrices too)."""
    n = np.shape(a)[-1]
    if n == 0:
        return np.zeros(np.shape(t))
    u, s, vh = np.linalg.svd(a)
    p = np.matmul(np.matmul(mT(u), t), mT(vh))
    # q_ij = prod_{k != i, j} s_k: row i holds the products of the others of s with s_i = 1
    q = np.empty(np.shape(a))
    for i in range(n):
        q[..., i, :] = _products_of_others(np.where(np.arange(n) == i, 1.0, s))
    off = q * (1.0 - np.eye(n))
    inner = -mT(p) * off + np.eye(n) * np.sum(off * np.diagonal(p, axis1=-2, axis2=-1)[
        ..., None, :], axis=-1)[..., :, None]
    orientation = np.linalg.det(u) * np.linalg.det(vh)
    return orientation[..., None, None] * np.matmul(np.matmul(u, inner), vh)


def _det_curvature(g, ts, ans, a):
    return (np.asarray(g)[..., None, None] * cofactor_tangent(a, ts[0]),)


def _det_vjp(g, ans, a):
    return (np.asarray(g)[..., None, None] * cofactor(a),)


def _det_jvp(ts, ans, a):
    (t,) = ts
    return np.sum(cofactor(a) * t, axis=(-2, -1))


def _scalar_shape(name):
    def shape(a_shape):
        square_shape(name, a_shape)
        return tuple(a_shape[:-2])
    return shape


matrix_row("det", 1, np.linalg.det, _det_vjp, _det_jvp, _scalar_shape("det"),
           _square_structure, _square_count, reads=("operands",), curvature=_det_curvature)


def _logabsdet(a):
    return np.linalg.slogdet(a)[1]


def _logabsdet_vjp(g, ans, a):
    return (np.asarray(g)[..., None, None] * mT(np.linalg.inv(a)),)


def _logabsdet_curvature(g, ts, ans, a):
    dc = inverse_tangent(np.linalg.inv(a), ts[0])
    return (np.asarray(g)[..., None, None] * mT(dc),)


def _logabsdet_jvp(ts, ans, a):
    (t,) = ts
    return np.sum(mT(np.linalg.inv(a)) * t, axis=(-2, -1))


matrix_row("logabsdet", 1, _logabsdet, _logabsdet_vjp, _logabsdet_jvp,
           _scalar_shape("slogdet"), _square_structure, _square_count,
           domain=_nonsingular("slogdet"), reads=("operands",),
           curvature=_logabsdet_curvature)


def _det_sign(a):
    return np.linalg.slogdet(a)[0]


def _nothing_structure(ans_shape, a_shape):
    return (0, 2), (np.zeros((1, size_of(a_shape[-2:])), dtype=bool),)


matrix_row("det_sign", 1, _det_sign, lambda g, ans, a: (np.zeros(np.shape(a)),),
           lambda ts, ans, a: np.zeros(np.shape(ans)), _scalar_shape("slogdet"),
           _nothing_structure, lambda ans_shape, a_shape: 0, reads=(),
           curvature=linear_curvature)


# -- pinv -------------------------------------------------------------------------------------

def _pinv(a, rtol=None):
    return np.linalg.pinv(a) if rtol is None else np.linalg.pinv(a, rcond=rtol)


def _pinv_domain(a, rtol=None):
    m, n = np.shape(a)[-2:]
    # at least numpy's own cutoff, so that an accepted matrix keeps every singular value
    cutoff = max(max(m, n) * EPS, 1e-15) if rtol is None else max(float(rtol), 1e-15)
    problem = singular_problem("pinv", a, cutoff, "rank deficient")
    if problem is None:
        return None
    return problem + "; the pseudo-inverse jumps where the rank changes (no derivative there)"


def _pinv_vjp(g, ans, a, rtol=None):
    p = ans
    m, n = np.shape(a)[-2:]
    left = np.eye(m) - np.matmul(a, p)   # I - A P, m x m
    right = np.eye(n) - np.matmul(p, a)  # I - P A, n x n
    ga = (-np.matmul(np.matmul(mT(p), g), mT(p))
          + np.matmul(np.matmul(left, mT(g)), np.matmul(p, mT(p)))
          + np.matmul(np.matmul(mT(p), p), np.matmul(mT(g), right)))
    return (ga,)


def _pinv_curvature(g, ts, ans, a, rtol=None):
    (t,) = ts
    p = ans
    dp = _pinv_jvp(ts, ans, a)
    m, n = np.shape(a)[-2:]
    left = np.eye(m) - np.matmul(a, p)
    right = np.eye(n) - np.matmul(p, a)
    d_left = -(np.matmul(t, p) + np.matmul(a, dp))
    d_right = -(np.matmul(dp, a) + np.matmul(p, t))
    p_pt, pt_p = np.matmul(p, mT(p)), np.matmul(mT(p), p)
    d_p_pt = np.matmul(dp, mT(p)) + np.matmul(p, mT(dp))
    d_pt_p = np.matmul(mT(dp), p) + np.matmul(mT(p), dp)
    gt = mT(g)
    ga = (-np.matmul(np.matmul(mT(dp), g), mT(p)) - np.matmul(np.matmul(mT(p), g), mT(dp))
          + np.matmul(np.matmul(d_left, gt), p_pt) + np.matmul(np.matmul(left, gt), d_p_pt)
          + np.matmul(d_pt_p, np.matmul(gt, right)) + np.matmul(pt_p, np.matmul(gt, d_right)))
    return (ga,)


def _pinv_jvp(ts, ans, a, rtol=None):
    (t,) = ts
    p = ans
    m, n = np.shape(a)[-2:]
    left = np.eye(m) - np.matmul(a, p)
    right = np.eye(n) - np.matmul(p, a)
    return (-np.matmul(np.matmul(p, t), p)
            + np.matmul(np.matmul(p, mT(p)), np.matmul(mT(t), left))
            + np.matmul(np.matmul(right, mT(t)), np.matmul(mT(p), p)))


def _pinv_shape(a_shape, rtol=None):
    m, n = matrix_shape("pinv", a_shape)
    return tuple(a_shape[:-2]) + (n, m)


matrix_row("pinv", 1, _pinv, _pinv_vjp, _pinv_jvp, _pinv_shape,
           lambda ans_shape, a_shape, rtol=None: _square_structure(ans_shape, a_shape),
           _square_count, domain=_pinv_domain, param_names=("rtol",),
           curvature=_pinv_curvature)
