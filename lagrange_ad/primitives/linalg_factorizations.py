"""Triangular factorizations: ``cholesky`` and the two factors ``qr_q``, ``qr_r`` of QR.

Cholesky, ``S(A) = L L^T`` with S(A) the symmetric matrix of A's lower triangle (what LAPACK
reads; see `linalg_support`). With ``Phi(X) = tril(X) - diag(X) / 2`` (I. Murray, "Differentiation
of the Cholesky decomposition", 2016):

    dL = L Phi(L^{-1} dS L^{-T}),     S_bar = L^{-T} Phi(L^T tril(L_bar)) L^{-1},

and ``A_bar`` is S_bar pulled back to the lower triangle. A matrix that is not positive
definite (to working precision) is refused.

QR of a tall or square matrix of full column rank, ``A = Q R`` with Q m x n orthonormal and R
n x n upper triangular (the signs of R's diagonal as LAPACK leaves them, locally constant).
With ``C = Q^T dA R^{-1}`` and ``Omega = tril(C, -1) - tril(C, -1)^T`` (antisymmetric):

    dQ = Q (Omega - C) + dA R^{-1},     dR = (C - Omega) R.

Their adjoints, with ``K = Q^T Q_bar`` and ``M = triu(R_bar) R^T``:

    A_bar = (Q (tril(K, -1) - tril(K^T, -1) - K) + Q_bar) R^{-T}     from Q,
    A_bar = Q (triu(M) + tril(M^T, -1)) R^{-T}                       from R.

A matrix of deficient column rank is refused: its Q is not determined by A.

Curvature rules, the adjoints above differentiated along the tangent t of A with dL, dQ, dR
from the JVPs. For Cholesky, with ``S_bar = L^{-T} Y L^{-1}`` and ``Y = Phi(L^T tril(L_bar))``,

    S_bar' = L^{-T} (Phi(dL^T tril(L_bar)) - dL^T S_bar L - L^T S_bar dL) L^{-1};

for QR, with the linear maps of the adjoints above, ``P(K) = tril(K, -1) - tril(K^T, -1) - K``
and ``C(M) = triu(M) + tril(M^T, -1)``, and ``A_bar = N R^{-T}`` (``N = Q P(K) + Q_bar`` from
Q, ``N = Q C(M)`` from R),

    A_bar' = (N' - A_bar dR^T) R^{-T},
    N' = dQ P(K) + Q P(dQ^T Q_bar)               (from Q),
    N' = dQ C(M) + Q C(triu(R_bar) dR^T)         (from R).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

from ..errors import ShapeError
from .linalg_support import (
    EPS,
    LU_ORDER,
    matrix_row,
    matrix_shape,
    mT,
    right_solve,
    singular_problem,
    square_shape,
    symmetric_from,
    triangle_cotangent,
    triangular_solve,
)
from .structure import size_of

# -- cholesky ---------------------------------------------------------------------------------


def _phi(x):
    return np.tril(x) - 0.5 * np.eye(x.shape[-1]) * x


def _cholesky_domain(a):
    s = symmetric_from(np.asarray(a, dtype=np.float64), lower=True)
    n = s.shape[-1]
    if n == 0:
        return None
    if n > LU_ORDER:  # LAPACK's condition estimate after the factorization itself
        stack = s.reshape(-1, n, n)
        rcond = np.zeros(len(stack))
        for k, matrix in enumerate(stack):
            factor, info = lapack.dpotrf(matrix, lower=1)
            if info == 0:
                rcond[k] = lapack.dpocon(factor, np.linalg.norm(matrix, 1), uplo="L")[0]
        bad, found = rcond <= n * EPS, "reciprocal condition number (1-norm estimate)"
        shown = rcond
    else:
        w = np.linalg.eigvalsh(s).reshape(-1, n)
        scale = np.max(np.abs(w), axis=-1, initial=0.0)
        bad, found, shown = w[:, 0] <= n * EPS * scale, "smallest eigenvalue", w[:, 0]
    if not np.any(bad):
        return None
    k = int(np.flatnonzero(bad)[0])
    where = (f" (matrix {tuple(int(i) for i in np.unravel_index(k, s.shape[:-2]))} of the "
             f"stack)" if s.ndim > 2 else "")
    return (f"cholesky: the matrix is not positive definite to working precision{where}: its "
            f"{found} is {shown[k]:.3g}; for a covariance matrix add a small multiple of the "
            f"identity (a jitter)")


def _sandwich(lower, y):
    """``L^{-T} Y L^{-1}`` by two triangular solves."""
    z = triangular_solve(mT(lower), y, lower=False)                  # L^{-T} Y
    return mT(triangular_solve(mT(lower), mT(z), lower=False))       # Z L^{-1}


def _cholesky_vjp(g, ans, a):
    lower = ans
    s_bar = _sandwich(lower, _phi(np.matmul(mT(lower), np.tril(g))))
    return (triangle_cotangent(s_bar, lower=True),)


def _cholesky_curvature(g, ts, ans, a):
    lower = ans
    dl = _cholesky_jvp(ts, ans, a)
    s_bar = _sandwich(lower, _phi(np.matmul(mT(lower), np.tril(g))))
    middle = (_phi(np.matmul(mT(dl), np.tril(g))) - np.matmul(np.matmul(mT(dl), s_bar), lower)
              - np.matmul(np.matmul(mT(lower), s_bar), dl))
    return (triangle_cotangent(_sandwich(lower, middle), lower=True),)


def _cholesky_jvp(ts, ans, a):
    (t,) = ts
    lower = ans
    w = triangular_solve(lower, symmetric_from(t, lower=True), lower=True)  # L^{-1} dS
    x = mT(triangular_solve(lower, mT(w), lower=True))                     # W L^{-T}
    return np.matmul(lower, _phi(x))


def _cholesky_shape(a_shape):
    square_shape("cholesky", a_shape)
    return tuple(a_shape)


def _cholesky_pattern(n):
    # L[i, j] (i >= j) reads the leading (j+1) x (j+1) block of A's lower triangle, and row i
    # of it up to column j
    i, j = (k.ravel() for k in np.indices((n, n)))
    p, q = i.copy(), j.copy()
    out_ok = (i >= j)[:, None]
    in_ok = (p >= q)[None, :]
    reads = (p[None, :] <= j[:, None]) | ((p[None, :] == i[:, None]) & (q[None, :] <= j[:, None]))
    return out_ok & in_ok & reads


def _cholesky_count(ans_shape, a_shape):
    n = a_shape[-1]
    per_matrix = sum((n - j) * (j + 1) * (j + 2) // 2 + (n - j - 1) * (j + 1) for j in range(n))
    return size_of(a_shape[:-2]) * per_matrix


matrix_row("cholesky", 1, np.linalg.cholesky, _cholesky_vjp, _cholesky_jvp, _cholesky_shape,
           lambda ans_shape, a_shape: ((2, 2), (_cholesky_pattern(a_shape[-1]),)),
           _cholesky_count, domain=_cholesky_domain, reads=("ans",),
           curvature=_cholesky_curvature)


# -- qr ---------------------------------------------------------------------------------------

def _qr(a):
    return np.linalg.qr(a, mode="reduced")


def _qr_domain(a):
    return singular_problem("qr", a, what="rank deficient")


def _qr_parts(ts, a):
    """Q, R and C = Q^T dA R^{-1}, dA R^{-1} and Omega for the tangent ``ts[0]``."""
    q, r = _qr(a)
    da_rinv = right_solve(ts[0], r)
    c = np.matmul(mT(q), da_rinv)
    low = np.tril(c, -1)
    return q, r, c, da_rinv, low - mT(low)


def _qr_tangents(ts, a):
    """Q, R and their tangents dQ, dR along ``ts[0]``, from one factorization."""
    q, r, c, da_rinv, omega = _qr_parts(ts, a)
    return q, r, np.matmul(q, omega - c) + da_rinv, np.matmul(c - omega, r)


def _qr_q_jvp(ts, ans, a):
    return _qr_tangents(ts, a)[2]


def _qr_r_jvp(ts, ans, a):
    return _qr_tangents(ts, a)[3]


def _q_middle(k):
    """``P(K) = tril(K, -1) - tril(K^T, -1) - K``, linear in K."""
    return np.tril(k, -1) - np.tril(mT(k), -1) - k


def _r_middle(m):
    """``C(M) = triu(M) + tril(M^T, -1)``, linear in M."""
    return np.triu(m) + np.tril(mT(m), -1)


def _qr_q_vjp(g, ans, a):
    q, r = _qr(a)
    return (right_solve(np.matmul(q, _q_middle(np.matmul(mT(q), g))) + g, mT(r)),)


def _qr_r_vjp(g, ans, a):
    q, r = _qr(a)
    return (right_solve(np.matmul(q, _r_middle(np.matmul(np.triu(g), mT(r)))), mT(r)),)


def _qr_q_curvature(g, ts, ans, a):
    q, r, dq, dr = _qr_tangents(ts, a)
    ga = right_solve(np.matmul(q, _q_middle(np.matmul(mT(q), g))) + g, mT(r))
    dn = (np.matmul(dq, _q_middle(np.matmul(mT(q), g)))
          + np.matmul(q, _q_middle(np.matmul(mT(dq), g))))
    return (right_solve(dn - np.matmul(ga, mT(dr)), mT(r)),)


def _qr_r_curvature(g, ts, ans, a):
    q, r, dq, dr = _qr_tangents(ts, a)
    upper = np.triu(g)
    ga = right_solve(np.matmul(q, _r_middle(np.matmul(upper, mT(r)))), mT(r))
    dn = (np.matmul(dq, _r_middle(np.matmul(upper, mT(r))))
          + np.matmul(q, _r_middle(np.matmul(upper, mT(dr)))))
    return (right_solve(dn - np.matmul(ga, mT(dr)), mT(r)),)


def _qr_shape(which):
    def shape(a_shape):
        m, n = matrix_shape("qr", a_shape)
        if m < n:
            raise ShapeError(f"qr_{which}: the factor rows take a tall or square matrix (m >= n);"
                             f" got shape {tuple(a_shape)}")
        return tuple(a_shape) if which == "q" else tuple(a_shape[:-2]) + (n, n)
    return shape


def _qr_pattern(which, m, n):
    if which == "q":
        # column j of Q reads the columns 0..j of A
        columns = np.indices((m, n))[1].ravel()
        return columns[None, :] <= columns[:, None]
    # R[i, j] = q_i^T a_j (i < j) reads the columns 0..i and j of A; below the diagonal, zeros
    i, j = (k.ravel()[:, None] for k in np.indices((n, n)))
    q = np.indices((m, n))[1].ravel()[None, :]
    return (i <= j) & ((q <= i) | (q == j))


def _qr_count(which):
    def count(ans_shape, a_shape):
        m, n = a_shape[-2:]
        if which == "q":
            per_matrix = m * m * n * (n + 1) // 2
        else:
            per_matrix = sum(m * (i + 1) + m * (n - i - 1) * (i + 2)
                             for i in range(n))
        return size_of(a_shape[:-2]) * per_matrix
    return count


def _qr_structure(which):
    def structure(ans_shape, a_shape):
        return (2, 2), (_qr_pattern(which, *a_shape[-2:]),)
    return structure


def _qr_q(a):
    return _qr(a)[0]


def _qr_r(a):
    return _qr(a)[1]


matrix_row("qr_q", 1, _qr_q, _qr_q_vjp, _qr_q_jvp, _qr_shape("q"), _qr_structure("q"),
           _qr_count("q"), domain=_qr_domain, reads=("operands",),
           curvature=_qr_q_curvature)
matrix_row("qr_r", 1, _qr_r, _qr_r_vjp, _qr_r_jvp, _qr_shape("r"), _qr_structure("r"),
           _qr_count("r"), domain=_qr_domain, reads=("operands",),
           curvature=_qr_r_curvature)
