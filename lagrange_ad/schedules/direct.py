"""Sparse direct solve of ``A^T lam = e_N`` with the assembled KKT matrix ``A = I - J``.

On a DAG, listing the scalar entries node by node in a topological order of the nodes gives a
permutation P for which ``P A P^T`` is unit lower triangular: row i of J only holds partials
of node i's entries with respect to its parents' entries, and parents come first. Then

    A^T lam = e_N   <=>   (P A P^T)^T (P lam) = P e_N,

an upper triangular system solved by back substitution (``spsolve_triangular``). That is the
reverse sweep once more, now on the assembled matrix instead of node by node. On graphs with
cycles (or with ``triangular=False``) a sparse LU factorization ``A^T = L U`` is used instead.

A singular A (a cyclic graph whose fixed point is not locally unique) has no multipliers;
`SingularKKTError` is raised instead of returning NaN.

Options: ``triangular`` (default: True on DAGs, False otherwise), ``check`` (compute the KKT
residual). ``multiply_adds`` counts the off-diagonal nonzeros of the triangular factors applied
(on a DAG: the nonzeros of J, every local partial once).

Cost, estimated before the solve (`lagrange_ad.schedules.budget`): the entries of A,
``n + nnz(J)``, for back substitution; a sparse LU adds, for each cyclic block of k entries
whose nodes hold p local partials, ``k * p`` (at most ``k^3``, the work of a dense
factorization, which is what a dense block takes; an upper bound for sparse blocks).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu, spsolve_triangular

from ..errors import SingularKKTError
from ..graph.graph import Graph
from ..program.program import Program
from .budget import Cost
from .options import flag
from .registry import Outcome, Schedule, register_schedule


def entry_permutation(graph: Graph, order: np.ndarray) -> np.ndarray:
    """The flat entry indices of the nodes in ``order``, each node's entries kept together.

    ``perm[k]`` is the entry placed k-th; node i's entries are ``offsets[i]:offsets[i+1]``.
    """
    order = np.asarray(order, np.int64)
    sizes = graph.sizes[order]
    starts = graph.offsets[:-1][order]
    # position k inside the permuted vector belongs to the node whose block covers k
    block_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return np.repeat(starts - block_start, sizes) + np.arange(int(sizes.sum()), dtype=np.int64)


def solve_triangular_transposed(a: sp.sparray, rhs: np.ndarray,
                                perm: np.ndarray) -> tuple[np.ndarray, int]:
    """Solve ``A^T lam = rhs`` when ``A[perm][:, perm]`` is unit lower triangular.

    Returns lam and the multiply-adds of back substitution (off-diagonal nonzeros).
    """
    lower = sp.csr_array(a)[perm][:, perm]
    upper = sp.csr_array(lower.T)
    y = spsolve_triangular(upper, rhs[perm], lower=False, unit_diagonal=True)
    lam = np.empty_like(y)
    lam[perm] = y
    strictly = int(upper.nnz - np.count_nonzero(upper.diagonal()))
    return lam, strictly


def solve_lu_transposed(a: sp.sparray, rhs: np.ndarray) -> tuple[np.ndarray, int]:
    """Solve ``A^T lam = rhs`` by a sparse LU factorization of ``A^T``.

    Returns lam and the multiply-adds of the two triangular solves (nonzeros of L and U, the
    unit diagonal of L excluded). Raises `SingularKKTError` when A is singular.
    """
    n = a.shape[0]
    try:
        lu = splu(sp.csc_array(a.T))
    except RuntimeError as exc:  # SuperLU reports "Factor is exactly singular"
        raise SingularKKTError(
            f"the KKT matrix A = I - J ({n} x {n}) is singular ({exc}): the multipliers "
            f"A^T lam = e_N are not unique, so the gradient does not exist at this point") from None
    with np.errstate(all="ignore"):
        lam = lu.solve(rhs)
    pivots = np.abs(lu.U.diagonal())
    if not np.all(np.isfinite(lam)) or pivots.min() <= n * np.finfo(float).eps * pivots.max():
        raise SingularKKTError(
            f"the KKT matrix A = I - J ({n} x {n}) is numerically singular (smallest pivot "
            f"{pivots.min():.3g}, largest {pivots.max():.3g}): the multipliers are not "
            f"determined at this point")
    return lam, int(lu.L.nnz - n + lu.U.nnz)


def _run(program: Program, *, triangular: bool | None = None, check: bool = True) -> Outcome:
    graph = program.graph
    if triangular is None:
        triangular = graph.is_acyclic
    a = program.kkt_matrix()
    rhs = program.rhs()
    if triangular:
        lam, spent = solve_triangular_transposed(a, rhs, entry_permutation(
            graph, graph.topological_order()))
        how = "triangular back substitution in topological order"
    else:
        lam, spent = solve_lu_transposed(a, rhs)
        how = "sparse LU factorization of A^T"
    # the residual with the assembled matrix costs one sparse product
    residuals = [float(np.linalg.norm(rhs - a.T @ lam))] if check else []
    return Outcome(lam, iterations=1, converged=True, residuals=residuals, multiply_adds=spent,
                   message=how, extra={"nnz_A": int(a.nnz), "triangular": bool(triangular)})


def _cost(program: Program, options: dict) -> Cost:
    graph = program.graph
    entries = graph.total_size + program.total_multiply_adds
    triangular = options.get("triangular")
    if triangular or (triangular is None and graph.is_acyclic):
        return Cost(float(entries), f"back substitution over the {entries:,} entries of A")
    factor = 0.0
    for block in graph.strongly_connected_components():
        size = int(graph.sizes[block].sum())
        if block.size > 1 or size > 1:
            factor += float(size) * float(program.multiply_adds[block].sum() + size)
    return Cost(entries + factor, f"the {entries:,} entries of A and an LU factorization of "
                f"its cyclic blocks (k entries x their partials each)")


def _triangular_applies(program: Program, options: dict) -> str | None:
    if options["triangular"] and not program.graph.is_acyclic:
        return ("triangular=True needs a DAG, and this graph has a cycle; pass "
                "triangular=False for a sparse LU solve")
    return None


SPSOLVE = register_schedule(Schedule(
    name="spsolve",
    run=_run,
    summary="sparse direct solve of A^T lam = e_N (triangular on DAGs, LU otherwise)",
    accepts=(flag("triangular", None, "back substitution in topological order (True) or a "
                  "sparse LU (False); None: True on DAGs", none=True,
                  applies=_triangular_applies),
             flag("check", True, "compute the KKT residual of the result")),
    cost=_cost,
))
