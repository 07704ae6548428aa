"""The reverse sweep on graphs with cycles: back-substitution over the condensation.

Collapsing each strongly connected component to one block makes ``A = I - J`` block
triangular. Visiting components in reverse topological order, every component's downstream
multipliers are final when it is reached, so its own block solves

    (I - J_CC)^T lam_C = b_C,     b_C = (e_N + J_{D,C}^T lam_D)_C,

with D the components downstream of C; then its contributions ``J_{C,U}^T lam_C`` go to the
upstream components U. Acyclic components are single nodes (one back-substitution step, as
in the plain reverse sweep); a cyclic block is solved by the implicit function theorem, with
``inner``:

``"fixed-point"``
    ``lam_C <- b_C + J_CC^T lam_C`` from ``lam_C = b_C``: Christianson's two-phase adjoint,
    the recurrent backpropagation of Almeida and Pineda. Converges when the spectral radius of
    ``J_CC`` is below 1, the same condition as the forward Picard iteration.
``"direct"``
    a sparse LU solve of the block.
``"gmres"``
    a Krylov solve of the block.

A singular ``I - J_CC`` raises `SingularKKTError`; a diverging or capped inner iteration raises
`ConvergenceError` with the residual trace and the estimated spectral radius. The radius,
iterations and residuals of every cyclic block are reported.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..errors import ConvergenceError, LagrangeADError, SingularKKTError
from ..fixedpoint import error_bound, observed_rate, spectral_radius
from ..kernels import back_substitute
from ..program import Program

INNER = ("fixed-point", "direct", "gmres")


def _entries(graph, nodes: np.ndarray) -> np.ndarray:
    return np.concatenate([np.arange(graph.offsets[i], graph.offsets[i + 1])
                           for i in nodes.tolist()])


def _describe(graph, nodes) -> str:
    shown = ", ".join(f"v{i}" for i in nodes[:6])
    return shown + ("" if len(nodes) <= 6 else f" (+{len(nodes) - 6} more)")


def solve_block(jac_cc, b: np.ndarray, *, inner: str, tol: float, maxiter: int,
                where: str) -> tuple[np.ndarray, dict]:
    """Solve ``(I - J_CC)^T x = b`` for one cyclic block; returns x and its statistics."""
    n = b.size
    transposed = jac_cc.T.tocsr()
    # the fixed-point iteration measures the radius as it goes; the solvers get a short
    # power iteration, and a failure a longer one for its message
    radius = float("nan") if inner == "fixed-point" else spectral_radius(transposed, 50)
    stats = {"nodes": where, "size": n, "spectral_radius": radius, "inner": inner}
    if inner == "direct":
        try:
            x = spla.splu((sp.eye_array(n, format="csc") - transposed).tocsc()).solve(b)
        except RuntimeError:
            raise SingularKKTError(
                f"I - J is singular on the cycle through {where} (estimated spectral radius of "
                f"J there {radius:.4g}): the multipliers are not unique") from None
        stats.update(iterations=1, residuals=[float(np.linalg.norm(x - b - transposed @ x))])
        return x, stats
    if inner == "gmres":
        history: list[float] = []
        operator = sp.eye_array(n, format="csr") - transposed
        x, info = spla.gmres(operator, b, rtol=tol, atol=0.0, maxiter=maxiter,
                             callback=lambda r: history.append(float(r)),
                             callback_type="pr_norm")
        residual = float(np.linalg.norm(operator @ x - b))
        stats.update(iterations=len(history), residuals=history + [residual])
        if info != 0 or residual > max(tol, 1e-14) * max(1.0, np.linalg.norm(b)) * 10:
            raise ConvergenceError(
                f"GMRES on the cycle through {where} stopped with residual {residual:.3g} "
                f"after {len(history)} iterations (estimated spectral radius of J there "
                f"{radius:.4g})", history, len(history))
        return x, stats
    # fixed-point: the Neumann series of (I - J_CC^T)^-1 b, summed by iteration
    x = b.copy()
    residuals = []
    scale = max(1.0, float(np.max(np.abs(b), initial=0.0)))
    for k in range(1, maxiter + 1):
        new = b + transposed @ x
        residuals.append(float(np.max(np.abs(new - x), initial=0.0)) / scale)
        x = new
        if max(residuals[-1], error_bound(residuals)) <= tol or error_bound(residuals) == 0:
            rate = observed_rate(residuals)
            stats.update(iterations=k, residuals=residuals, spectral_radius=rate
                         if np.isfinite(rate) else spectral_radius(transposed, 50))
            return x, stats
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


def condensation_sweep(program: Program, *, inner: str = "fixed-point", tol: float = 1e-13,
                       maxiter: int = 10_000) -> tuple[np.ndarray, int, list[dict]]:
    """Multipliers of a graph with cycles; see the module docstring.

    Returns the multipliers, the multiply-adds spent and one statistics dict per cyclic block.
    """
    if inner not in INNER:
        raise LagrangeADError(f"inner must be one of {INNER}; got {inner!r}")
    graph = program.graph
    jac = program.local_jacobian()
    lam = program.rhs()
    spent = 0
    blocks = []
    pending: list[int] = []  # a run of acyclic single nodes, swept by the compiled loop

    def flush():
        nonlocal spent
        if pending:
            spent += int(back_substitute(np.array(pending, np.int64), graph.offsets, jac.indptr,
                                         jac.indices, jac.data, lam))
            pending.clear()

    for component in reversed(graph.strongly_connected_components()):
        i = int(component[0])
        if component.size == 1 and i not in graph.parents(i):
            pending.append(i)
            continue
        flush()
        entries = _entries(graph, component)
        rows = jac[entries]
        x, stats = solve_block(rows[:, entries], lam[entries].copy(), inner=inner, tol=tol,
                               maxiter=maxiter, where=_describe(graph, component.tolist()))
        lam[entries] = x
        outward = rows.T @ x
        outward[entries] = 0.0  # the block's own coupling is inside the solve
        lam += outward
        spent += int(rows.nnz) * max(1, int(stats["iterations"]))
        blocks.append(stats)
    flush()
    return lam, spent, blocks
