"""Factorizations: cholesky, qr, eigh, eigvalsh, svd, svdvals (and eig, eigvals refused).

Each output is one row (see `lagrange_ad.primitives.linalg_factorizations` and
`linalg_spectral`), so a pair such as ``eigh``'s is two nodes whose derivatives add up.
"""

from __future__ import annotations

from ..errors import TracingError
from ..tracing.functions import call
from ..tracing.functions.core import lift
from .common import (
    EighResult,
    QRResult,
    SVDResult,
    matrix_transpose_of,
    plain_or_refuse,
    shape_of,
)


def cholesky(a, /, *, upper=False):
    """The Cholesky factor of the symmetric positive definite matrix of one triangle of ``a``
    (lower ``L`` with ``a = L L^T``; ``upper=True``: ``R = L^T`` from the upper triangle)."""
    if upper:
        return matrix_transpose_of(call("cholesky", matrix_transpose_of(a)))
    return call("cholesky", a)


def qr(a, mode="reduced"):
    """QR factorization of a matrix of full rank.

    Modes ``"reduced"`` and ``"r"``; ``"complete"`` where it equals ``"reduced"`` (m <= n).
    A wide matrix ``[a1 a2]`` (m < n) is factored as ``a1 = Q R1``, ``R = [R1, Q^T a2]``.
    """
    a = lift(a)
    m, n = shape_of(a)[-2:]
    if mode == "raw" or (mode == "complete" and m > n):
        return plain_or_refuse("qr", "the extra columns of a complete Q are not determined by "
                                "the matrix; use mode='reduced'", a, mode=mode)
    if mode not in ("reduced", "complete", "r"):
        raise TracingError(f"qr: mode must be 'reduced', 'complete', 'r' or 'raw'; got {mode!r}")
    if m >= n:
        r = call("qr_r", a)
        return r if mode == "r" else QRResult(call("qr_q", a), r)
    left, right = (call("getitem", a, index=(Ellipsis, slice(None), part))
                   for part in (slice(0, m), slice(m, None)))
    q = call("qr_q", left)
    beyond = call("matmul", matrix_transpose_of(q), right)  # Q^T a2
    r = call("concatenate", call("qr_r", left), beyond, axis=-1)
    return r if mode == "r" else QRResult(q, r)


def eigh(a, UPLO="L") -> EighResult:  # noqa: N803  (numpy's name)
    """Eigenvalues (ascending) and eigenvectors of the symmetric matrix of one triangle of ``a``.

    The eigenvector rule needs distinct eigenvalues (else `DomainError`; use `eigvalsh` when
    only the eigenvalues are needed).
    """
    a = lift(a)
    return EighResult(call("eigh_values", a, UPLO=UPLO), call("eigh_vectors", a, UPLO=UPLO))


def eigvalsh(a, UPLO="L"):  # noqa: N803
    """Eigenvalues (ascending) of a symmetric matrix: ``dw = diag(V^T dS V)``, no gap needed."""
    return call("eigh_values", a, UPLO=UPLO)


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """Singular value decomposition ``a = U diag(S) Vh`` (reduced when the matrix is square or
    ``full_matrices=False``); ``compute_uv=False`` gives the values alone."""
    a = lift(a)
    if hermitian:
        return plain_or_refuse("svd", "call it without hermitian=True", a,
                                full_matrices=full_matrices, compute_uv=compute_uv,
                                hermitian=True)
    if not compute_uv:
        return call("svd_values", a)
    m, n = shape_of(a)[-2:]
    if full_matrices and m != n:
        return plain_or_refuse("svd", "the extra singular vectors of full_matrices=True are "
                                "not determined by the matrix; pass full_matrices=False", a)
    return SVDResult(call("svd_u", a), call("svd_values", a), call("svd_vh", a))


def svdvals(x, /):
    """The singular values, descending."""
    return call("svd_values", x)


def eig(a):
    """Refused on traced values: the eigenvalues of a general matrix are complex."""
    return plain_or_refuse("eig", "for a symmetric matrix use eigh", a)


def eigvals(a):
    """Refused on traced values: the eigenvalues of a general matrix are complex."""
    return plain_or_refuse("eigvals", "for a symmetric matrix use eigvalsh", a)
