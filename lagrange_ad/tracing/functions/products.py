"""Products of arrays: dot, matmul, inner, outer, vdot, tensordot, einsum, kron, cross.

``matmul`` and ``dot`` of vectors and matrices are primitive rows; the others are compositions
of them with reshapes, transposes and broadcasting multiplication.
"""

from __future__ import annotations

import numpy as np

from ...errors import ShapeError
from .core import as_ints, call, lift, ndim_of, refuse, shape_of
from .elementwise import multiply, subtract
from .shapes import moveaxis, ravel, reshape, stack, transpose


def matmul(x1, x2, out=None, **kwargs):
    """Matrix product with numpy's ``@`` rules (vectors promoted, stacks broadcast)."""
    if out is not None or kwargs:
        refuse("matmul", "out" if out is not None else next(iter(kwargs)), "",
               "use x1 @ x2 and the returned value")
    return call("matmul", x1, x2)


def dot(a, b, out=None):
    """numpy's dot: a product with a scalar, ``@`` for vectors and matrices, and for N-d
    operands the sum over the last axis of ``a`` and the second-to-last of ``b``."""
    if out is not None:
        refuse("dot", "out", "a buffer", "use the returned value")
    a, b = lift(a), lift(b)
    na, nb = ndim_of(a), ndim_of(b)
    if na == 0 or nb == 0:
        return multiply(a, b)
    if na <= 2 and nb <= 2:
        return call("dot", a, b)
    return tensordot(a, b, axes=([na - 1], [max(nb - 2, 0)]))


def vdot(a, b):
    """The dot product of the flattened arrays (real values: no conjugation)."""
    return call("dot", ravel(a), ravel(b))


def inner(a, b):
    """The sum product over the last axes (a product with a scalar when one is 0-d)."""
    a, b = lift(a), lift(b)
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def outer(a, b, out=None):
    """``ravel(a)[:, None] * ravel(b)[None, :]``."""
    if out is not None:
        refuse("outer", "out", "a buffer", "use the returned value")
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def tensordot(a, b, axes=2):
    """Sum products over ``axes`` of ``a`` and ``b`` (numpy's meaning of ``axes``)."""
    a, b = lift(a), lift(b)
    sa, sb = shape_of(a), shape_of(b)
    if np.ndim(axes) == 0:
        k = int(axes)
        axes_a, axes_b = list(range(len(sa) - k, len(sa))), list(range(k))
    else:
        axes_a, axes_b = ([axes[0]] if np.ndim(axes[0]) == 0 else list(axes[0]),
                          [axes[1]] if np.ndim(axes[1]) == 0 else list(axes[1]))
    axes_a = [k % len(sa) for k in as_ints(axes_a, "tensordot: axes")]
    axes_b = [k % len(sb) for k in as_ints(axes_b, "tensordot: axes")]
    if [sa[k] for k in axes_a] != [sb[k] for k in axes_b]:
        raise ShapeError(f"tensordot: summed axes of shapes {sa} and {sb} do not match")
    free_a = [k for k in range(len(sa)) if k not in axes_a]
    free_b = [k for k in range(len(sb)) if k not in axes_b]
    n = int(np.prod([sa[k] for k in axes_a], dtype=np.int64))
    left = reshape(transpose(a, free_a + axes_a), (-1, n))
    right = reshape(transpose(b, axes_b + free_b), (n, -1))
    return reshape(call("matmul", left, right),
                   tuple(sa[k] for k in free_a) + tuple(sb[k] for k in free_b))


def einsum(subscripts, *operands, out=None, optimize=False, **kwargs):
    """numpy's einsum with explicit or implicit output subscripts (no ellipsis)."""
    if out is not None or kwargs:
        refuse("einsum", "out" if out is not None else next(iter(kwargs)), "",
               "use the returned value")
    if not isinstance(subscripts, str):
        refuse("einsum", "subscripts", type(subscripts).__name__, "give a subscript string")
    subscripts = subscripts.replace(" ", "")
    if "..." in subscripts:
        refuse("einsum", "subscripts", subscripts, "write the axes out instead of '...'")
    if "->" not in subscripts:
        inputs = subscripts.split(",")
        letters = "".join(inputs)
        subscripts += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return call("einsum", *operands, subscripts=subscripts)


def kron(a, b):
    """The Kronecker product: blocks ``a[i, j] * b`` (a broadcast product and a reshape)."""
    a, b = lift(a), lift(b)
    sa, sb = shape_of(a), shape_of(b)
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    a, b = reshape(a, sa), reshape(b, sb)
    # a[..., i, None] * b[None, ..., j] interleaved: shape (a0, b0, a1, b1, ...)
    left = reshape(a, tuple(v for k in sa for v in (k, 1)))
    right = reshape(b, tuple(v for k in sb for v in (1, k)))
    return reshape(multiply(left, right), tuple(p * q for p, q in zip(sa, sb)))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """The cross product of 3-vectors (2-vectors give the scalar z-component)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(lift(a), axisa, -1), moveaxis(lift(b), axisb, -1)
    na, nb = shape_of(a)[-1], shape_of(b)[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise ShapeError(f"cross: vectors must have 2 or 3 components; got {na} and {nb}")

    def part(x, k, n):
        return call("getitem", x, index=(Ellipsis, k)) if k < n else 0.0

    a0, a1, a2 = (part(a, k, na) for k in range(3))
    b0, b1, b2 = (part(b, k, nb) for k in range(3))
    z = subtract(multiply(a0, b1), multiply(a1, b0))
    if na == 2 and nb == 2:
        return z
    x = subtract(multiply(a1, b2), multiply(a2, b1))
    y = subtract(multiply(a2, b0), multiply(a0, b2))
    return moveaxis(stack([x, y, z], axis=-1), -1, axisc)



def vecdot(x1, x2, /, *, axis=-1):
    """The dot product of vectors along ``axis`` (broadcast over the others)."""
    from .reductions import sum

    return sum(multiply(x1, x2), axis=axis)


def matvec(x1, x2, /):
    """Matrix times vector over stacks: ``(x1 @ x2[..., None])[..., 0]``."""
    return call("getitem", call("matmul", x1, call("reshape", lift(x2),
                                                   shape=shape_of(x2) + (1,))),
                index=(Ellipsis, 0))


def vecmat(x1, x2, /):
    """Vector times matrix over stacks: ``(x1[..., None, :] @ x2)[..., 0, :]``."""
    x1 = lift(x1)
    shape = shape_of(x1)
    return call("getitem", call("matmul", call("reshape", x1, shape=shape[:-1] + (1, shape[-1])),
                                x2), index=(Ellipsis, 0, slice(None)))


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
        dtype=None):
    """The covariance matrix ``Xc Xc^T / (N - ddof)`` of the variables (rows when rowvar)."""
    from .reductions import mean

    if fweights is not None or aweights is not None:
        refuse("cov", "fweights/aweights", "weights", "weigh the observations yourself")
    x = lift(m)
    x = reshape(x, (1, -1)) if ndim_of(x) == 1 else (x if rowvar else transpose(x))
    if y is not None:
        y = lift(y)
        y = reshape(y, (1, -1)) if ndim_of(y) == 1 else (y if rowvar else transpose(y))
        x = call("concatenate", x, y, axis=0)
    n = shape_of(x)[1]
    ddof = (0 if bias else 1) if ddof is None else ddof
    if n - ddof <= 0:
        raise ShapeError(f"cov: {n} observations with ddof={ddof} leave no degree of freedom")
    centred = subtract(x, mean(x, axis=1, keepdims=True))
    c = multiply(call("matmul", centred, transpose(centred)), 1.0 / (n - ddof))
    return reshape(c, ()) if shape_of(c) == (1, 1) else c


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """Pearson correlation coefficients ``C_ij / sqrt(C_ii C_jj)`` of `cov`."""
    from .elementwise import divide, sqrt
    from .selections import diagonal

    c = cov(x, y, rowvar)
    if ndim_of(c) == 0:
        return divide(c, c)
    d = sqrt(diagonal(c))
    return divide(c, outer(d, d))
