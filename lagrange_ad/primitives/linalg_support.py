"""Shared pieces of the matrix-function primitives (solve, inv, det, eigh, svd, qr, ...).

Every matrix row acts on the last two axes of its operands (the *core*); leading axes are a
batch, broadcast as numpy's ``linalg`` functions broadcast them. The rows differ in their
evaluation and derivative rules; what they share lives here:

- the symmetric matrix that ``eigh`` and ``cholesky`` read from one triangle of ``A``,
  ``S(A) = tril(A) + tril(A, -1)^T``, and the cotangent map that pulls a gradient ``G`` with
  respect to S back to A: ``<G, S(dA)> = <tril(G + G^T, -1) + diag(G), dA>``;
- the domain checks (a numerically singular matrix, a spectral gap too small for the vector
  rules), each a message naming the batch entry at fault;
- the explicit Jacobian of a row: one dense VJP per output entry, kept on the row's pattern
  (the entries that can be nonzero), whose size is the row's multiply-add count;
- the curvature rule's frame: a row's rule is the derivative of its VJP formula along the
  tangent ``t`` of its operands, by the product rule on the formula's building blocks (Q and
  R, V and w, U, s and V, L, A^{-1}) with each block's own JVP (``d A^{-1} = -A^{-1} t A^{-1}``,
  ``dV = V (F o (V^T dS V))``, ...), in closed form, without differences.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg import lapack, solve_triangular

from ..errors import LinAlgDomainError, ShapeError
from .registry import Block, Primitive, register
from .structure import broadcast_sources, linear_curvature, size_of

EPS = np.finfo(np.float64).eps

# Eigenvector and singular-vector rules divide by differences of eigenvalues (or squared
# singular values); below this gap, relative to the largest magnitude, they are refused.
GAP_RTOL = 1e-8


def mT(x: np.ndarray) -> np.ndarray:
    """The matrix transpose of the last two axes."""
    return np.swapaxes(x, -1, -2)


def right_solve(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """``x @ inv(m)`` for stacks of matrices, as ``solve(m^T, x^T)^T``."""
    return mT(np.linalg.solve(mT(m), mT(x)))


def triangular_solve(t: np.ndarray, b: np.ndarray, lower: bool) -> np.ndarray:
    """``t^{-1} b`` for a triangular ``t``: by substitution for one matrix, by numpy's general
    solve for stacks (vectorized over the batch)."""
    if np.ndim(t) == 2 and np.ndim(b) == 2:
        return solve_triangular(t, b, lower=lower, check_finite=False)
    return np.linalg.solve(t, b)


def triangle(x: np.ndarray, lower: bool, k: int = 0) -> np.ndarray:
    """``tril(x, -k)`` when ``lower`` else ``triu(x, k)``, over the last two axes."""
    return np.tril(x, -k) if lower else np.triu(x, k)


def symmetric_from(a: np.ndarray, lower: bool) -> np.ndarray:
    """``S(a)``: the symmetric matrix that one triangle of ``a`` stands for (as LAPACK reads)."""
    part = triangle(a, lower, 1)
    return triangle(a, lower) + mT(part)


def triangle_cotangent(g: np.ndarray, lower: bool) -> np.ndarray:
    """Pull a cotangent ``g`` of ``S(a)`` back to ``a``: ``tri(g + g^T, off) + diag(g)``."""
    diagonal = np.eye(g.shape[-1]) * g
    return triangle(g + mT(g), lower, 1) + diagonal


def square_shape(name: str, shape: tuple) -> int:
    """The order n of a stack of n x n matrices, or `ShapeError`."""
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ShapeError(f"{name} needs a square matrix or a stack of them (shape (..., n, n));"
                         f" got shape {tuple(shape)}")
    return shape[-1]


def matrix_shape(name: str, shape: tuple) -> tuple[int, int]:
    """The core (m, n) of a stack of matrices, or `ShapeError`."""
    if len(shape) < 2:
        raise ShapeError(f"{name} needs a matrix or a stack of them (shape (..., m, n)); "
                         f"got shape {tuple(shape)}")
    return shape[-2], shape[-1]


def _where(batch_shape: tuple, flat: int) -> str:
    if not batch_shape:
        return ""
    return f" (matrix {tuple(int(k) for k in np.unravel_index(flat, batch_shape))} of the stack)"


def singular_problem(name: str, a: np.ndarray, rtol: float | None = None,
                     what: str = "singular") -> str | None:
    """A message when a matrix of the stack is ``what`` (singular, rank deficient) to working
    precision, else None.

    The test is numpy's rank rule, ``s_min <= rtol * s_max`` with ``rtol = max(m, n) eps``.
    Square matrices larger than `LU_ORDER` take LAPACK's estimate of the reciprocal condition
    number in the 1-norm instead (an LU factorization, several times cheaper than the
    singular values, and within a factor n of them).
    """
    a = np.asarray(a, dtype=np.float64)
    m, n = a.shape[-2:]
    if m == 0 or n == 0:
        return None
    rtol = max(m, n) * EPS if rtol is None else rtol
    if m == n and n > LU_ORDER and what == "singular":
        rcond = _reciprocal_condition(a.reshape(-1, n, n))
        bad = rcond <= rtol
        if not np.any(bad):
            return None
        k = int(np.flatnonzero(bad)[0])
        return (f"{name}: the matrix is {what} to working precision{_where(a.shape[:-2], k)}: "
                f"its reciprocal condition number (1-norm estimate) is {rcond[k]:.3g}")
    s = np.linalg.svd(a, compute_uv=False)
    bad = (s[..., -1] <= rtol * s[..., 0]).ravel()
    if not np.any(bad):
        return None
    k = int(np.flatnonzero(bad)[0])
    s_flat = s.reshape(-1, s.shape[-1])[k]
    return (f"{name}: the matrix is {what} to working precision{_where(a.shape[:-2], k)}: "
            f"its singular values range from {s_flat[0]:.3g} down to {s_flat[-1]:.3g}")


LU_ORDER = 16  # square matrices above this order are tested by an LU factorization


def _reciprocal_condition(stack: np.ndarray) -> np.ndarray:
    """LAPACK's 1-norm estimate of ``1 / cond(a)`` for each matrix (0 when exactly singular)."""
    out = np.zeros(len(stack))
    for k, a in enumerate(stack):
        lu, _, info = lapack.dgetrf(a)
        if info == 0:
            out[k] = lapack.dgecon(lu, np.linalg.norm(a, 1), norm="1")[0]
    return out


def gap_problem(name: str, w: np.ndarray, what: str, zero_too: bool = False) -> str | None:
    """A message when two values of ``w`` (sorted along the last axis) lie closer than
    ``GAP_RTOL`` times the largest magnitude (or one lies that close to 0, with
    ``zero_too``), else None."""
    w = np.asarray(w)
    scale = np.max(np.abs(w), axis=-1, initial=0.0)
    tol = GAP_RTOL * np.where(scale > 0, scale, 1.0)
    gaps = np.abs(np.diff(w, axis=-1))
    if zero_too:
        gaps = np.concatenate([gaps, np.abs(w[..., -1:])], axis=-1)
    bad = np.any(gaps <= tol[..., None], axis=-1).ravel()
    if not np.any(bad):
        return None
    k = int(np.flatnonzero(bad)[0])
    values = np.array2string(w.reshape(-1, w.shape[-1])[k], precision=6)
    zero = " or zero" if zero_too else ""
    return (f"{name}: the derivative of the {what} needs distinct{zero} values, but {values}"
            f"{_where(w.shape[:-1], k)} has a gap below {GAP_RTOL:g} of the largest")


def refuse_gap(name: str, w: np.ndarray, what: str, zero_too: bool = False) -> None:
    """Raise `LinAlgDomainError` with `gap_problem`'s message when it finds one.

    Second derivatives of eigenvalues and singular values divide by their gaps (the first
    derivative does not), so a row whose domain accepts ties refuses them in its curvature.
    """
    problem = gap_problem(name, w, what, zero_too)
    if problem is not None:
        raise LinAlgDomainError(problem)


def inverse_tangent(inverse: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``d A^{-1} = -A^{-1} t A^{-1}``, the tangent of an inverse along ``t``."""
    return -np.matmul(np.matmul(inverse, t), inverse)


def reciprocal_gaps_tangent(f: np.ndarray, dw: np.ndarray) -> np.ndarray:
    """The tangent of ``F_ij = 1 / (w_j - w_i)`` along ``dw``: ``-F_ij^2 (dw_j - dw_i)``."""
    return -f * f * (dw[..., None, :] - dw[..., :, None])


def fix_signs(vectors: np.ndarray, *others: np.ndarray) -> tuple:
    """Flip each column of ``vectors`` so that its entry of largest magnitude is positive.

    The same flips apply to the columns of ``others`` (the right singular vectors go with the
    left ones). LAPACK leaves these signs free; fixing them makes the result a function of
    the matrix that is smooth wherever the largest entry is unique.
    """
    top = np.argmax(np.abs(vectors), axis=-2)[..., None, :]
    signs = np.where(np.take_along_axis(vectors, top, axis=-2) < 0, -1.0, 1.0)
    return (vectors * signs,) + tuple(o * signs for o in others)


# -- explicit Jacobians on a pattern ----------------------------------------------------------

def full_pattern(core_ans: tuple, core_x: tuple) -> np.ndarray:
    """Every output entry of a matrix may depend on every operand entry of its matrix."""
    return np.ones((size_of(core_ans), size_of(core_x)), dtype=bool)


def patterned_jacobian(primitive: Primitive, ans, xs, params, cores, patterns) -> tuple:
    """Explicit entries of a matrix row, from its VJP one output entry at a time (keeping
    only the pattern's entries of each cotangent, so memory grows with the count).

    ``cores`` gives the number of core axes of ans and of each operand; ``patterns[k]`` is a
    boolean array (core entries of ans) x (core entries of operand k) saying which partials
    can be nonzero. Every entry of the pattern is kept, zero or not, so that the block has
    exactly the row's multiply-add count of entries.
    """
    ans = np.asarray(ans)
    a_batch = ans.shape[:ans.ndim - cores[0]]
    places = []  # per operand: rows and columns of the pattern, rows ascending
    for k, x in enumerate(xs):
        x_shape = np.shape(x)
        source = broadcast_sources(x_shape[:len(x_shape) - cores[1 + k]], a_batch)
        rho, gamma = np.nonzero(patterns[k])
        n_a, n_x = patterns[k].shape
        rows = (np.arange(source.size)[:, None] * n_a + rho).ravel()
        cols = (source[:, None] * n_x + gamma).ravel()
        bounds = np.searchsorted(rows, np.arange(ans.size + 1))
        places.append((rows, cols, bounds, np.zeros(rows.size)))
    for r in range(ans.size):
        e = np.zeros(ans.size)
        e[r] = 1.0
        cts = primitive.vjp(e.reshape(ans.shape), ans, *xs, **params)
        for (_, cols, bounds, vals), ct in zip(places, cts):
            lo, hi = bounds[r], bounds[r + 1]
            vals[lo:hi] = np.ravel(ct)[cols[lo:hi]]
    return tuple(Block(rows, cols, vals) for rows, cols, bounds, vals in places)


def matrix_row(name: str, arity: int, evaluate: Callable, vjp: Callable, jvp: Callable,
               shape: Callable, structure: Callable, count: Callable, *,
               domain: Callable | None = None, param_names: tuple[str, ...] = (),
               reads: tuple[str, ...] = ("ans", "operands"),
               curvature: Callable | None = None) -> Primitive:
    """Register a matrix row.

    ``structure(ans_shape, *shapes, **params)`` returns ``(cores, patterns)`` for
    `patterned_jacobian`; ``count(ans_shape, *shapes, **params)`` is the number of pattern
    entries (in closed form, without building the patterns). ``curvature`` is the row's
    second-order rule (see `registry`); it is called with at least one tangent given (all
    None give None).
    """
    row = None

    def second_order(g, ts, ans, *xs, **params):
        if all(t is None for t in ts):
            return (None,) * len(xs)
        return curvature(g, ts, ans, *xs, **params)

    def jacobian(ans, *xs, **params):
        cores, patterns = structure(np.shape(ans), *[np.shape(x) for x in xs], **params)
        return patterned_jacobian(row, ans, xs, params, cores, patterns)

    row = register(Primitive(
        name=name, arity=arity, evaluate=evaluate, vjp=vjp, jvp=jvp, shape=shape,
        jacobian=jacobian, domain=domain, param_names=param_names, multiply_adds=count,
        vjp_reads=reads,
        curvature=curvature if curvature in (None, linear_curvature) else second_order,
    ))
    return row
