"""Matrix products: ``matmul`` (numpy's ``@``, batched) and ``dot`` (vectors and matrices).

The product C = A B is bilinear, so its local derivatives are the product itself with one
factor replaced by a tangent or a cotangent:

    jvp = dA B + A dB,      vjp = (g B^T, A^T g).

Each half of the VJP is a product as large as C itself, so the rule is also given one operand
at a time (``vjp_operand``): a sweep skips the half whose operand needs no multiplier (data).

With C flattened row-major (m x n, inner size k) the explicit blocks are Kronecker products,
``d vec C / d vec A = I_m (x) B^T`` and ``d vec C / d vec B = A (x) I_n``: entry
``d C[i, j] / d A[i, l] = B[l, j]`` and ``d C[i, j] / d B[l, j] = A[i, l]``. They too are
given one operand at a time (``jacobian_operand``): a constant factor's block, as large as
the other's, is not built when only the other is asked for. A matrix times a vector
(``n = 1``) has ``d C / d B = A`` and a row vector times a matrix (``m = 1``) has
``d C / d A = B^T``: these blocks are returned as the dense matrices themselves.

The other matrix rows live beside this module, one family each: `linalg_inverses` (solve,
inv, pinv, det, logabsdet, det_sign), `linalg_factorizations` (cholesky, qr_q, qr_r),
`linalg_spectral` (eigh_values, eigh_vectors, svd_values, svd_u, svd_vh) and `linalg_norms`
(norm2), on the shared pieces of `linalg_support`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .registry import Block, Primitive, as_entries, register
from .structure import dense_jacobian, multilinear_curvature, size_of, unbroadcast


def _promoted(a, b):
    """Operands as at least 2-D, as numpy's matmul treats vectors."""
    a2 = a[None, :] if np.ndim(a) == 1 else a
    b2 = b[:, None] if np.ndim(b) == 1 else b
    return a2, b2


def _matmul_vjp_operand(k, g, ans, a, b):
    if np.ndim(a) == 2 and np.ndim(b) == 2:  # the common case needs no promotion
        return np.matmul(g, b.T) if k == 0 else np.matmul(a.T, g)
    a2, b2 = _promoted(a, b)
    g2 = np.reshape(g, np.shape(np.matmul(a2[..., :1, :], b2[..., :, :1]))[:-2]
                    + (a2.shape[-2], b2.shape[-1]))
    if k == 0:
        return unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(np.shape(a))
    return unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(np.shape(b))


def _matmul_vjp(g, ans, a, b):
    return _matmul_vjp_operand(0, g, ans, a, b), _matmul_vjp_operand(1, g, ans, a, b)


def _matmul_jvp(ts, ans, a, b):
    ta, tb = ts
    out = np.zeros(np.shape(ans))
    if ta is not None:
        out = out + np.matmul(ta, b)
    if tb is not None:
        out = out + np.matmul(a, tb)
    return out


def _read_only(matrix: np.ndarray) -> np.ndarray:
    view = matrix.view()
    view.flags.writeable = False
    return view


def _matmul_jacobian_operand(k, ans, a, b):
    """Block k of ``d vec C / d vec (A, B)``: entries, or the dense matrix when it is full."""
    a2, b2 = _promoted(np.asarray(a, float), np.asarray(b, float))
    if a2.ndim != 2 or b2.ndim != 2:
        return dense_jacobian(PRODUCT, ans, (a, b), {})[k]
    (m, inner_size), n = a2.shape, b2.shape[1]
    if k == 1 and n == 1:
        return _read_only(a2)  # d (A b) / d b = A
    if k == 0 and m == 1:
        return _read_only(b2.T)  # d (a B) / d a = B^T
    i, j, inner = (axis.ravel() for axis in np.indices((m, n, inner_size)))
    rows = i * n + j
    if k == 0:
        return Block(rows, i * inner_size + inner, b2[inner, j])
    return Block(rows, inner * n + j, a2[i, inner])


def _matmul_jacobian(ans, a, b):
    if np.ndim(a) > 2 or np.ndim(b) > 2:  # stacks: both blocks from one pass of the VJP
        return dense_jacobian(PRODUCT, ans, (a, b), {})
    return tuple(as_entries(_matmul_jacobian_operand(k, ans, a, b)) for k in (0, 1))


def _matmul_shape(a_shape, b_shape):
    if len(a_shape) == 0 or len(b_shape) == 0:
        raise ShapeError(f"matmul needs operands with at least one axis; got shapes "
                         f"{a_shape} and {b_shape}")
    a2 = (1,) + tuple(a_shape) if len(a_shape) == 1 else tuple(a_shape)
    b2 = tuple(b_shape) + (1,) if len(b_shape) == 1 else tuple(b_shape)
    if a2[-1] != b2[-2]:
        raise ShapeError(f"matmul: inner dimensions of shapes {tuple(a_shape)} and "
                         f"{tuple(b_shape)} do not match ({a2[-1]} != {b2[-2]})")
    try:
        batch = tuple(np.broadcast_shapes(a2[:-2], b2[:-2]))
    except ValueError:
        raise ShapeError(f"matmul: batch dimensions of shapes {tuple(a_shape)} and "
                         f"{tuple(b_shape)} do not broadcast") from None
    rows = (a2[-2],) if len(a_shape) > 1 else ()
    cols = (b2[-1],) if len(b_shape) > 1 else ()
    return batch + rows + cols


def _dot_shape(a_shape, b_shape):
    if not (1 <= len(a_shape) <= 2 and 1 <= len(b_shape) <= 2):
        raise ShapeError(f"dot takes vectors and matrices; got shapes {a_shape} and {b_shape}"
                         f" (use matmul for stacks of matrices)")
    return _matmul_shape(a_shape, b_shape)


def _matmul_count(ans_shape, a_shape, b_shape):
    inner = a_shape[-1]
    return 2 * size_of(ans_shape) * inner


PRODUCT = register(Primitive(
    name="matmul", arity=2, evaluate=np.matmul, vjp=_matmul_vjp, jvp=_matmul_jvp,
    shape=_matmul_shape, jacobian=_matmul_jacobian, template="{0} @ {1}",
    jacobian_operand=_matmul_jacobian_operand, multiply_adds=_matmul_count,
    vjp_operand=_matmul_vjp_operand, vjp_reads=("operands",),
    curvature=multilinear_curvature(_matmul_vjp_operand), multilinear=True,
))
register(Primitive(
    name="dot", arity=2, evaluate=np.dot, vjp=_matmul_vjp, jvp=_matmul_jvp,
    shape=_dot_shape, jacobian=_matmul_jacobian, jacobian_operand=_matmul_jacobian_operand,
    multiply_adds=_matmul_count,
    vjp_operand=_matmul_vjp_operand, vjp_reads=("operands",),
    curvature=multilinear_curvature(_matmul_vjp_operand), multilinear=True,
))

# the other matrix rows, registered on import
from . import linalg_factorizations, linalg_inverses, linalg_norms, linalg_spectral  # noqa: E402, F401, I001
