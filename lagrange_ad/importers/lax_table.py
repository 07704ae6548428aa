"""The lax primitives of a jaxpr, each written with ``la.`` functions: one table row each.

A rule takes the equation's operands and its parameters, ``rule(*operands, **params)``, and
returns its output (a list when the primitive has several). Operands are traced values or
numpy arrays: the interpreter (`lagrange_ad.importers.jaxpr`) calls a rule only when some
operand is traced and some output is a float. A comparison with a traced operand, and
``and``/``or``/``not`` of booleans derived from them, is a row of `MASKS`: a mask node
(float 0/1, derivative 0) recomputed on replay, so a ``select_n`` on it takes the branch of
the point replayed. Equations on constants alone, and other equations whose outputs are
integers or booleans (``argmax``, ``iota``, index arithmetic), are evaluated by JAX itself
at the example point and enter the graph as constants. The rows of primitives that move
entries with static indices (slices, ``gather``, ``scatter``, ``pad``) are in `lax_moves`,
those of convolution and pooling in `lax_windows`.

This module imports JAX (through `lax_moves`); only `from_jax` imports it, when it is called.
"""

from __future__ import annotations

import string
from collections.abc import Callable

import numpy as np
from jax.extend.core import primitives as lax_primitives

from .. import linalg
from ..errors import UnsupportedOperationError
from ..tracing import functions as la
from ..tracing.functions.core import shape_of, value_of
from ..tracing.tape import Traced
from . import lax_moves as moves
from . import lax_windows as windows

Rule = Callable[..., object]


def _elementwise(function: Callable) -> Rule:
    """The rule of a primitive that is ``function`` of its operands, without parameters."""
    def rule(*operands, **params):
        return function(*operands)
    rule.__doc__ = f"``{function.__name__}`` entrywise."
    return rule


def _identity(x, **params):
    """The operand itself: a float-to-float conversion, a copy, a sharding annotation."""
    return x


def _stop_gradient(x, **params):
    """The operand's value as a constant: its derivative is zero."""
    return np.array(value_of(x))


def _integer_pow(x, *, y):
    return la.power(x, float(y))


def _rsqrt(x, **params):
    return la.power(x, -0.5)


def _extreme(pairwise: Callable, identity: float) -> Rule:
    """``max`` or ``min``; an operand that is its identity (``-inf`` for max) is dropped.

    ``jax.nn.logsumexp`` writes ``max(-inf, m)``; a graph holds finite values only, and
    ``max(-inf, m) = m``.
    """
    def rule(x, y, **params):
        for kept, other in ((x, y), (y, x)):
            if not isinstance(other, Traced) and np.all(np.asarray(other) == identity):
                shape = np.broadcast_shapes(shape_of(x), shape_of(y))
                return kept if shape_of(kept) == shape else la.broadcast_to(kept, shape)
        return pairwise(x, y)
    rule.__doc__ = f"``{pairwise.__name__}``, dropping an operand equal to {identity}."
    return rule


def _round(x, *, rounding_method):
    """``round``: ties to even (``rint``) or away from zero, ``sign(x) floor(|x| + 1/2)``."""
    if int(rounding_method) == 1:  # lax.RoundingMethod.TO_NEAREST_EVEN
        return la.rint(x)
    return la.multiply(la.sign(x), la.floor(la.add(la.abs(x), 0.5)))


def _clamp(low, x, high, **params):
    return la.minimum(la.maximum(x, low), high)


def _select_n(which, *cases):
    """``cases[which]`` entrywise. A traced ``which`` (a mask node from a comparison of
    traced values) selects with ``la.where`` and is recomputed on replay; a constant one
    keeps the cases it picks."""
    if isinstance(which, Traced):
        out = cases[0]
        for k in range(1, len(cases)):
            picked = which if len(cases) == 2 else la.equal(which, float(k))
            out = la.where(picked, cases[k], out)
        return out
    which = np.asarray(which).astype(np.int64)
    first = int(which.flat[0]) if which.size else 0
    if np.all(which == first):
        return cases[first]
    out = cases[0]
    for k in range(1, len(cases)):
        out = la.where(which == k, cases[k], out)
    return out


# comparisons with a traced operand, and logical operations on booleans derived from them:
# mask nodes (float 0/1, derivative 0), though JAX's outputs are booleans
MASKS: dict[str, Rule] = {
    "gt": la.greater,
    "ge": la.greater_equal,
    "lt": la.less,
    "le": la.less_equal,
    "eq": la.equal,
    "ne": la.not_equal,
    "and": la.logical_and,
    "or": la.logical_or,
    "xor": la.logical_xor,
    "not": la.logical_not,
}


def _reduction(function: Callable) -> Rule:
    def rule(x, *, axes, **params):
        return function(x, axis=tuple(int(a) for a in axes)) if len(axes) else x
    rule.__doc__ = f"``{function.__name__}`` over ``axes``."
    return rule


def _cumulative(function: Callable) -> Rule:
    def rule(x, *, axis, reverse=False):
        if not reverse:
            return function(x, axis=axis)
        return la.flip(function(la.flip(x, axis=axis), axis=axis), axis=axis)
    rule.__doc__ = f"``{function.__name__}`` along ``axis``, from the end when ``reverse``."
    return rule


def _dot_general(lhs, rhs, *, dimension_numbers, **params):
    """``dot_general`` as an einsum: batch axes, then the free axes of lhs, then of rhs.

    A product of matrices and vectors over lhs's last and rhs's first axis is ``matmul``.
    """
    (lhs_contract, rhs_contract), (lhs_batch, rhs_batch) = dimension_numbers
    lhs_ndim, rhs_ndim = len(shape_of(lhs)), len(shape_of(rhs))
    if (not len(lhs_batch) and 1 <= lhs_ndim <= 2 and 1 <= rhs_ndim <= 2
            and tuple(lhs_contract) == (lhs_ndim - 1,) and tuple(rhs_contract) == (0,)):
        return la.matmul(lhs, rhs)
    letters = iter(string.ascii_letters)
    lhs_ids = [""] * len(shape_of(lhs))
    rhs_ids = [""] * len(shape_of(rhs))
    for a, b in zip(tuple(lhs_batch) + tuple(lhs_contract), tuple(rhs_batch) + tuple(rhs_contract)):
        lhs_ids[a] = rhs_ids[b] = next(letters)
    batch = [lhs_ids[a] for a in lhs_batch]
    lhs_free = [_fresh(lhs_ids, k, letters) for k in range(len(lhs_ids)) if not lhs_ids[k]]
    rhs_free = [_fresh(rhs_ids, k, letters) for k in range(len(rhs_ids)) if not rhs_ids[k]]
    subscripts = f"{''.join(lhs_ids)},{''.join(rhs_ids)}->{''.join(batch + lhs_free + rhs_free)}"
    return la.einsum(subscripts, lhs, rhs)


def _fresh(ids: list, k: int, letters) -> str:
    ids[k] = next(letters)
    return ids[k]


def _broadcast_in_dim(x, *operands, shape, broadcast_dimensions, **params):
    """The operand's axes placed at ``broadcast_dimensions``, then broadcast to ``shape``."""
    placed = [1] * len(shape)
    for axis, length in zip(broadcast_dimensions, shape_of(x)):
        placed[axis] = length
    out = x if tuple(placed) == shape_of(x) else la.reshape(x, tuple(placed))
    return out if tuple(placed) == tuple(shape) else la.broadcast_to(out, tuple(shape))


def _reshape(x, *operands, new_sizes, dimensions=None, **params):
    if dimensions is not None:
        x = la.transpose(x, tuple(dimensions))
    return la.reshape(x, tuple(new_sizes))


def _squeeze(x, *, dimensions):
    drop = {d % len(shape_of(x)) for d in dimensions}
    return la.reshape(x, tuple(n for k, n in enumerate(shape_of(x)) if k not in drop))


def _transpose(x, *, permutation):
    return la.transpose(x, tuple(permutation))


def _concatenate(*operands, dimension):
    return la.concatenate(list(operands), axis=dimension)


def _lu(a):
    """``lu``: the packed factors of ``P a = L U`` (unit L), with JAX's own pivots.

    The row permutation P is JAX's at the example point (pivoting decides there, as a
    comparison does); the factors of ``P a`` are then eliminated with ``la.`` functions, one
    column at a time on the trailing block M: ``U[k, k:] = M[0]``, ``l = M[1:, 0] / M[0, 0]``,
    ``M <- M[1:, 1:] - l M[0, 1:]``.
    """
    shape = shape_of(a)
    if len(shape) != 2 or shape[0] != shape[1]:
        raise UnsupportedOperationError(f"lu: only a square matrix is factored; got the shape "
                                        f"{shape}")
    _, pivots, permutation = (np.asarray(o) for o in lax_primitives.lu_p.bind(value_of(a)))
    n, block = shape[0], a[permutation]
    upper_rows, lower_columns = [], []
    for k in range(n):
        upper_rows.append(la.pad(block[0], (k, 0)))
        if k < n - 1:
            column = la.divide(block[1:, 0], block[0, 0])
            lower_columns.append(la.pad(column, (k + 1, 0)))
            block = la.subtract(block[1:, 1:], la.outer(column, block[0, 1:]))
    lower_columns.append(np.zeros(n))
    packed = la.add(la.stack(upper_rows, axis=0), la.stack(lower_columns, axis=1))
    return [packed, pivots, permutation]


def _triangular_solve(a, b, *, left_side, lower, transpose_a, unit_diagonal, **params):
    """``op(A) x = b`` (or ``x op(A) = b``) for the triangle of ``a`` that JAX reads.

    ``A`` is ``a`` masked to its lower (upper) triangle, with ones on the diagonal when
    ``unit_diagonal``; ``op`` transposes when ``transpose_a``. The right-side system is
    ``op(A)^T x^T = b^T``.
    """
    n = shape_of(a)[-1]
    offset = (-1 if lower else 1) if unit_diagonal else 0
    mask = np.tril(np.ones((n, n)), offset) if lower else np.triu(np.ones((n, n)), offset)
    a = la.multiply(a, mask)
    if unit_diagonal:
        a = la.add(a, np.eye(n))
    if transpose_a:
        a = la.matrix_transpose(a)
    if left_side:
        return linalg.solve(a, b)
    return la.matrix_transpose(linalg.solve(la.matrix_transpose(a), la.matrix_transpose(b)))


RULES: dict[str, Rule] = {
    # arithmetic
    "add": _elementwise(la.add),
    "sub": _elementwise(la.subtract),
    "mul": _elementwise(la.multiply),
    "div": _elementwise(la.divide),
    "neg": _elementwise(la.negative),
    "max": _extreme(la.maximum, -np.inf),
    "min": _extreme(la.minimum, np.inf),
    "pow": _elementwise(la.power),
    "integer_pow": _integer_pow,
    "square": _elementwise(la.square),
    "sqrt": _elementwise(la.sqrt),
    "rsqrt": _rsqrt,
    "abs": _elementwise(la.abs),
    "sign": _elementwise(la.sign),
    "clamp": _clamp,
    "floor": _elementwise(la.floor),
    "ceil": _elementwise(la.ceil),
    "round": _round,
    # transcendental
    "exp": _elementwise(la.exp),
    "exp2": _elementwise(la.exp2),
    "log": _elementwise(la.log),
    "log1p": _elementwise(la.log1p),
    "expm1": _elementwise(la.expm1),
    "tanh": _elementwise(la.tanh),
    "logistic": _elementwise(la.sigmoid),
    "erf": _elementwise(la.erf),
    "erfc": _elementwise(la.erfc),
    "lgamma": _elementwise(la.gammaln),
    "digamma": _elementwise(la.digamma),
    "sin": _elementwise(la.sin),
    "cos": _elementwise(la.cos),
    "tan": _elementwise(la.tan),
    "sinh": _elementwise(la.sinh),
    "cosh": _elementwise(la.cosh),
    "asin": _elementwise(la.arcsin),
    "acos": _elementwise(la.arccos),
    "atan": _elementwise(la.arctan),
    "asinh": _elementwise(la.arcsinh),
    "acosh": _elementwise(la.arccosh),
    "atanh": _elementwise(la.arctanh),
    "atan2": _elementwise(la.arctan2),
    # selection by a constant mask
    "select_n": _select_n,
    # reductions and scans
    "reduce_sum": _reduction(la.sum),
    "reduce_max": _reduction(la.max),
    "reduce_min": _reduction(la.min),
    "reduce_prod": _reduction(la.prod),
    "cumsum": _cumulative(la.cumsum),
    "cumprod": _cumulative(la.cumprod),
    "sort": moves.sort,
    # linear algebra
    # cholesky reads the lower triangle, as LAPACK does: its derivative is that of the
    # function computed, where jax.grad assumes symmetric perturbations (they agree after the
    # symmetrization jnp.linalg.cholesky applies, not after jax.scipy.linalg.cho_factor)
    "cholesky": lambda x, **params: linalg.cholesky(x),
    "triangular_solve": _triangular_solve,
    "lu": _lu,
    # products
    "dot_general": _dot_general,
    # sliding windows: convolution and pooling
    "conv_general_dilated": windows.conv_general_dilated,
    "reduce_window_max": windows.reduce_window_max,
    "reduce_window_sum": windows.reduce_window_sum,
    # shapes and moves
    "broadcast_in_dim": _broadcast_in_dim,
    "reshape": _reshape,
    "squeeze": _squeeze,
    "transpose": _transpose,
    "concatenate": _concatenate,
    "stack": lambda *operands, axis: la.stack(list(operands), axis=axis),
    "tile": lambda x, *, reps: la.tile(x, tuple(reps)),
    "slice": moves.slice_,
    "split": moves.split,
    "dynamic_slice": moves.dynamic_slice,
    "dynamic_update_slice": moves.dynamic_update_slice,
    "gather": moves.gather,
    "scatter": moves.scatter,
    "scatter-add": moves.scatter_add,
    "pad": moves.pad,
    "rev": moves.rev,
    # no change of value
    "convert_element_type": _identity,
    "copy": _identity,
    "copy_p": _identity,
    "reduce_precision": _identity,
    "sharding_constraint": _identity,
    "stop_gradient": _stop_gradient,
    "optimization_barrier": lambda *operands: list(operands),
}
