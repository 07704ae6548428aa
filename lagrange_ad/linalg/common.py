"""What the ``la.linalg`` functions share: numpy's result tuples and argument helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, TypeAlias

import numpy as np
from numpy.typing import ArrayLike

from ..errors import LinAlgDomainError, ShapeError, TracingError
from ..primitives import lookup
from ..tracing.functions import call
from ..tracing.functions.core import is_traced, lift

if TYPE_CHECKING:
    from ..tracing.tape import Traced

Array: TypeAlias = "np.ndarray | Traced"  # a traced value, or an array on plain operands

__all__ = ["Array", "ArrayLike", "EighResult", "QRResult", "SVDResult", "SlogdetResult",
           "checked_call", "core_of", "matrix_transpose_of", "plain_or_refuse", "refuse",
           "shape_of"]


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


def shape_of(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


def checked_call(name: str, *operands, **params):
    """`call` of a matrix row whose domain is checked at once, before any node is recorded.

    A matrix outside the domain raises `LinAlgDomainError`, also a ``numpy.linalg.LinAlgError``,
    so that numpy code such as ``try: cholesky(k) except LinAlgError: ...`` (adding a jitter)
    takes its except branch while tracing and leaves no failed node in the graph. The check
    reads the operands' values (on plain operands the evaluation checks them once more); a
    graph differentiated again at another point checks the same domain in its forward pass
    (`DomainError`). A failure on traced operands also records an ``outside_domain`` guard
    (`lagrange_ad.primitives.guards`), so that a replay where the row would succeed, and the
    program would not have taken its except branch, raises `DomainError` too.
    """
    operands = tuple(lift(x) for x in operands)
    row = lookup(name)
    if row.domain is not None:
        row.shape(*[shape_of(x) for x in operands], **params)
        values = [x.value if is_traced(x) else np.asarray(x) for x in operands]
        # other problems (NaN, strings) are left to `call`, which names them
        if all(v.dtype.kind in "biuf" and np.all(np.isfinite(v)) for v in values):
            problem = row.domain(*[v.astype(np.float64) for v in values], **params)
            if problem is not None:
                if any(is_traced(x) for x in operands):
                    call("outside_domain", *operands, row=name,
                         row_params=tuple(sorted(params.items())))
                raise LinAlgDomainError(problem)
    return call(name, *operands, **params)


def core_of(x, name: str, stacks: bool = True) -> tuple[int, int]:
    """The (m, n) of a matrix (or, with ``stacks``, of a stack of them), or `ShapeError`."""
    shape = shape_of(x)
    if len(shape) < 2 or (not stacks and len(shape) != 2):
        want = "a matrix or a stack of matrices" if stacks else "a matrix"
        raise ShapeError(f"numpy.linalg.{name} takes {want}; got shape {shape}")
    return shape[-2], shape[-1]


def matrix_transpose_of(x):
    n = len(shape_of(x))
    if n < 2:
        raise ShapeError(f"a matrix transpose needs at least two axes; got shape {shape_of(x)}")
    return call("transpose", x, axes=tuple(range(n - 2)) + (n - 1, n - 2))


def refuse(what: str, instead: str):
    raise TracingError(f"numpy.linalg.{what} cannot be differentiated on a traced value; "
                       f"{instead}")


def plain_or_refuse(name: str, instead: str, *xs, **kwargs):
    """numpy's own result on plain arrays; on traced values, `TracingError`."""
    if is_traced(*xs):
        refuse(name, instead)
    return getattr(np.linalg, name)(*xs, **kwargs)
