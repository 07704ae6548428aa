"""Cost estimates by which a plan is chosen: whether the local Jacobian is worth assembling.

The reverse sweep by stored partials and the sweep by VJP rules give the same multipliers;
which one is faster depends on the graph. The choice is a plan's, so it lives here, beside
the accelerators.
"""

from __future__ import annotations

from ..program.analysis import multiply_adds, scalar_elementwise
from .scalar_graphs import is_scalar_graph


def jacobian_is_sparse(graph) -> bool:
    """Whether to sweep over an assembled J: few partials per scalar entry, in graphs made
    mostly of scalar elementwise nodes (whose partials come vectorized, see `scalar_partials`).

    Nodes with large dense blocks (matrix products) are cheaper through their VJP rules, and
    so are array nodes in general: one vectorized VJP call beats assembling their entries
    (9x on a chain of elementwise functions of 10^5-vectors).
    """
    if is_scalar_graph(graph):
        return True  # one partial per operand, and nothing to count
    operations = len(graph) - int(graph.is_source.sum())
    return (2 * len(scalar_elementwise(graph)) >= operations
            and int(multiply_adds(graph).sum()) <= 8 * graph.total_size + 1024)
