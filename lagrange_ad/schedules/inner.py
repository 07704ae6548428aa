"""The inner solves of the condensation sweep: one cyclic block ``(I - J_CC)^T x = b``.

``inner`` names the method:

``"fixed-point"``
    ``x <- b + J_CC^T x`` from ``x = b``: Christianson's two-phase adjoint, the recurrent
    backpropagation of Almeida and Pineda. Converges when the spectral radius of ``J_CC`` is
    below 1, the same condition as the forward Picard iteration.
``"direct"``
    an LU factorization (`direct_solve`): dense LAPACK when the matrix is dense
    (`feedback.is_dense`: an array, or at least `feedback.DENSE_FILL` of its entries
    nonzero), sparse LU (SuperLU) otherwise.
``"gmres"``
    a Krylov solve.

A singular or numerically singular ``I - J_CC`` raises `SingularKKTError`; a diverging or
capped iteration raises `ConvergenceError` with the residual trace and the estimated spectral
radius.

Every solve reports `BlockStats`: the block, its size, the inner method, iterations and
residuals, and the spectral radius of ``J_CC``. The fixed-point iteration observes the radius
as its convergence rate; for the other methods it is a power-iteration estimate made when the
entry is first read (it costs as much as the LU of a dense block, and a gradient never reads
it).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import ConvergenceError, SingularKKTError
from ..program.cycles import error_bound, observed_rate, spectral_radius
from .budget import check_time
from .feedback import is_dense

INNER = ("fixed-point", "direct", "gmres")
RADIUS_STEPS = 50
"""Power-iteration steps of the spectral radius reported for a block solved by LU or GMRES."""


class BlockStats(Mapping):
    """Statistics of the solve of one cyclic block, a read-only mapping.

    Keys: ``"nodes"`` (the block's nodes, described), ``"size"`` (its entries), ``"inner"``,
    ``"iterations"``, ``"residuals"``, what the method adds (a direct solve by feedback nodes:
    ``"feedback_size"`` and ``"nonzeros"``) and ``"spectral_radius"``, an estimate of the
    spectral radius of ``J_CC`` at the point. Given as a callable, the radius is estimated
    when first read and then kept.
    """

    def __init__(self, entries: dict, radius: float | Callable[[], float]):
        self._entries = dict(entries)
        self._radius = radius

    def __getitem__(self, key: str):
        if key != "spectral_radius":
            return self._entries[key]
        if callable(self._radius):
            self._radius = float(self._radius())
        return self._radius

    def __iter__(self) -> Iterator[str]:
        yield from self._entries
        yield "spectral_radius"

    def __len__(self) -> int:
        return len(self._entries) + 1

    def __repr__(self) -> str:
        radius = "estimated when read" if callable(self._radius) else repr(self._radius)
        shown = ", ".join(f"{key!r}: {value!r}" for key, value in self._entries.items())
        return f"BlockStats({{{shown}, 'spectral_radius': {radius}}})"


def _singular(where: str, radius: float, detail: str) -> SingularKKTError:
    return SingularKKTError(
        f"I - J is singular on the cycle through {where} ({detail}; estimated spectral radius "
        f"of J there {radius:.4g}): the multipliers are not unique. The fixed point may not "
        f"be isolated; check the cycle's definition")


def direct_solve(system, b: np.ndarray, *, where: str, radius=None,
                 overwrite: bool = False) -> np.ndarray:
    """Solve ``system @ x = b`` by LU: dense LAPACK for a dense system, SuperLU otherwise.

    A dense system whose reciprocal condition number (LAPACK's 1-norm estimate) is below
    ``n * eps`` is singular to working precision and raises `SingularKKTError`, as does an
    exactly singular sparse one. ``radius`` is a callable giving the spectral radius of J for
    the message (estimated only on failure). With ``overwrite`` a dense ``system`` may be
    overwritten by its LU factors (no copy is made when it is column-major).
    """
    n = b.size
    estimate = (lambda: float("nan")) if radius is None else radius
    if is_dense(system):
        matrix = system.toarray() if sp.issparse(system) else np.asarray(system, np.float64)
        norm = float(np.linalg.norm(matrix, 1))
        with warnings.catch_warnings():  # an exactly singular matrix is reported below
            warnings.simplefilter("ignore", sla.LinAlgWarning)
            factors = sla.lu_factor(matrix, overwrite_a=overwrite or matrix is not system,
                                    check_finite=False)
        rcond = float(sla.lapack.dgecon(factors[0], norm, norm="1")[0]) if norm > 0 else 0.0
        if not rcond >= n * np.finfo(float).eps:
            raise _singular(where, estimate(), f"reciprocal condition number {rcond:.3g}")
        return sla.lu_solve(factors, b, check_finite=False)
    try:
        x = spla.splu(sp.csc_array(system)).solve(b)
    except RuntimeError:
        raise _singular(where, estimate(), "an exactly zero pivot") from None
    if not np.all(np.isfinite(x)):
        raise _singular(where, estimate(), "the sparse LU solution is not finite")
    return x


def solve_block(transposed, b: np.ndarray, *, inner: str, tol: float, maxiter: int,
                where: str) -> tuple[np.ndarray, BlockStats]:
    """Solve ``(I - J_CC)^T x = b`` for one cyclic block; returns x and its statistics.

    ``transposed`` is ``J_CC^T``: a sparse matrix, or for the iterative inner solvers any
    operator with ``@`` and ``shape`` (a `LinearOperator` applying VJP rules).
    """
    n = b.size
    # the fixed-point iteration measures the radius as it goes; for the solvers a power
    # iteration of RADIUS_STEPS products runs when the radius is read (or a solve fails)
    stats = {"nodes": where, "size": n, "inner": inner}

    @functools.cache
    def radius() -> float:
        return spectral_radius(transposed, RADIUS_STEPS)

    if inner == "direct":
        x = direct_solve(sp.eye_array(n, format="csr") - transposed, b, where=where,
                         radius=radius, overwrite=True)
        stats.update(iterations=1, residuals=[float(np.linalg.norm(x - b - transposed @ x))])
        return x, BlockStats(stats, radius)
    if inner == "gmres":
        history: list[float] = []
        operator = spla.LinearOperator((n, n), matvec=lambda v: v - transposed @ v,
                                       dtype=np.float64)
        x, info = spla.gmres(operator, b, rtol=tol, atol=0.0, maxiter=maxiter,
                             callback=lambda r: (history.append(float(r)),
                                                 check_time(len(history), history[-1])),
                             callback_type="pr_norm")
        residual = float(np.linalg.norm(operator @ x - b))
        stats.update(iterations=len(history), residuals=history + [residual])
        if info != 0 or residual > max(tol, 1e-14) * max(1.0, np.linalg.norm(b)) * 10:
            raise ConvergenceError(
                f"GMRES on the cycle through {where} stopped with residual {residual:.3g} "
                f"after {len(history)} iterations (estimated spectral radius of J there "
                f"{spectral_radius(transposed, RADIUS_STEPS):.4g})", history, len(history))
        return x, BlockStats(stats, radius)
    return _fixed_point(transposed, b, tol=tol, maxiter=maxiter, stats=stats, where=where)


def _fixed_point(transposed, b, *, tol, maxiter, stats, where):
    """The Neumann series of ``(I - J_CC^T)^-1 b``, summed by iteration."""
    x = b.copy()
    residuals = []
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    for k in range(1, maxiter + 1):
        new = b + transposed @ x
        residuals.append(float(np.max(np.abs(new - x), initial=0.0)) / scale)
        x = new
        check_time(k, residuals[-1])
        if max(residuals[-1], error_bound(residuals)) <= tol or error_bound(residuals) == 0:
            rate = observed_rate(residuals)
            stats.update(iterations=k, residuals=residuals)
            return x, BlockStats(stats, rate if np.isfinite(rate) else
                                 lambda: spectral_radius(transposed, RADIUS_STEPS))
        if not np.isfinite(residuals[-1]) or (k > 20 and residuals[-1] > 1e8 * residuals[0]):
            break
    why = ("it diverges" if not residuals or residuals[-1] > residuals[0]
           else f"no convergence in {maxiter} iterations")
    radius = spectral_radius(transposed)
    singular = " (1 - rho is ~0: I - J may be singular)" if abs(radius - 1) < 1e-6 else ""
    raise ConvergenceError(
        f"the adjoint fixed-point iteration on the cycle through {where}: {why}; the estimated "
        f"spectral radius of J there is {radius:.4g}{singular}, and the iteration needs < 1. "
        f"Use inner='direct' or 'gmres'", residuals, len(residuals))
