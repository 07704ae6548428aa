"""``la.linalg``: numpy.linalg with numpy's signatures, on traced values and on plain arrays.

Every function takes a matrix or a stack of matrices (the last two axes) and records nodes of
the matrix rows (``solve``, ``inv``, ``det``, ``logabsdet``, ``cholesky``, ``eigh_values``,
``eigh_vectors``, ``svd_values``, ``svd_u``, ``svd_vh``, ``qr_q``, ``qr_r``, ``pinv``,
``norm2``) or of compositions of other rows; on plain arrays it evaluates them with the same
checks. ``np.linalg.<name>`` applied to a traced value lands here.

Where a derivative does not exist the point is refused, never a NaN: a singular matrix for
solve, inv, slogdet; a rank-deficient one for pinv, qr and lstsq; one that is not positive
definite for cholesky; eigenvalues or singular values closer than ``GAP_RTOL`` (1e-8) of the
largest for the vector rules. The check runs when the function is called, before a node is
recorded, and raises `LinAlgDomainError`: a `DomainError` and a ``numpy.linalg.LinAlgError``,
so numpy code that catches the latter (a jitter added to a kernel matrix) takes its except
branch while tracing. det is differentiable everywhere (its gradient at a singular matrix is
the transposed adjugate). Conventions:

- ``eigh``, ``eigvalsh`` and ``cholesky`` read one triangle of the matrix, as numpy does; the
  gradient with respect to the matrix is therefore triangular (autograd's convention for
  eigh; JAX and autograd's cholesky symmetrize instead: both agree on symmetric tangents).
- eigenvectors and singular vectors are signed so that the largest entry of each (of ``u_i``
  for the SVD) is positive; numpy leaves the signs free.
- at a repeated eigenvalue or singular value the value rules give the symmetric gradient, at
  a zero singular value one side of the kink, and the 2-norm at 0 the subgradient 0.
- the matrix 2-norm is the largest singular value; at ties ``max`` splits its derivative.
- second derivatives (``la.hessian``, ``la.hvp``) run through every row; the eigenvalues and
  singular values, whose gradient needs no gap, have a Hessian only where they are distinct
  (and, for singular values, nonzero): there the second derivative refuses the point with
  `LinAlgDomainError`.

What cannot be differentiated is refused on traced values with `TracingError` (and computed
by numpy on plain arrays): ``svd(full_matrices=True)`` of a non-square matrix, ``qr`` modes
``"complete"`` (tall matrices) and ``"raw"``, ``hermitian=True``, ``norm(ord=0)``, ``eig``,
``eigvals``, ``tensorsolve``, ``tensorinv``.
"""

from .common import EighResult, QRResult, SlogdetResult, SVDResult
from .decompositions import cholesky, eig, eigh, eigvals, eigvalsh, qr, svd, svdvals
from .inverses import det, inv, lstsq, pinv, slogdet, solve, tensorinv, tensorsolve
from .norms import cond, matrix_norm, norm, vector_norm
from .products import (
    cross,
    diagonal,
    matmul,
    matrix_power,
    matrix_rank,
    matrix_transpose,
    multi_dot,
    outer,
    tensordot,
    trace,
    vecdot,
)

__all__ = [
    "EighResult", "QRResult", "SVDResult", "SlogdetResult", "cholesky", "cond", "cross", "det",
    "diagonal", "eig", "eigh", "eigvals", "eigvalsh", "inv", "lstsq", "matmul", "matrix_norm",
    "matrix_power", "matrix_rank", "matrix_transpose", "multi_dot", "norm", "outer", "pinv",
    "qr", "slogdet", "solve", "svd", "svdvals", "tensordot", "tensorinv", "tensorsolve",
    "trace", "vecdot", "vector_norm",
]
