"""The growing columns of a graph under construction.

Nodes added one at a time (by tracing) go to Python lists, which append fastest; nodes added
in batches go in as numpy chunks, which never pass through Python objects. Freezing
concatenates the chunks into the flat arrays of a `Graph`. Rewriting a node (closing a cycle)
first turns everything back into lists; it is rare.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np


class NodeTable:
    """Per node: primitive code, shape code, parameter code and parents (CSR)."""

    def __init__(self):
        self._chunks: list[tuple[np.ndarray, ...]] = []  # (op, shape_id, param_id, counts, parents)
        self._starts: list[int] = []
        self._tail_start = 0
        self._op: list[int] = []
        self._shape_id: list[int] = []
        self._param_id: list[int] = []
        self._counts: list[int] = []
        self._parents: list[int] = []

    def __len__(self) -> int:
        return self._tail_start + len(self._op)

    def append(self, op: int, shape_id: int, param_id: int, parents) -> int:
        """Add one node; returns its index."""
        self._op.append(op)
        self._shape_id.append(shape_id)
        self._param_id.append(param_id)
        self._counts.append(len(parents))
        self._parents.extend(parents)
        return len(self) - 1

    def extend(self, op: int, shape_id: int, param_id: int, rows: np.ndarray) -> None:
        """Add one node per row of ``rows`` (their parents), all of one primitive and shape."""
        self._seal()
        k = rows.shape[0]
        self._starts.append(self._tail_start)
        self._chunks.append((np.full(k, op, np.int32), np.full(k, shape_id, np.int32),
                             np.full(k, param_id, np.int32),
                             np.full(k, rows.shape[1], np.int64), rows.ravel().astype(np.int64)))
        self._tail_start += k

    def _seal(self) -> None:
        if self._op:
            self._starts.append(self._tail_start)
            self._chunks.append((np.array(self._op, np.int32), np.array(self._shape_id, np.int32),
                                 np.array(self._param_id, np.int32),
                                 np.array(self._counts, np.int64),
                                 np.array(self._parents, np.int64)))
            self._tail_start += len(self._op)
            self._op, self._shape_id, self._param_id = [], [], []
            self._counts, self._parents = [], []

    def _unseal(self) -> None:
        """Everything back into the lists (before a node is rewritten)."""
        if not self._chunks:
            return
        self._seal()
        op, shape_id, param_id, ptr, parents = self.arrays()
        self._chunks, self._starts, self._tail_start = [], [], 0
        self._op, self._shape_id = op.tolist(), shape_id.tolist()
        self._param_id, self._parents = param_id.tolist(), parents.tolist()
        self._counts = np.diff(ptr).tolist()

    def shape_id(self, node: int) -> int:
        """The shape code of one node."""
        if node >= self._tail_start:
            return self._shape_id[node - self._tail_start]
        c = bisect_right(self._starts, node) - 1
        return int(self._chunks[c][1][node - self._starts[c]])

    def op_of(self, node: int) -> int:
        """The primitive code of the last node or any node in the list part."""
        return self._op[node - self._tail_start] if node >= self._tail_start \
            else int(self.arrays()[0][node])

    def param_of(self, node: int) -> int:
        """The parameter code of one node."""
        return self._param_id[node - self._tail_start] if node >= self._tail_start \
            else int(self.arrays()[2][node])

    def shape_ids(self) -> np.ndarray:
        """The shape codes of all nodes."""
        parts = [chunk[1] for chunk in self._chunks] + [np.array(self._shape_id, np.int32)]
        return np.concatenate(parts)

    def node(self, node: int) -> tuple[int, int, list[int]]:
        """``(op, param_id, parents)`` of one node."""
        self._unseal()
        start = sum(self._counts[:node])
        return (self._op[node], self._param_id[node],
                self._parents[start:start + self._counts[node]])

    def rewrite(self, node: int, op: int, param_id: int, parents) -> None:
        """Give an existing node a new primitive, parameters and parents."""
        self._unseal()
        start = sum(self._counts[:node])
        self._parents[start:start + self._counts[node]] = list(parents)
        self._counts[node] = len(parents)
        self._op[node] = op
        self._param_id[node] = param_id

    def pop(self) -> tuple[int, int, list[int]]:
        """Remove the last node; returns its ``(op, param_id, parents)``."""
        self._unseal()
        count = self._counts.pop()
        parents = self._parents[len(self._parents) - count:]
        del self._parents[len(self._parents) - count:]
        self._shape_id.pop()
        return self._op.pop(), self._param_id.pop(), parents

    def arrays(self) -> tuple[np.ndarray, ...]:
        """``(op, shape_id, param_id, parent_ptr, parent_idx)`` of every node."""
        tail = (np.array(self._op, np.int32), np.array(self._shape_id, np.int32),
                np.array(self._param_id, np.int32), np.array(self._counts, np.int64),
                np.array(self._parents, np.int64))
        columns = [np.concatenate([chunk[k] for chunk in self._chunks] + [tail[k]])
                   for k in range(5)]
        ptr = np.zeros(columns[3].size + 1, np.int64)
        np.cumsum(columns[3], out=ptr[1:])
        return columns[0], columns[1], columns[2], ptr, columns[4]
