"""`NodeVector`: one float64 vector over all scalar entries, viewed node by node.

It is stored either flat (scalar graphs: one buffer, the layout of the rows and columns of J
and A) or as one array per node (tensor graphs, whose large blocks would otherwise be copied
into and out of one buffer); the other form is made when first asked for. `all_finite` is
the finiteness test used on such vectors and on every large array the library checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import GraphError, LagrangeADError
from ..graph.graph import Graph


def all_finite(x) -> bool:
    """Whether every entry of ``x`` is finite.

    A sum is NaN or infinite whenever an entry is, and summing needs no temporary array; only
    when the sum is not finite (an overflow, or infinities of both signs) are the entries
    checked one by one. numpy's own pairwise sum is used rather than a BLAS product: a BLAS
    call starts its thread pool, which stalls when other work holds the cores.
    """
    x = np.asarray(x)
    if x.size == 1:
        return math.isfinite(x.item())
    if x.size <= 4096:  # small: the direct check costs less than the floating-point setup
        return bool(np.isfinite(x).all())
    with np.errstate(over="ignore", invalid="ignore"):
        total = x.sum()
    return math.isfinite(total) or bool(np.isfinite(x).all())


class NodeVector(Mapping):
    """A read-only mapping from node index to that node's block of a vector over all entries.

    ``vector[i]`` is shaped like node i; ``vector.flat`` is the whole vector, in node order
    (the layout of the rows and columns of J and A).

    Examples
    --------
    >>> import lagrange_ad as la
    >>> program = la.Program(la.examples.lecture().graph)
    >>> program.values[program.graph.output]  # doctest: +ELLIPSIS
    array(0.14112...)
    """

    __slots__ = ("graph", "_flat", "_blocks", "_missing")

    def __init__(self, graph: Graph, flat: np.ndarray, copy: bool = True):
        # copy=False hands over a vector nobody else writes to (a schedule's result)
        flat = np.array(flat, dtype=np.float64) if copy else np.asarray(flat, np.float64)
        if flat.shape != (graph.total_size,):
            raise GraphError(f"a node vector of this graph has {graph.total_size} entries; "
                             f"got shape {flat.shape}")
        flat.flags.writeable = False
        self.graph = graph
        self._flat = flat
        self._blocks = None
        self._missing = ""

    @classmethod
    def from_blocks(cls, graph: Graph, blocks: Sequence, missing: str = "") -> NodeVector:
        """A vector given node by node: ``blocks[i]`` has node i's entries, or is None.

        The arrays are not copied: the vector keeps read-only views of them, so whoever made
        them must not change them afterwards. A None block is an entry that was not computed;
        reading it raises `LagrangeADError` with ``missing`` as the reason.
        """
        if len(blocks) != len(graph):
            raise GraphError(f"a node vector of this graph has {len(graph)} blocks; got "
                             f"{len(blocks)}")
        vector = cls.__new__(cls)
        vector.graph = graph
        vector._flat = None
        vector._missing = missing
        shaped = []
        for i, block in enumerate(blocks):
            if block is not None:
                block = np.asarray(block, np.float64)
                if block.size != graph.sizes[i]:
                    raise GraphError(f"block {i} has {block.size} entries, but node v{i} has "
                                     f"shape {graph.shape(i)}")
                block = block.reshape(graph.shape(i))  # a new view, made read-only
                block.flags.writeable = False
            shaped.append(block)
        vector._blocks = shaped
        return vector

    @property
    def flat(self) -> np.ndarray:
        """All entries in node order, as one read-only vector."""
        if self._flat is None:
            self._require_all()
            flat = np.concatenate([np.ravel(b) for b in self._blocks]) if self._blocks \
                else np.zeros(0)
            flat.flags.writeable = False
            self._flat = flat
        return self._flat

    @property
    def complete(self) -> bool:
        """Whether every block was computed."""
        return self._blocks is None or all(b is not None for b in self._blocks)

    def blocks(self) -> list:
        """Every node's block, shaped like the node, as a list (None where not computed)."""
        if self._blocks is not None:
            return list(self._blocks)
        return [self[i] for i in range(len(self.graph))]

    def first_nonfinite(self) -> int | None:
        """The first node with a NaN or infinite entry (computed blocks only), or None."""
        if self._blocks is None:
            if all_finite(self._flat):
                return None
            bad = int(np.flatnonzero(~np.isfinite(self._flat))[0])
            return int(np.searchsorted(self.graph.offsets, bad, side="right") - 1)
        return next((i for i, b in enumerate(self._blocks)
                     if b is not None and not all_finite(b)), None)

    def _require_all(self) -> None:
        if not self.complete:
            node = next(i for i, b in enumerate(self._blocks) if b is None)
            raise LagrangeADError(f"v{node} (and possibly more) was not computed: "
                                  f"{self._missing or 'no reason given'}")

    def __getitem__(self, node: int) -> np.ndarray:
        n = len(self.graph)
        if isinstance(node, (bool, np.bool_)) or not isinstance(node, (int, np.integer)) \
                or not -n <= node < n:
            raise KeyError(f"no node {node!r} in a graph of {n} nodes")
        node = int(node) % n
        if self._blocks is not None:
            block = self._blocks[node]
            if block is None:
                raise LagrangeADError(f"v{node} was not computed: "
                                      f"{self._missing or 'no reason given'}")
            return block
        a, b = self.graph.offsets[node], self.graph.offsets[node + 1]
        return self._flat[a:b].reshape(self.graph.shape(node))

    def __iter__(self):
        return iter(range(len(self.graph)))

    def __len__(self) -> int:
        return len(self.graph)

    def __repr__(self) -> str:
        return f"NodeVector({len(self.graph)} nodes, {self.graph.total_size} entries)"
