"""Products and structure: matmul, multi_dot, matrix_power, matrix_transpose, diagonal,
trace, outer, vecdot, cross, tensordot, and matrix_rank (a count of singular values).

All are compositions of existing rows (matmul, transpose, getitem, sum, mul, reshape).
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TracingError
from ..tracing import functions
from ..tracing.functions import call
from ..tracing.functions.core import is_traced, lift
from .common import Array, ArrayLike, core_of, matrix_transpose_of, shape_of
from .inverses import inv


def matmul(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """The matrix product ``x1 @ x2``."""
    return call("matmul", x1, x2)


def multi_dot(arrays: list, *, out: None = None) -> Array:
    """``arrays[0] @ arrays[1] @ ...`` in the order of fewest multiply-adds, as numpy picks it
    (a 1-D first or last array is a row or a column vector)."""
    if out is not None:
        raise TracingError("multi_dot: out= is not supported; use the returned value")
    arrays = [lift(x) for x in arrays]
    if len(arrays) < 2:
        raise ShapeError("multi_dot needs at least two arrays")
    dims = [shape_of(x) for x in arrays]
    if any(len(d) not in (1, 2) for d in dims):
        raise ShapeError(f"multi_dot takes vectors and matrices; got shapes {dims}")
    # the chain's dimensions p_0 x p_1, p_1 x p_2, ... (vectors at the ends as 1 x n, n x 1)
    sizes = [1 if len(dims[0]) == 1 else dims[0][0]] + [d[-1] for d in dims[:-1]] + \
        [1 if len(dims[-1]) == 1 else dims[-1][-1]]
    split = _chain_order(sizes)
    needed, pending = [], [(0, len(arrays) - 1)]
    while pending:  # the intervals of the best bracketing, from the whole chain down
        i, j = pending.pop()
        if i < j:
            needed.append((i, j))
            pending += [(i, split[i][j]), (split[i][j] + 1, j)]
    products = {(i, i): x for i, x in enumerate(arrays)}
    for i, j in sorted(needed, key=lambda ij: ij[1] - ij[0]):  # shorter intervals first
        k = split[i][j]
        products[(i, j)] = call("matmul", products[(i, k)], products[(k + 1, j)])
    return products[(0, len(arrays) - 1)]


def _chain_order(sizes: list[int]) -> list[list[int]]:
    """The classic matrix-chain split table: ``split[i][j]`` is where to cut the product of
    matrices i..j (of sizes[i] x sizes[i+1], ...) for the fewest multiply-adds."""
    n = len(sizes) - 1
    cost = [[0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i][j], split[i][j] = min(
                (cost[i][k] + cost[k + 1][j] + sizes[i] * sizes[k + 1] * sizes[j + 1], k)
                for k in range(i, j))
    return split


def matrix_power(a: ArrayLike, n: int) -> Array:
    """``a`` to the integer power ``n`` (repeated squaring; a negative power inverts first)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TracingError(f"matrix_power needs an integer exponent; got {n!r}")
    a = lift(a)
    shape = shape_of(a)
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


def matrix_transpose(x: ArrayLike, /) -> Array:
    """Swap the last two axes."""
    return matrix_transpose_of(lift(x))


def diagonal(x: ArrayLike, /, *, offset: int = 0) -> Array:
    """The diagonal of the last two axes, shifted by ``offset``."""
    x = lift(x)
    m, n = core_of(x, "diagonal")
    rows = np.arange(max(0, -offset), min(m, n - offset))
    return call("getitem", x, index=(Ellipsis, rows, rows + offset))


def trace(x: ArrayLike, /, *, offset: int = 0, dtype=None) -> Array:
    """The sum of the diagonal of the last two axes."""
    if dtype is not None and np.dtype(dtype).kind != "f":
        raise TracingError(f"trace: dtype={dtype!r} is not a float type")
    return call("sum", diagonal(x, offset=offset), axis=-1)


def outer(x1: ArrayLike, x2: ArrayLike, /) -> Array:
    """The outer product of two vectors."""
    x1, x2 = lift(x1), lift(x2)
    if len(shape_of(x1)) != 1 or len(shape_of(x2)) != 1:
        raise ShapeError(f"outer takes two vectors; got shapes {shape_of(x1)} and {shape_of(x2)}")
    return call("mul", call("reshape", x1, shape=(-1, 1)), call("reshape", x2, shape=(1, -1)))


def vecdot(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1) -> Array:
    """``sum(x1 * x2, axis)``."""
    return call("sum", call("mul", x1, x2), axis=axis)


def matrix_rank(A: ArrayLike, tol=None, hermitian: bool = False, *,  # noqa: N803
                rtol=None) -> int | Array:
    """The numerical rank: the number of singular values above ``tol``.

    On a traced matrix it is a node, ``sum(s > tol)`` of the singular values (numpy's default
    ``tol = max(s) max(m, n) eps``), recomputed when the graph is replayed; derivative 0.
    """
    if not is_traced(A):
        return np.linalg.matrix_rank(A, tol=tol, hermitian=hermitian, rtol=rtol)
    values = call("svd_values", A)
    if tol is None:
        m, n = core_of(A, "matrix_rank")
        scale = max(m, n) * np.finfo(np.float64).eps if rtol is None else rtol
        tol = call("mul", call("max", values, axis=(-1,)), scale)
        tol = call("reshape", tol, shape=shape_of(tol) + (1,))
    return call("sum", call("greater", values, tol), axis=(-1,))


def cross(x1: ArrayLike, x2: ArrayLike, /, *, axis: int = -1) -> Array:
    """The cross product of 3-vectors along ``axis``."""
    x1, x2 = lift(x1), lift(x2)
    for x in (x1, x2):
        if shape_of(x)[axis] != 3:
            raise ShapeError(f"numpy.linalg.cross takes 3-vectors along axis {axis}; got shape "
                             f"{shape_of(x)}")
    return functions.cross(x1, x2, axis=axis)


def tensordot(x1: ArrayLike, x2: ArrayLike, /, *, axes=2) -> Array:
    """Sum products over ``axes`` (numpy's meaning)."""
    return functions.tensordot(x1, x2, axes)
