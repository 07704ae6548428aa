"""Linear systems, inverses and determinants: solve, inv, det, slogdet, pinv, lstsq.

Each is one row (see `lagrange_ad.primitives.linalg_inverses` for the rules and domains);
lstsq is the pseudo-inverse applied to the right-hand side.
"""

from __future__ import annotations

import numpy as np

from ..tracing.functions import call
from ..tracing.functions.core import lift
from .common import SlogdetResult, plain_or_refuse, shape_of


def solve(a, b):
    """Solve ``a x = b`` (numpy's rules: a 1-D ``b`` is one vector, else (..., n, k)).

    ``dx = a^{-1} (db - da x)``; a singular ``a`` raises `DomainError`.
    """
    return call("solve", a, b)


def inv(a):
    """The inverse of a square matrix (``d inv = -inv da inv``); singular raises `DomainError`."""
    return call("inv", a)


def det(a):
    """The determinant; its gradient is the cofactor matrix, also at singular matrices."""
    return call("det", a)


def slogdet(a) -> SlogdetResult:
    """``(sign, log|det a|)``: ``d log|det a| = <a^{-T}, da>``; the sign has derivative 0."""
    a = lift(a)
    return SlogdetResult(call("det_sign", a), call("logabsdet", a))


def pinv(a, rcond=None, hermitian=False, *, rtol=None):
    """The Moore-Penrose pseudo-inverse of a matrix of full rank (rank deficient: refused).

    ``rcond`` or ``rtol`` set the relative cutoff below which a singular value counts as zero.
    """
    if hermitian:
        return plain_or_refuse("pinv", "call it without hermitian=True (the same result for "
                                "a symmetric matrix)", a, rcond=rcond, hermitian=True)
    cutoff = rtol if rtol is not None else rcond
    return call("pinv", a, rtol=None if cutoff is None else float(cutoff))


def lstsq(a, b, rcond=None):
    """Least squares ``min ||a x - b||`` for ``a`` of full column rank, through the
    pseudo-inverse: ``(x, residuals, rank, s)`` as numpy returns them."""
    a, b = lift(a), lift(b)
    m, n = shape_of(a)
    x = call("matmul", pinv(a, rcond), b)
    rank = min(m, n)
    if m > n:
        diff = call("sub", call("matmul", a, x), b)
        residuals = call("sum", call("square", diff), axis=0)
        residuals = call("reshape", residuals, shape=(1,)) if len(shape_of(b)) == 1 else residuals
    else:
        residuals = np.zeros((0,))
    return x, residuals, rank, call("svd_values", a)


def tensorsolve(a, b, axes=None):
    """Refused on traced values; reshape to a matrix and use solve."""
    return plain_or_refuse("tensorsolve", "reshape to a square matrix and use solve", a, b,
                            axes=axes)


def tensorinv(a, ind=2):
    """Refused on traced values; reshape to a matrix and use inv."""
    return plain_or_refuse("tensorinv", "reshape to a square matrix and use inv", a, ind=ind)
