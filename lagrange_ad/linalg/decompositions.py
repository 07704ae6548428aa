"""Factorizations: cholesky, qr, eigh, eigvalsh, svd, svdvals (and eig, eigvals refused).

Each output is one row (see `lagrange_ad.primitives.linalg_factorizations` and
`linalg_spectral`), so a pair such as ``eigh``'s is two nodes whose derivatives add up.
"""

from __future__ import annotations

from ..errors import TracingError
from ..tracing.functions import call
from ..tracing.functions.core import lift
from .common import (
    Array,
    ArrayLike,
    EighResult,
    QRResult,
    SVDResult,
    checked_call,
    core_of,
    matrix_transpose_of,
    plain_or_refuse,
)


def cholesky(a: ArrayLike, /, *, upper: bool = False) -> Array:
    """The Cholesky factor of symmetric positive definite matrices.

    Parameters
    ----------
    a : array_like or traced, shape (..., n, n)
        Only the lower triangle is read (the upper one with ``upper=True``), as numpy does;
        the gradient with respect to ``a`` is therefore triangular.
    upper : bool
        Return ``R = L^T`` (``a = R^T R``) instead of the lower ``L`` (``a = L L^T``).

    Returns
    -------
    L or R : shape (..., n, n)
        With ``dL = L Phi(L^{-1} dS L^{-T})``, ``Phi`` the lower triangle with half the
        diagonal (Murray 2016).

    Raises
    ------
    DomainError
        When a matrix is not positive definite to working precision.
    """
    if upper:
        return matrix_transpose_of(checked_call("cholesky", matrix_transpose_of(a)))
    return checked_call("cholesky", a)


def qr(a: ArrayLike, mode: str = "reduced") -> QRResult | Array:
    """QR factorization of matrices of full rank.

    Parameters
    ----------
    a : array_like or traced, shape (..., m, n)
    mode : {"reduced", "r", "complete"}
        ``"complete"`` only where it equals ``"reduced"`` (m <= n): the extra columns of a
        complete Q are not determined by ``a``. ``"raw"`` is refused on traced values.

    Returns
    -------
    QRResult (Q, R), or R alone for ``mode="r"``
        A wide matrix ``[a1 a2]`` (m < n) is factored as ``a1 = Q R1``, ``R = [R1, Q^T a2]``.

    Raises
    ------
    DomainError
        When a matrix is rank deficient (its Q is not determined by it).
    """
    a = lift(a)
    m, n = core_of(a, "qr")
    if mode == "raw" or (mode == "complete" and m > n):
        return plain_or_refuse("qr", "the extra columns of a complete Q are not determined by "
                               "the matrix; use mode='reduced'", a, mode=mode)
    if mode not in ("reduced", "complete", "r"):
        raise TracingError(f"qr: mode must be 'reduced', 'complete', 'r' or 'raw'; got {mode!r}")
    if m >= n:
        r = checked_call("qr_r", a)
        return r if mode == "r" else QRResult(call("qr_q", a), r)
    left, right = (call("getitem", a, index=(Ellipsis, slice(None), part))
                   for part in (slice(0, m), slice(m, None)))
    q = checked_call("qr_q", left)
    beyond = call("matmul", matrix_transpose_of(q), right)  # Q^T a2
    r = call("concatenate", call("qr_r", left), beyond, axis=-1)
    return r if mode == "r" else QRResult(q, r)


def eigh(a: ArrayLike, UPLO: str = "L") -> EighResult:  # noqa: N803  (numpy's name)
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices.

    Parameters
    ----------
    a : array_like or traced, shape (..., n, n)
        Only the triangle ``UPLO`` is read, as numpy does (so is the gradient triangular).
    UPLO : {"L", "U"}

    Returns
    -------
    EighResult (eigenvalues, eigenvectors)
        Each eigenvector signed so that its largest entry is positive.

    Raises
    ------
    DomainError
        When two eigenvalues lie closer than ``GAP_RTOL`` (1e-8) times the largest magnitude:
        the eigenvector rule divides by their differences. Use `eigvalsh` when only the
        eigenvalues are needed.
    """
    a = lift(a)
    vectors = checked_call("eigh_vectors", a, UPLO=UPLO)
    return EighResult(call("eigh_values", a, UPLO=UPLO), vectors)


def eigvalsh(a: ArrayLike, UPLO: str = "L") -> Array:  # noqa: N803
    """Eigenvalues (ascending) of symmetric matrices: ``dw = diag(V^T dS V)``, no gap needed
    (at a repeated eigenvalue the gradient of the symmetric function)."""
    return call("eigh_values", a, UPLO=UPLO)


def svd(a: ArrayLike, full_matrices: bool = True, compute_uv: bool = True,
        hermitian: bool = False) -> SVDResult | Array:
    """Singular value decomposition ``a = U diag(S) Vh``.

    Parameters
    ----------
    a : array_like or traced, shape (..., m, n)
    full_matrices : bool
        On traced values only where it changes nothing (square matrices): the extra singular
        vectors of a full U or Vh are not determined by ``a``.
    compute_uv : bool
        False: the singular values alone (no gap needed).
    hermitian : bool
        Refused on traced values.

    Returns
    -------
    SVDResult (U, S, Vh), or S alone
        Each pair ``(u_i, v_i)`` signed so that the largest entry of ``u_i`` is positive.

    Raises
    ------
    DomainError
        For U and Vh, when two singular values lie closer than ``GAP_RTOL`` times the largest
        or one is that close to zero.
    """
    a = lift(a)
    if hermitian:
        return plain_or_refuse("svd", "call it without hermitian=True", a,
                               full_matrices=full_matrices, compute_uv=compute_uv,
                               hermitian=True)
    if not compute_uv:
        return call("svd_values", a)
    m, n = core_of(a, "svd")
    if full_matrices and m != n:
        return plain_or_refuse("svd", "the extra singular vectors of full_matrices=True are "
                               "not determined by the matrix; pass full_matrices=False", a)
    u = checked_call("svd_u", a)
    return SVDResult(u, call("svd_values", a), call("svd_vh", a))


def svdvals(x: ArrayLike, /) -> Array:
    """The singular values, descending: ``ds = diag(U^T dx V)``."""
    return call("svd_values", x)


def eig(a: ArrayLike):
    """Refused on traced values (the eigenvalues of a general matrix are complex; for a
    symmetric one use `eigh`); numpy's result on plain arrays."""
    return plain_or_refuse("eig", "for a symmetric matrix use eigh", a)


def eigvals(a: ArrayLike):
    """Refused on traced values (use `eigvalsh` for a symmetric matrix); numpy's result on
    plain arrays."""
    return plain_or_refuse("eigvals", "for a symmetric matrix use eigvalsh", a)
