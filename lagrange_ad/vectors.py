"""`NodeVector`: one flat float64 vector over all scalar entries, viewed node by node."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .errors import GraphError
from .graph import Graph


class NodeVector(Mapping):
    """A read-only mapping from node index to that node's block of a flat vector.

    ``vector[i]`` is shaped like node i; ``vector.flat`` is the whole vector, in node order
    (the layout of the rows and columns of J and A).

    Examples
    --------
    >>> import lagrange_ad as la
    >>> program = la.Program(la.examples.lecture().graph)
    >>> program.values[program.graph.output]  # doctest: +ELLIPSIS
    array(0.14112...)
    """

    __slots__ = ("graph", "flat")

    def __init__(self, graph: Graph, flat: np.ndarray, copy: bool = True):
        # copy=False hands over a vector nobody else writes to (a schedule's result)
        flat = np.array(flat, dtype=np.float64) if copy else np.asarray(flat, np.float64)
        if flat.shape != (graph.total_size,):
            raise GraphError(f"a node vector of this graph has {graph.total_size} entries; "
                             f"got shape {flat.shape}")
        flat.flags.writeable = False
        self.graph = graph
        self.flat = flat

    def __getitem__(self, node: int) -> np.ndarray:
        n = len(self.graph)
        if isinstance(node, (bool, np.bool_)) or not isinstance(node, (int, np.integer)) \
                or not -n <= node < n:
            raise KeyError(f"no node {node!r} in a graph of {n} nodes")
        node = int(node) % n
        a, b = self.graph.offsets[node], self.graph.offsets[node + 1]
        return self.flat[a:b].reshape(self.graph.shape(node))

    def __iter__(self):
        return iter(range(len(self.graph)))

    def __len__(self) -> int:
        return len(self.graph)

    def __repr__(self) -> str:
        return f"NodeVector({len(self.graph)} nodes, {self.flat.size} entries)"
