"""``la.linalg``: numpy.linalg with numpy's signatures, on traced values and on plain arrays.

Every function takes a matrix or a stack of matrices (the last two axes) and records nodes of
the matrix rows (``solve``, ``inv``, ``det``, ``logabsdet``, ``cholesky``, ``eigh_values``,
``eigh_vectors``, ``svd_values``, ``svd_u``, ``svd_vh``, ``qr_q``, ``qr_r``, ``pinv``,
``norm2``) or of compositions of other rows; on plain arrays it evaluates them with the same
checks. ``np.linalg.<name>`` applied to a traced value lands here.

Where a derivative does not exist the point is refused with `DomainError` (a singular matrix
for solve, inv, slogdet; a rank-deficient one for pinv, qr and lstsq; one that is not positive
definite for cholesky; eigenvalues or singular values too close for the vector rules), never
a NaN. det is differentiable everywhere (its gradient at a singular matrix is the transposed
adjugate). Conventions:

- ``eigh``, ``eigvalsh`` and ``cholesky`` read one triangle of the matrix, as numpy does; the
  gradient with respect to the matrix is therefore triangular (autograd's convention for
  eigh; JAX and autograd's cholesky symmetrize instead: both agree on symmetric tangents).
- eigenvectors and singular vectors are signed so that the largest entry of each (of ``u_i``
  for the SVD) is positive; numpy leaves the signs free.
- at a repeated eigenvalue or singular value the value rules give the symmetric gradient, at
  a zero singular value one side of the kink, and the 2-norm at 0 the subgradient 0.
- the matrix 2-norm is the largest singular value; at ties ``max`` splits its derivative.

What cannot be differentiated is refused on traced values with `TracingError` (and computed
by numpy on plain arrays): ``svd(full_matrices=True)`` of a non-square matrix, ``qr`` modes
``"complete"`` (tall matrices) and ``"raw"``, ``hermitian=True``, ``norm(ord=0)``, ``eig``,
``eigvals``, ``tensorsolve``, ``tensorinv``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from .errors import ShapeError, TracingError
from .tracing.functions import call
from .tracing.functions.core import is_traced, lift


class SlogdetResult(NamedTuple):
    """``(sign, logabsdet)``, as numpy returns them."""

    sign: object
    logabsdet: object


class EighResult(NamedTuple):
    """``(eigenvalues, eigenvectors)``, as numpy returns them."""

    eigenvalues: object
    eigenvectors: object


class SVDResult(NamedTuple):
    """``(U, S, Vh)``, as numpy returns them."""

    U: object
    S: object
    Vh: object


class QRResult(NamedTuple):
    """``(Q, R)``, as numpy returns them."""

    Q: object
    R: object


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def _mT(x):
    n = len(_shape(x))
    if n < 2:
        raise ShapeError(f"a matrix transpose needs at least two axes; got shape {_shape(x)}")
    return call("transpose", x, axes=tuple(range(n - 2)) + (n - 1, n - 2))


def _refuse(what: str, instead: str):
    raise TracingError(f"numpy.linalg.{what} cannot be differentiated on a traced value; "
                       f"{instead}")


def _plain_or_refuse(name: str, instead: str, *xs, **kwargs):
    """numpy's own result on plain arrays; on traced values, `TracingError`."""
    if is_traced(*xs):
        _refuse(name, instead)
    return getattr(np.linalg, name)(*xs, **kwargs)


# -- inverses and determinants ----------------------------------------------------------------

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
        return _plain_or_refuse("pinv", "call it without hermitian=True (the same result for "
                                "a symmetric matrix)", a, rcond=rcond, hermitian=True)
    cutoff = rtol if rtol is not None else rcond
    return call("pinv", a, rtol=None if cutoff is None else float(cutoff))


def matrix_power(a, n: int):
    """``a`` to the integer power ``n`` (repeated squaring; a negative power inverts first)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TracingError(f"matrix_power needs an integer exponent; got {n!r}")
    a = lift(a)
    shape = _shape(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ShapeError(f"matrix_power needs square matrices; got shape {shape}")
    if n == 0:
        return np.broadcast_to(np.eye(shape[-1]), shape).copy()
    base, n = (inv(a), -int(n)) if n < 0 else (a, int(n))
    result = None
    while n:
        if n & 1:
            result = base if result is None else call("matmul", result, base)
        n >>= 1
        if n:
            base = call("matmul", base, base)
    return result


def multi_dot(arrays, *, out=None):
    """``arrays[0] @ arrays[1] @ ...``, with numpy's 1-D conventions at both ends."""
    if out is not None:
        raise TracingError("multi_dot: out= is not supported; use the returned value")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ShapeError("multi_dot needs at least two arrays")
    return functools.reduce(lambda x, y: call("matmul", x, y), arrays)


def cond(x, p=None):
    """The condition number: ``s_max / s_min`` for ``p`` None or 2, else
    ``norm(x, p) norm(inv(x), p)``."""
    x = lift(x)
    if p is None or p == 2 or p == -2:
        s = svdvals(x)
        big, small = call("max", s, axis=(-1,)), call("min", s, axis=(-1,))
        return call("div", big, small) if p != -2 else call("div", small, big)
    return call("mul", norm(x, p, axis=(-2, -1)), norm(inv(x), p, axis=(-2, -1)))


def matrix_rank(A, tol=None, hermitian=False, *, rtol=None):  # noqa: N803
    """The numerical rank (an integer read from the value; not differentiated)."""
    value = A.value if is_traced(A) and hasattr(A, "value") else A
    return np.linalg.matrix_rank(value, tol=tol, hermitian=hermitian, rtol=rtol)


# -- factorizations ---------------------------------------------------------------------------

def cholesky(a, /, *, upper=False):
    """The Cholesky factor of the symmetric positive definite matrix of one triangle of ``a``
    (lower ``L`` with ``a = L L^T``; ``upper=True``: ``R = L^T`` from the upper triangle)."""
    if upper:
        return _mT(call("cholesky", _mT(a)))
    return call("cholesky", a)


def qr(a, mode="reduced"):
    """QR factorization of a matrix of full rank.

    Modes ``"reduced"`` and ``"r"``; ``"complete"`` where it equals ``"reduced"`` (m <= n).
    A wide matrix ``[a1 a2]`` (m < n) is factored as ``a1 = Q R1``, ``R = [R1, Q^T a2]``.
    """
    a = lift(a)
    m, n = _shape(a)[-2:]
    if mode == "raw" or (mode == "complete" and m > n):
        return _plain_or_refuse("qr", "the extra columns of a complete Q are not determined by "
                                "the matrix; use mode='reduced'", a, mode=mode)
    if mode not in ("reduced", "complete", "r"):
        raise TracingError(f"qr: mode must be 'reduced', 'complete', 'r' or 'raw'; got {mode!r}")
    if m >= n:
        r = call("qr_r", a)
        return r if mode == "r" else QRResult(call("qr_q", a), r)
    left, right = (call("getitem", a, index=(Ellipsis, slice(None), part))
                   for part in (slice(0, m), slice(m, None)))
    q = call("qr_q", left)
    r = call("concatenate", call("qr_r", left), call("matmul", _mT(q), right), axis=-1)
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
        return _plain_or_refuse("svd", "call it without hermitian=True", a,
                                full_matrices=full_matrices, compute_uv=compute_uv,
                                hermitian=True)
    if not compute_uv:
        return call("svd_values", a)
    m, n = _shape(a)[-2:]
    if full_matrices and m != n:
        return _plain_or_refuse("svd", "the extra singular vectors of full_matrices=True are "
                                "not determined by the matrix; pass full_matrices=False", a)
    return SVDResult(call("svd_u", a), call("svd_values", a), call("svd_vh", a))


def svdvals(x, /):
    """The singular values, descending."""
    return call("svd_values", x)


def eig(a):
    """Refused on traced values: the eigenvalues of a general matrix are complex."""
    return _plain_or_refuse("eig", "for a symmetric matrix use eigh", a)


def eigvals(a):
    """Refused on traced values: the eigenvalues of a general matrix are complex."""
    return _plain_or_refuse("eigvals", "for a symmetric matrix use eigvalsh", a)


def tensorsolve(a, b, axes=None):
    """Refused on traced values; reshape to a matrix and use solve."""
    return _plain_or_refuse("tensorsolve", "reshape to a square matrix and use solve", a, b,
                            axes=axes)


def tensorinv(a, ind=2):
    """Refused on traced values; reshape to a matrix and use inv."""
    return _plain_or_refuse("tensorinv", "reshape to a square matrix and use inv", a, ind=ind)


def lstsq(a, b, rcond=None):
    """Least squares ``min ||a x - b||`` for ``a`` of full column rank, through the
    pseudo-inverse: ``(x, residuals, rank, s)`` as numpy returns them."""
    a, b = lift(a), lift(b)
    m, n = _shape(a)
    x = call("matmul", pinv(a, rcond), b)
    rank = min(m, n)
    if m > n:
        diff = call("sub", call("matmul", a, x), b)
        residuals = call("sum", call("square", diff), axis=0)
        residuals = call("reshape", residuals, shape=(1,)) if len(_shape(b)) == 1 else residuals
    else:
        residuals = np.zeros((0,))
    return x, residuals, rank, svdvals(a)


# -- products and structure -------------------------------------------------------------------

def matmul(x1, x2, /):
    """The matrix product ``x1 @ x2``."""
    return call("matmul", x1, x2)


def matrix_transpose(x, /):
    """Swap the last two axes."""
    return _mT(lift(x))


def diagonal(x, /, *, offset=0):
    """The diagonal of the last two axes, shifted by ``offset``."""
    x = lift(x)
    m, n = _shape(x)[-2:]
    rows = np.arange(max(0, -offset), min(m, n - offset))
    return call("getitem", x, index=(Ellipsis, rows, rows + offset))


def trace(x, /, *, offset=0, dtype=None):
    """The sum of the diagonal of the last two axes."""
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise TracingError(f"trace: dtype={dtype!r} is not a float type")
    return call("sum", diagonal(x, offset=offset), axis=-1)


def outer(x1, x2, /):
    """The outer product of two vectors."""
    x1, x2 = lift(x1), lift(x2)
    if len(_shape(x1)) != 1 or len(_shape(x2)) != 1:
        raise ShapeError(f"outer takes two vectors; got shapes {_shape(x1)} and {_shape(x2)}")
    return call("mul", call("reshape", x1, shape=(-1, 1)), call("reshape", x2, shape=(1, -1)))


def vecdot(x1, x2, /, *, axis=-1):
    """``sum(x1 * x2, axis)``."""
    return call("sum", call("mul", x1, x2), axis=axis)


# -- norms ------------------------------------------------------------------------------------

def _keep(out, shape: tuple, axes: tuple, keepdims: bool):
    if not keepdims:
        return out
    return call("reshape", out, shape=tuple(1 if k in axes else s for k, s in enumerate(shape)))


def _axes(axis, ndim: int) -> tuple:
    axes = tuple(range(ndim)) if axis is None else \
        (axis,) if np.ndim(axis) == 0 else tuple(axis)
    out = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ShapeError(f"norm: axis {a!r} is not an axis of an array of {ndim} dimensions")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"norm: repeated axis in {axis!r}")
    return tuple(out)


def _vector_norm(x, ord, axes: tuple):  # noqa: A002  (numpy's name)
    axis = axes if len(axes) != 1 else axes[0]
    if ord is None or ord == 2:
        return call("norm2", x, axis=axis)
    if ord == 0:
        return _plain_or_refuse("vector_norm", "ord=0 counts nonzero entries, which has no "
                                "derivative; compute it from the value", x, axis=axis, ord=0)
    if ord == np.inf:
        return call("max", call("abs", x), axis=axes)
    if ord == -np.inf:
        return call("min", call("abs", x), axis=axes)
    if ord == 1:
        return call("sum", call("abs", x), axis=axis)
    if isinstance(ord, str):
        raise ShapeError(f"norm: ord={ord!r} is a matrix norm; a vector norm takes a number")
    p = float(ord)
    powered = call("sum", call("pow", call("abs", x), exponent=p), axis=axis)
    return call("pow", powered, exponent=1.0 / p)


def _matrix_norm(x, ord, axes: tuple):  # noqa: A002
    row, col = axes
    ndim = len(_shape(x))
    rest = tuple(k for k in range(ndim) if k not in axes)
    if ord is None or ord == "fro":
        return call("norm2", x, axis=tuple(sorted(axes)))
    moved = call("transpose", x, axes=rest + (row, col))  # (..., rows, cols)
    if ord == "nuc":
        return call("sum", svdvals(moved), axis=-1)
    if ord in (2, -2):
        return call("max" if ord == 2 else "min", svdvals(moved), axis=(-1,))
    if ord in (1, -1, np.inf, -np.inf):
        along = -2 if ord in (1, -1) else -1
        sums = call("sum", call("abs", moved), axis=len(_shape(moved)) + along)
        return call("max" if ord > 0 else "min", sums, axis=(-1,))
    raise ShapeError(f"norm: ord={ord!r} is not a matrix norm (use None, 'fro', 'nuc', 1, -1, "
                     f"2, -2, inf or -inf)")


def norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    """Vector and matrix norms with numpy's ``ord``, ``axis`` and ``keepdims``.

    Vector ords: 2 (default; its derivative at 0 is taken as 0), 1, inf, -inf and any real p
    (``sum(|x|^p)^(1/p)``); 0 (a count) is refused on traced values. Matrix ords: 'fro'
    (default), 'nuc' (the sum of singular values), 2 and -2 (largest and smallest singular
    value), 1, -1, inf, -inf (largest or smallest absolute column or row sum).
    """
    x = lift(x)
    shape = _shape(x)
    if axis is None and ord is None:
        axes = tuple(range(len(shape)))
        return _keep(call("norm2", x, axis=None), shape, axes, keepdims)
    if axis is None and len(shape) not in (1, 2):
        raise ShapeError(f"norm: an ord needs a vector or a matrix (or an axis); got shape "
                         f"{shape}")
    axes = _axes(axis, len(shape))
    if len(axes) == 1:
        out = _vector_norm(x, ord, axes)
    elif len(axes) == 2:
        out = _matrix_norm(x, ord, axes)
    else:
        raise ShapeError(f"norm: axis must be an int or a pair of ints; got {axis!r}")
    return _keep(out, shape, axes, keepdims)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):  # noqa: A002
    """The vector norm over ``axis`` (all axes by default, or any tuple of them)."""
    x = lift(x)
    shape = _shape(x)
    axes = _axes(axis, len(shape))
    return _keep(_vector_norm(x, ord, axes), shape, axes, keepdims)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):  # noqa: A002
    """The matrix norm of the last two axes."""
    return norm(x, ord, axis=(-2, -1), keepdims=keepdims)


__all__ = [
    "EighResult", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "cond", "det",
    "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "lstsq", "matmul", "matrix_norm",
    "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot", "norm", "outer", "pinv",
    "qr", "slogdet", "solve", "svd", "svdvals", "tensorinv", "tensorsolve", "trace",
    "vecdot", "vector_norm",
]
