"""Accelerators of the solves with A and A^T that second order runs (task ``"kkt solves"``).

`lagrange_ad.program.second_order.kkt_solves` returns the pair ``(x -> A^{-1} x,
y -> A^{-T} y)`` on the assembled ``A = I - J``: the tangent system ``A t = E d`` and the second
adjoint system ``A^T mu = w``. It asks ``accelerator_for("kkt solves", program)`` and calls
``accelerator.run(program) -> (solve, solve_transposed)``.

``compiled substitutions`` (acyclic programs, when numba is installed)
    never assembles A: both solves run over J's CSR arrays (`Program.local_jacobian`, which
    the first-order sweep has already built). ``A t = x`` is ``t = x + J t``, solved by forward
    substitution in a topological order (`kernels.forward_substitute`); ``A^T mu = y`` is the
    reverse sweep's back-substitution started from y instead of ``e_N``
    (`kernels.back_substitute`). On scalar graphs numbered in topological order row i is node
    i and no order or offsets are read (the ``_rows`` kernels).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..program.program import Program
from . import kernels
from .dispatch import Accelerator, register_accelerator
from .scalar_graphs import is_scalar_graph

COMPILED = kernels.njit is not None


def compiled_substitutions(program: Program) -> tuple[Callable, Callable]:
    """`kkt_solves` of an acyclic program, by compiled substitutions over J."""
    graph = program.graph
    jac = program.local_jacobian()
    by_rows = is_scalar_graph(graph) and graph.parents_precede_children
    order = None if by_rows else np.ascontiguousarray(graph.topological_order(), np.int64)
    reverse = None if by_rows else np.ascontiguousarray(order[::-1])

    def solve(x: np.ndarray) -> np.ndarray:
        t = np.array(x, dtype=np.float64)
        if by_rows:
            kernels.forward_substitute_rows(jac.indptr, jac.indices, jac.data, t)
        else:
            kernels.forward_substitute(order, graph.offsets, jac.indptr, jac.indices, jac.data,
                                       t)
        return t

    def solve_transposed(y: np.ndarray) -> np.ndarray:
        mu = np.array(y, dtype=np.float64)
        if by_rows:
            kernels.back_substitute_rows(jac.indptr, jac.indices, jac.data, mu)
        else:
            kernels.back_substitute(reverse, graph.offsets, jac.indptr, jac.indices, jac.data,
                                    mu)
        return mu

    return solve, solve_transposed


COMPILED_SUBSTITUTIONS = register_accelerator(Accelerator(
    name="compiled substitutions", task="kkt solves", run=compiled_substitutions,
    serves=lambda program: COMPILED and program.graph.is_acyclic,
    doc="the tangent and second adjoint solves by compiled substitutions over J, without "
        "assembling A"))
