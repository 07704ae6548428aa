"""The derivative as a sum over paths of influence: the lecture's exponential algorithm.

Unrolling ``A^T lam = e_N`` on a DAG (``lam = e_N + J^T lam``, J nilpotent) gives the Neumann
series ``lam = sum_k (J^T)^k e_N``, and entry j of ``(J^T)^k e_N`` is a sum over the paths
``j -> i_1 -> ... -> i_{k-1} -> N`` of k edges of the product of the local partials along
them. Hence

    lam_j = d v_N / d v_j = sum over all directed paths P from j to N of prod_{(a -> b) in P} J_ba.

Paths run over the scalar entries: an edge ``a -> b`` is a stored nonzero ``J_ba`` of the
sparse local Jacobian (for scalar graphs, an edge of the computation graph; a node used twice
by one child, as in ``x * x``, gives one edge carrying the summed partial ``2x``).

Every path ending at N is enumerated explicitly, depth first with an explicit stack from N
backwards along parent edges; each stack entry is one path and carries the product of its
partials, so extending a path by one edge is one multiplication. ``multiply_adds`` is the
number of multiplications performed (one per path of at least one edge; prefixes are shared),
and ``extra["path_edges"]`` the total length of all paths, the count of a version that forms
each product from scratch. The number of paths grows exponentially with depth on densely
connected graphs, while the reverse sweep costs one multiply-add per edge; the paths are
therefore counted first (dynamic programming, `count_paths`), and enumeration is refused above
``max_paths`` (default 10**6). Graphs with cycles have infinitely many paths and are refused.
The cost charged against the budget is that count of paths (one multiplication each).
"""

from __future__ import annotations

import numpy as np

from ..errors import MethodNotApplicableError
from ..program.program import Program
from .budget import Cost
from .direct import entry_permutation
from .options import integer
from .registry import Outcome, Schedule, register_schedule


def _entry_counts(program: Program) -> list[int]:
    """For every scalar entry, the number of paths from it to the output entry (exact ints).

    Counted once per program (the refusal, the cost and the run all ask).
    """
    counted = program.__dict__.get("_path_counts")
    if counted is None:
        counted = program.__dict__["_path_counts"] = _count_entry_paths(program)
    return counted


def _count_entry_paths(program: Program) -> list[int]:
    graph = program.graph
    jac_csc = program.local_jacobian().tocsc()
    ptr, rows = jac_csc.indptr.tolist(), jac_csc.indices.tolist()
    count = [0] * graph.total_size
    count[int(graph.offsets[graph.output])] = 1
    # column e of J lists the entries that use e; they come later in topological order
    for e in entry_permutation(graph, graph.topological_order())[::-1].tolist():
        total = count[e]
        for k in range(ptr[e], ptr[e + 1]):
            total += count[rows[k]]
        count[e] = total
    return count


def count_paths(program: Program) -> tuple[int, ...]:
    """Per node, the number of directed paths from its entries to the output entry.

    Dynamic programming in reverse topological order, ``count(j) = [j = N] + sum of count(i)
    over the entries i that use j``: O(nnz(J)) work however many paths there are. Counts are
    exact Python integers (they overflow any fixed-width type on deep graphs).

    Parameters
    ----------
    program : Program
        A program on a DAG.

    Returns
    -------
    tuple of int
        One count per node, summed over the node's scalar entries; the output node has 1.

    Raises
    ------
    MethodNotApplicableError
        When the graph has a cycle (infinitely many paths).

    Examples
    --------
    >>> import lagrange_ad as la
    >>> program = la.Program(la.trace(lambda x: la.sin(x) * la.cos(x), 0.5))
    >>> count_paths(program)
    (2, 1, 1, 1)
    """
    if not program.graph.is_acyclic:
        raise MethodNotApplicableError("the graph has a cycle, so there are infinitely many "
                                       "paths to the output")
    count = _entry_counts(program)
    offsets = program.graph.offsets.tolist()
    return tuple(sum(count[offsets[i]:offsets[i + 1]]) for i in range(len(program.graph)))


def _too_many(program: Program, max_paths: int) -> str | None:
    if not program.graph.is_acyclic:
        return "the graph has a cycle, so there are infinitely many paths to the output"
    total = sum(_entry_counts(program))
    if total > max_paths:
        return (f"there are {total} paths to the output (counted by dynamic programming), "
                f"more than max_paths={max_paths}; enumerating them is exponential work, "
                f"use 'reverse' (one multiply-add per edge) or raise max_paths")
    return None


def _run(program: Program, *, max_paths: int = 10**6) -> Outcome:
    reason = _too_many(program, max_paths)
    if reason:
        raise MethodNotApplicableError(f"method 'paths' cannot solve this program: {reason}")
    graph = program.graph
    jac = program.local_jacobian()
    ptr, cols, partials = jac.indptr.tolist(), jac.indices.tolist(), jac.data.tolist()
    lam = [0.0] * graph.total_size
    paths = multiplications = edges = 0
    # each stack entry is a path from `entry` to N: (entry, product of its partials, length)
    stack = [(int(graph.offsets[graph.output]), 1.0, 0)]
    while stack:
        entry, product, length = stack.pop()
        lam[entry] += product
        paths += 1
        edges += length
        # row `entry` of J lists the parent entries it reads: extend the path backwards
        for k in range(ptr[entry + 1] - 1, ptr[entry] - 1, -1):
            stack.append((cols[k], product * partials[k], length + 1))
            multiplications += 1
    residuals = [program.kkt_residual(np.array(lam))]
    return Outcome(np.array(lam), iterations=1, converged=True, residuals=residuals,
                   multiply_adds=multiplications,
                   message=f"summed the products of local partials along {paths} paths",
                   extra={"paths": paths, "path_edges": edges})


def _refuses(program: Program, options: dict) -> str | None:
    return _too_many(program, options.get("max_paths", 10**6))


PATHS = register_schedule(Schedule(
    name="paths",
    run=_run,
    summary="sum over all paths to the output of the products of local partials (exponential)",
    refuses=_refuses,
    accepts=(integer("max_paths", 10**6, "refuse graphs with more paths to the output (counted "
                     "first, in time linear in the edges)", low=1),),
    cost=lambda program, options: Cost(float(sum(_entry_counts(program))),
                                       "one multiplication per path to the output"),
))
