"""The reverse sweep by topological levels: each level's multipliers settled at once.

The level of a node is the length of the longest path from a source to it
(``graph.levels()``). Every child of a node has a higher level, so visiting the levels deepest
first, the multipliers of a level's children are final when the level is reached, and the
whole level is one vectorized product with the sparse J::

    lam <- 0
    for L = depth, ..., 0:
        lam_L <- (e_N + J^T lam)_L

It is the reverse sweep with level blocks instead of single nodes: the same multipliers, in
``depth + 1`` block steps, each spending the stored partials of its rows once.
"""

from __future__ import annotations

import numpy as np

from ..program.program import Program


def level_entries(program: Program) -> list[np.ndarray]:
    """The flat entries of each level's nodes, deepest level first."""
    graph = program.graph
    levels = graph.levels()
    entry_level = np.repeat(levels, graph.sizes)
    return [np.flatnonzero(entry_level == level) for level in range(int(levels.max()), -1, -1)]


def sweep_by_levels(program: Program) -> tuple[np.ndarray, int]:
    """The level sweep; returns the flat multipliers and the multiply-adds (J's partials)."""
    transposed = program.local_jacobian().T.tocsr()
    rhs = program.rhs()
    lam = np.zeros_like(rhs)
    for entries in level_entries(program):
        lam[entries] = rhs[entries] + transposed[entries] @ lam
    return lam, int(transposed.nnz)
