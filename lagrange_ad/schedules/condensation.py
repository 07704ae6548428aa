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

from ..accel.kernels import back_substitute
from ..errors import ConvergenceError, LagrangeADError, SingularKKTError
from ..program.assembly import jacobian_is_sparse
from ..program.cycles import error_bound, observed_rate, spectral_radius
from ..program.program import Program
from ..program.values import component_jacobian
from ..program.vectors import NodeVector
from .cotangents import CotangentSweep

INNER = ("fixed-point", "direct", "gmres")


def _entries(graph, nodes: np.ndarray) -> np.ndarray:
    return np.concatenate([np.arange(graph.offsets[i], graph.offsets[i + 1])
                           for i in nodes.tolist()])


def _describe(graph, nodes) -> str:
    shown = ", ".join(f"v{i}" for i in nodes[:6])
    return shown + ("" if len(nodes) <= 6 else f" (+{len(nodes) - 6} more)")


def solve_block(transposed, b: np.ndarray, *, inner: str, tol: float, maxiter: int,
                where: str) -> tuple[np.ndarray, dict]:
    """Solve ``(I - J_CC)^T x = b`` for one cyclic block; returns x and its statistics.

    ``transposed`` is ``J_CC^T``: a sparse matrix, or for the iterative inner solvers any
    operator with ``@`` and ``shape`` (a `LinearOperator` applying VJP rules).
    """
    n = b.size
    # the fixed-point iteration measures the radius as it goes; the solvers get a short
    # power iteration (shorter still when each step is a sweep of VJP rules), and a failure a
    # longer one for its message
    radius = float("nan") if inner == "fixed-point" else \
        spectral_radius(transposed, 50 if sp.issparse(transposed) else 20)
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
        operator = spla.LinearOperator((n, n), matvec=lambda v: v - transposed @ v,
                                       dtype=np.float64)
        x, info = spla.gmres(operator, b, rtol=tol, atol=0.0, maxiter=maxiter,
                             callback=lambda r: history.append(float(r)),
                             callback_type="pr_norm")
        residual = float(np.linalg.norm(operator @ x - b))
        stats.update(iterations=len(history), residuals=history + [residual])
        if info != 0 or residual > max(tol, 1e-14) * max(1.0, np.linalg.norm(b)) * 10:
            radius = spectral_radius(transposed, 50)
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
                       maxiter: int = 10_000, gradient_only: bool = False):
    """Multipliers of a graph with cycles; see the module docstring.

    Returns the multipliers, the multiply-adds spent and one statistics dict per cyclic block.
    Graphs whose J is worth assembling (`jacobian_is_sparse`) sweep over it; the others
    apply VJP rules (`rules_condensation_sweep`).
    """
    if inner not in INNER:
        raise LagrangeADError(f"inner must be one of {INNER}; got {inner!r}")
    if not jacobian_is_sparse(program.graph):
        return rules_condensation_sweep(program, inner=inner, tol=tol, maxiter=maxiter,
                                        gradient_only=gradient_only)
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
        x, stats = solve_block(rows[:, entries].T.tocsr(), lam[entries].copy(), inner=inner,
                               tol=tol, maxiter=maxiter,
                               where=_describe(graph, component.tolist()))
        lam[entries] = x
        outward = rows.T @ x
        outward[entries] = 0.0  # the block's own coupling is inside the solve
        lam += outward
        spent += int(rows.nnz) * max(1, int(stats["iterations"]))
        blocks.append(stats)
    flush()
    return lam, spent, blocks


def rules_condensation_sweep(program: Program, *, inner: str, tol: float, maxiter: int,
                             gradient_only: bool) -> tuple[NodeVector, int, list[dict]]:
    """The condensation sweep by VJP rules, with each multiplier kept as its own array.

    A cyclic block's operator ``x -> J_CC^T x`` applies the VJP of every node of the block to
    its part of x and keeps the cotangents sent inside the block; ``inner="direct"``
    assembles J_CC instead. With ``gradient_only`` the nodes that depend on no input get no
    multiplier, as in the acyclic sweep.
    """
    graph = program.graph
    sweep = CotangentSweep(program, gradient_only)
    lam, needed = sweep.lam, sweep.needed
    spent_on_lu = 0
    blocks = []
    # a NaN or infinity is found by the caller's check of the multipliers, which names its
    # cause
    with np.errstate(all="ignore"):
        for component in reversed(graph.strongly_connected_components()):
            nodes = component.tolist()
            if len(nodes) == 1 and nodes[0] not in sweep.parents(nodes[0]):
                if sweep.pending(nodes[0]):
                    sweep.send(nodes[0], lam[nodes[0]])
                continue
            if not any(needed[j] for j in nodes):
                continue
            x, stats = _solve_cycle(sweep, nodes, inner=inner, tol=tol, maxiter=maxiter)
            # an iterative solve counted its VJP applications; LU, the block's entries once
            spent_on_lu += stats.get("nonzeros", 0)
            inside = set(nodes)
            for i in nodes:
                lam[i] = x[i]
                if lam[i].any():
                    # what the block sends to the components upstream of it
                    sweep.send(i, lam[i], [needed[j] and j not in inside
                                           for j in sweep.parents(i)])
            blocks.append(stats)
    missing = ("it depends on no input, and the sweep was asked for the gradient only "
               "(gradient_only=True)")
    kept = [j for j in range(len(graph)) if needed[j]]
    return sweep.result(kept, missing), sweep.spent + spent_on_lu, blocks


def _solve_cycle(sweep: CotangentSweep, nodes: list, *, inner: str, tol: float,
                 maxiter: int) -> tuple[dict, dict]:
    """The multipliers of one cyclic block, node by node, and the solve's statistics."""
    program, lam = sweep.program, sweep.lam
    graph = program.graph
    position = {j: k for k, j in enumerate(nodes)}
    starts = np.concatenate([[0], np.cumsum([graph.sizes[j] for j in nodes])]).tolist()
    size = starts[-1]

    def part(x: np.ndarray, k: int) -> np.ndarray:
        return x[starts[k]:starts[k + 1]].reshape(graph.shape(nodes[k]))

    def apply_transposed(x: np.ndarray) -> np.ndarray:
        out = np.zeros(size)
        for k, i in enumerate(nodes):
            g = part(x, k)
            if g.any():
                for j, ct in sweep.cotangents(i, g, [j in position for j in sweep.parents(i)]):
                    out[starts[position[j]]:starts[position[j] + 1]] += np.ravel(ct)
        return out

    b = np.concatenate([np.zeros(graph.sizes[j]) if lam[j] is None else np.ravel(lam[j])
                        for j in nodes])
    if inner == "direct":
        transposed = component_jacobian(graph, program.values.blocks(),
                                        np.array(nodes)).T.tocsr()
    else:
        transposed = spla.LinearOperator((size, size), matvec=apply_transposed,
                                         dtype=np.float64)
    x, stats = solve_block(transposed, b, inner=inner, tol=tol, maxiter=maxiter,
                           where=_describe(graph, nodes))
    if inner == "direct":
        stats["nonzeros"] = int(transposed.nnz)
    return {i: part(x, k).copy() for k, i in enumerate(nodes)}, stats
