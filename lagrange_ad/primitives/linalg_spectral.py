"""Spectral decompositions: ``eigh_values``, ``eigh_vectors``, ``svd_values``, ``svd_u``,
``svd_vh``; one row per output, so the derivative of a pair is the sum of its rows' rules.

eigh (of the symmetric matrix S = S(A) that the triangle ``UPLO`` of A stands for; see
`linalg_support`), ``S = V diag(w) V^T``, w ascending, and ``F_ij = 1 / (w_j - w_i)`` off the
diagonal (0 on it):

    dw = diag(V^T dS V),             S_bar = V diag(w_bar) V^T,
    dV = V (F o (V^T dS V)),         S_bar = V (F o (V^T V_bar)) V^T.

SVD of an m x n matrix, reduced, ``A = U diag(s) V^T`` (k = min(m, n), s descending), with
``dP = U^T dA V`` and ``F_ij = 1 / (s_j^2 - s_i^2)`` off the diagonal (J. Townsend,
"Differentiating the singular value decomposition", 2016):

    ds = diag(dP),                                  A_bar = U diag(s_bar) V^T,
    dU = U (F o (dP S + S dP^T)) + (I - U U^T) dA V S^{-1},
    dV = V (F o (S dP + dP^T S)) + (I - V V^T) dA^T U S^{-1}.

The value rules need no gap: at repeated values they give the gradient of the symmetric
function (JAX's and autograd's convention), and at a zero singular value one side of the kink.
The vector rules divide by the gaps, so they refuse values closer than ``GAP_RTOL`` times the
largest (and, for singular vectors, a zero singular value, where the signs of ``u_i`` and
``v_i`` come apart). Each vector's sign is fixed (its largest entry positive), which LAPACK
leaves free: every row is then a function of A.

Curvature rules: the adjoints above differentiated along the tangent t of A, with dw, dV (and
ds, dU, dV) from the JVPs and ``dF_ij = -F_ij^2 (dw_j - dw_i)``. For the eigenvalues, with
``P = V^T dS V``, this is the divided difference

    S_bar' = V (P o D) V^T,     D_ij = (w_bar_j - w_bar_i) / (w_j - w_i)  (0 on the diagonal),

and for the singular values ``A_bar' = dU diag(s_bar) V^T + U diag(s_bar) dV^T``; the vector
rows differentiate each factor of their adjoint in turn. The second derivatives of the values
divide by the gaps too, so the value rows' curvature refuses what the vector rows' domain
refuses (`LinAlgDomainError`): at a tie the values are not twice differentiable.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .linalg_support import (
    fix_signs,
    full_pattern,
    gap_problem,
    matrix_row,
    matrix_shape,
    mT,
    reciprocal_gaps_tangent,
    refuse_gap,
    square_shape,
    symmetric_from,
    triangle,
    triangle_cotangent,
)
from .structure import size_of


def _lower(uplo) -> bool:
    if uplo not in ("L", "U"):
        raise ShapeError(f"eigh: UPLO must be 'L' or 'U'; got {uplo!r}")
    return uplo == "L"


def _reciprocal_gaps(w):
    """``F_ij = 1 / (w_j - w_i)`` off the diagonal, 0 on it."""
    diff = w[..., None, :] - w[..., :, None]
    eye = np.eye(w.shape[-1], dtype=bool)
    return np.where(eye, 0.0, 1.0 / np.where(eye, 1.0, diff))


# -- eigh -------------------------------------------------------------------------------------

def eigh(a, UPLO="L"):  # noqa: N803  (numpy's name)
    """Eigenvalues (ascending) and eigenvectors of the symmetric matrix of one triangle of
    ``a``, each eigenvector's largest entry positive."""
    w, v = np.linalg.eigh(a, UPLO=UPLO)
    return w, fix_signs(v)[0]


def _eigh_values(a, UPLO="L"):  # noqa: N803
    return np.linalg.eigvalsh(a, UPLO=UPLO)


def _eigh_vectors(a, UPLO="L"):  # noqa: N803
    return eigh(a, UPLO)[1]


def _eigh_values_vjp(g, ans, a, UPLO="L"):  # noqa: N803
    w, v = eigh(a, UPLO)
    return (triangle_cotangent(np.matmul(v * g[..., None, :], mT(v)), _lower(UPLO)),)


def _eigh_values_jvp(ts, ans, a, UPLO="L"):  # noqa: N803
    w, v = eigh(a, UPLO)
    ds = symmetric_from(ts[0], _lower(UPLO))
    return np.sum(v * np.matmul(ds, v), axis=-2)  # diag(V^T dS V)


def _eigh_tangents(ts, a, UPLO):  # noqa: N803
    """w, V, F, ``P = V^T dS V`` and the tangents ``dw = diag(P)``, ``dV = V (F o P)``."""
    w, v = eigh(a, UPLO)
    p = np.matmul(np.matmul(mT(v), symmetric_from(ts[0], _lower(UPLO))), v)
    f = _reciprocal_gaps(w)
    return w, v, f, p, np.diagonal(p, axis1=-2, axis2=-1), np.matmul(v, f * p)


def _eigh_values_curvature(g, ts, ans, a, UPLO="L"):  # noqa: N803
    w, v, f, p, dw, dv = _eigh_tangents(ts, a, UPLO)
    refuse_gap("eigh", w, "eigenvalues' gradient")
    divided = f * (g[..., None, :] - g[..., :, None])
    return (triangle_cotangent(np.matmul(np.matmul(v, p * divided), mT(v)), _lower(UPLO)),)


def _eigh_vectors_vjp(g, ans, a, UPLO="L"):  # noqa: N803
    w, v = eigh(a, UPLO)
    inner = _reciprocal_gaps(w) * np.matmul(mT(v), g)
    return (triangle_cotangent(np.matmul(np.matmul(v, inner), mT(v)), _lower(UPLO)),)


def _eigh_vectors_curvature(g, ts, ans, a, UPLO="L"):  # noqa: N803
    w, v, f, p, dw, dv = _eigh_tangents(ts, a, UPLO)
    x = np.matmul(mT(v), g)
    z = f * x
    dz = reciprocal_gaps_tangent(f, dw) * x + f * np.matmul(mT(dv), g)
    ds_bar = (np.matmul(np.matmul(dv, z), mT(v)) + np.matmul(np.matmul(v, dz), mT(v))
              + np.matmul(np.matmul(v, z), mT(dv)))
    return (triangle_cotangent(ds_bar, _lower(UPLO)),)


def _eigh_vectors_jvp(ts, ans, a, UPLO="L"):  # noqa: N803
    return _eigh_tangents(ts, a, UPLO)[-1]


def _eigh_vectors_domain(a, UPLO="L"):  # noqa: N803
    return gap_problem("eigh", np.linalg.eigvalsh(a, UPLO=UPLO), "eigenvectors")


def _eigh_shape(which):
    def shape(a_shape, UPLO="L"):  # noqa: N803
        _lower(UPLO)
        square_shape("eigh", a_shape)
        return tuple(a_shape) if which == "vectors" else tuple(a_shape[:-1])
    return shape


def _eigh_structure(ans_shape, a_shape, UPLO="L"):  # noqa: N803
    n = a_shape[-1]
    read = triangle(np.ones((n, n), dtype=bool), _lower(UPLO)).ravel()
    core = 2 if len(ans_shape) == len(a_shape) else 1
    rows = size_of(ans_shape[len(ans_shape) - core:])
    return (core, 2), (np.broadcast_to(read, (rows, n * n)),)


def _eigh_count(ans_shape, a_shape, UPLO="L"):  # noqa: N803
    n = a_shape[-1]
    return size_of(ans_shape) * n * (n + 1) // 2


matrix_row("eigh_values", 1, _eigh_values, _eigh_values_vjp, _eigh_values_jvp,
           _eigh_shape("values"), _eigh_structure, _eigh_count, param_names=("UPLO",),
           reads=("operands",), curvature=_eigh_values_curvature)
matrix_row("eigh_vectors", 1, _eigh_vectors, _eigh_vectors_vjp, _eigh_vectors_jvp,
           _eigh_shape("vectors"), _eigh_structure, _eigh_count, domain=_eigh_vectors_domain,
           param_names=("UPLO",), reads=("operands",), curvature=_eigh_vectors_curvature)


# -- svd --------------------------------------------------------------------------------------

def svd(a):
    """The reduced SVD ``(U, s, Vh)``, each pair ``u_i, v_i`` signed so that ``u_i``'s largest
    entry is positive."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    u, v = fix_signs(u, mT(vh))
    return u, s, mT(v)


def _svd_values(a):
    return np.linalg.svd(a, compute_uv=False)


def _svd_u(a):
    return svd(a)[0]


def _svd_vh(a):
    return svd(a)[2]


def _svd_values_vjp(g, ans, a):
    u, s, vh = svd(a)
    return (np.matmul(u * g[..., None, :], vh),)


def _svd_values_jvp(ts, ans, a):
    u, s, vh = svd(a)
    return np.sum(u * np.matmul(ts[0], mT(vh)), axis=-2)


def _svd_u_vjp(g, ans, a):
    u, s, vh = svd(a)
    x = np.matmul(mT(u), g)
    f = _reciprocal_gaps(s * s)
    z = (f * x + mT(f * x)) * s[..., None, :]
    rest = (g - np.matmul(u, x)) / s[..., None, :]  # (I - U U^T) U_bar S^{-1}
    return (np.matmul(np.matmul(u, z) + rest, vh),)


def _svd_vh_vjp(g, ans, a):
    u, s, vh = svd(a)
    v, gv = mT(vh), mT(g)
    y = np.matmul(vh, gv)
    f = _reciprocal_gaps(s * s)
    w = s[..., :, None] * (f * y + mT(f * y))
    rest = (gv - np.matmul(v, y)) / s[..., None, :]  # (I - V V^T) V_bar S^{-1}
    return (np.matmul(u, np.matmul(w, vh) + mT(rest)),)


def _svd_tangents(ts, a):
    u, s, vh = svd(a)
    dp = np.matmul(np.matmul(mT(u), ts[0]), mT(vh))
    return u, s, vh, dp, _reciprocal_gaps(s * s)


def _du(t, u, s, vh, dp, f):
    inner = f * (dp * s[..., None, :] + s[..., :, None] * mT(dp))
    da_v = np.matmul(t, mT(vh))
    return np.matmul(u, inner) + (da_v - np.matmul(u, np.matmul(mT(u), da_v))) / s[..., None, :]


def _dvh(t, u, s, vh, dp, f):
    v = mT(vh)
    inner = f * (s[..., :, None] * dp + mT(dp) * s[..., None, :])
    da_u = np.matmul(mT(t), u)
    dv = np.matmul(v, inner) + (da_u - np.matmul(v, np.matmul(vh, da_u))) / s[..., None, :]
    return mT(dv)


def _svd_u_jvp(ts, ans, a):
    return _du(ts[0], *_svd_tangents(ts, a))


def _svd_vh_jvp(ts, ans, a):
    return _dvh(ts[0], *_svd_tangents(ts, a))


def _svd_all_tangents(ts, a):
    """U, s, Vh, F and the tangents dU, ds, dVh, ``d(s^2)``, dF along ``ts[0]``."""
    parts = _svd_tangents(ts, a)
    u, s, vh, dp, f = parts
    ds = np.diagonal(dp, axis1=-2, axis2=-1)
    df = reciprocal_gaps_tangent(f, 2.0 * s * ds)
    return u, s, vh, f, _du(ts[0], *parts), ds, _dvh(ts[0], *parts), df


def _svd_values_curvature(g, ts, ans, a):
    refuse_gap("svd", ans, "singular values' gradient", zero_too=True)
    u, s, vh, f, du, ds, dvh, df = _svd_all_tangents(ts, a)
    return (np.matmul(du * g[..., None, :], vh) + np.matmul(u * g[..., None, :], dvh),)


def _svd_u_curvature(g, ts, ans, a):
    u, s, vh, f, du, ds, dvh, df = _svd_all_tangents(ts, a)
    x = np.matmul(mT(u), g)
    y = f * x
    z = (y + mT(y)) * s[..., None, :]
    rest = (g - np.matmul(u, x)) / s[..., None, :]
    dx = np.matmul(mT(du), g)
    dy = df * x + f * dx
    dz = (dy + mT(dy)) * s[..., None, :] + (y + mT(y)) * ds[..., None, :]
    d_rest = (-(np.matmul(du, x) + np.matmul(u, dx)) - rest * ds[..., None, :]) / s[..., None, :]
    return (np.matmul(np.matmul(du, z) + np.matmul(u, dz) + d_rest, vh)
            + np.matmul(np.matmul(u, z) + rest, dvh),)


def _svd_vh_curvature(g, ts, ans, a):
    u, s, vh, f, du, ds, dvh, df = _svd_all_tangents(ts, a)
    v, dv, gv = mT(vh), mT(dvh), mT(g)
    y = np.matmul(vh, gv)
    fy = f * y
    w = s[..., :, None] * (fy + mT(fy))
    rest = (gv - np.matmul(v, y)) / s[..., None, :]
    dy = np.matmul(dvh, gv)
    dfy = df * y + f * dy
    dw = ds[..., :, None] * (fy + mT(fy)) + s[..., :, None] * (dfy + mT(dfy))
    d_rest = (-(np.matmul(dv, y) + np.matmul(v, dy)) - rest * ds[..., None, :]) / s[..., None, :]
    return (np.matmul(du, np.matmul(w, vh) + mT(rest))
            + np.matmul(u, np.matmul(dw, vh) + np.matmul(w, dvh) + mT(d_rest)),)


def _svd_vectors_domain(a):
    return gap_problem("svd", np.linalg.svd(a, compute_uv=False), "singular vectors",
                       zero_too=True)


def _svd_shape(which):
    def shape(a_shape):
        m, n = matrix_shape("svd", a_shape)
        k = min(m, n)
        batch = tuple(a_shape[:-2])
        return {"values": batch + (k,), "u": batch + (m, k), "vh": batch + (k, n)}[which]
    return shape


def _svd_structure(ans_shape, a_shape):
    core = len(ans_shape) - len(a_shape) + 2
    return (core, 2), (full_pattern(ans_shape[len(ans_shape) - core:], a_shape[-2:]),)


def _svd_count(ans_shape, a_shape):
    return size_of(ans_shape) * a_shape[-1] * a_shape[-2]


matrix_row("svd_values", 1, _svd_values, _svd_values_vjp, _svd_values_jvp,
           _svd_shape("values"), _svd_structure, _svd_count, reads=("operands",),
           curvature=_svd_values_curvature)
matrix_row("svd_u", 1, _svd_u, _svd_u_vjp, _svd_u_jvp, _svd_shape("u"), _svd_structure,
           _svd_count, domain=_svd_vectors_domain, reads=("operands",),
           curvature=_svd_u_curvature)
matrix_row("svd_vh", 1, _svd_vh, _svd_vh_vjp, _svd_vh_jvp, _svd_shape("vh"), _svd_structure,
           _svd_count, domain=_svd_vectors_domain, reads=("operands",),
           curvature=_svd_vh_curvature)
