"""Linear systems, inverses and determinants: solve, inv, det, slogdet, pinv, lstsq.

Each is one row (see `lagrange_ad.primitives.linalg_inverses` for the rules and domains);
lstsq is the pseudo-inverse applied to the right-hand side.
"""

from __future__ import annotations

import numpy as np

from ..tracing.functions import call
from ..tracing.functions.core import lift
from .common import (
    Array,
    ArrayLike,
    SlogdetResult,
    checked_call,
    core_of,
    plain_or_refuse,
    shape_of,
)


def solve(a: ArrayLike, b: ArrayLike) -> Array:
    """Solve ``a x = b`` for one matrix or a stack of them.

    Parameters
    ----------
    a : array_like or traced, shape (..., n, n)
        Nonsingular matrices.
    b : array_like or traced, shape (n,) or (..., n, k)
        numpy's rule: a 1-D ``b`` is one vector; otherwise a stack of n x k matrices, whose
        leading axes broadcast against those of ``a``.

    Returns
    -------
    x : shape (..., n) or (..., n, k)
        With ``dx = a^{-1} (db - da x)``, ``b_bar = a^{-T} x_bar``, ``a_bar = -b_bar x^T``.

    Raises
    ------
    DomainError
        When a matrix of ``a`` is singular to working precision (numpy's rank rule).
    """
    return checked_call("solve", a, b)


def inv(a: ArrayLike) -> Array:
    """The inverse of square matrices: ``d inv(a) = -inv(a) da inv(a)``.

    Raises `DomainError` when a matrix is singular to working precision.
    """
    return checked_call("inv", a)


def det(a: ArrayLike) -> Array:
    """The determinant of square matrices.

    Its gradient is the cofactor matrix ``det(a) a^{-T}``, computed from the SVD so that it
    holds at singular matrices too (the transposed adjugate; zero where the rank is below
    n - 1).
    """
    return call("det", a)


def slogdet(a: ArrayLike) -> SlogdetResult:
    """``(sign, logabsdet)`` of square matrices, numpy's result tuple.

    ``d log|det a| = <a^{-T}, da>``; the sign is piecewise constant (derivative 0). Raises
    `DomainError` for a singular matrix, where ``log|det a|`` is minus infinity.
    """
    a = lift(a)
    logabsdet = checked_call("logabsdet", a)
    return SlogdetResult(call("det_sign", a), logabsdet)


def pinv(a: ArrayLike, rcond: float | None = None, hermitian: bool = False, *,
         rtol: float | None = None) -> Array:
    """The Moore-Penrose pseudo-inverse of matrices of full rank.

    Parameters
    ----------
    a : array_like or traced, shape (..., m, n)
    rcond, rtol : float, optional
        The relative cutoff below which a singular value counts as zero (numpy's two names).
    hermitian : bool
        Refused on traced values (the general rule gives the same result for a symmetric
        matrix).

    Raises
    ------
    DomainError
        When a matrix is rank deficient: the pseudo-inverse jumps where the rank changes, so
        its derivative (Golub and Pereyra) exists only at full rank.
    """
    if hermitian:
        return plain_or_refuse("pinv", "call it without hermitian=True (the same result for "
                               "a symmetric matrix)", a, rcond=rcond, hermitian=True)
    cutoff = rtol if rtol is not None else rcond
    return checked_call("pinv", a, rtol=None if cutoff is None else float(cutoff))


def lstsq(a: ArrayLike, b: ArrayLike, rcond: float | None = None) -> tuple:
    """Least squares ``min ||a x - b||`` for one matrix ``a`` of full rank.

    ``x = pinv(a) b`` (the least-norm solution when ``a`` is wide); returns numpy's
    ``(x, residuals, rank, s)``: the squared residual norms (tall ``a`` only, else empty),
    the rank and the singular values. A rank-deficient ``a`` raises `DomainError`.
    """
    a, b = lift(a), lift(b)
    m, n = core_of(a, "lstsq", stacks=False)
    x = call("matmul", pinv(a, rcond), b)
    if m > n:
        diff = call("sub", call("matmul", a, x), b)
        residuals = call("sum", call("square", diff), axis=0)
        residuals = call("reshape", residuals, shape=(1,)) if len(shape_of(b)) == 1 else residuals
    else:
        residuals = np.zeros((0,))
    return x, residuals, min(m, n), call("svd_values", a)


def tensorsolve(a: ArrayLike, b: ArrayLike, axes=None) -> Array:
    """Refused on traced values (reshape to a square matrix and use `solve`); numpy's result
    on plain arrays."""
    return plain_or_refuse("tensorsolve", "reshape to a square matrix and use solve", a, b,
                           axes=axes)


def tensorinv(a: ArrayLike, ind: int = 2) -> Array:
    """Refused on traced values (reshape to a square matrix and use `inv`); numpy's result on
    plain arrays."""
    return plain_or_refuse("tensorinv", "reshape to a square matrix and use inv", a, ind=ind)
