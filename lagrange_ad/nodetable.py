"""The growing columns of a graph under construction.

Nodes added one at a time (by tracing) go to two Python lists, which append fastest: the
node's *kind* (one code for its primitive, shape, parameters and arity together, since a long
trace repeats few of them) and its parents. Nodes added in batches go in as numpy chunks, which
never pass through Python objects. Freezing expands the kinds and concatenates the chunks into
the flat arrays of a `Graph`. Rewriting a node (closing a cycle) first turns everything back
into lists; it is rare.
"""

from __future__ import annotations

from bisect import bisect_right

import numpy as np

from .graph import distinct_rows


class NodeTable:
    """Per node: primitive code, shape code, parameter code and parents (CSR).

    ``kinds`` and ``parents`` are the list part, appended to in place (never replaced), so a
    tracer may keep them and append a node with two list operations; ``kind`` gives the code
    to append. Node ``i`` of the list part is ``kinds[i - tail_start]``.
    """

    def __init__(self):
        self._chunks: list[tuple[np.ndarray, ...]] = []  # (op, shape_id, param_id, counts, parents)
        self._starts: list[int] = []
        self.tail_start = 0
        self.kind_table: list[tuple[int, int, int, int]] = []  # (op, shape_id, param_id, arity)
        self._kind_index: dict[tuple, int] = {}
        self.kinds: list[int] = []
        self.parents: list[int] = []
        self._walk = (0, 0)  # (node, where its parents start): resumes sequential visits

    def __len__(self) -> int:
        return self.tail_start + len(self.kinds)

    def kind(self, op: int, shape_id: int, param_id: int, arity: int) -> int:
        """The code of a (primitive, shape, parameters, arity) combination."""
        key = (op, shape_id, param_id, arity)
        code = self._kind_index.get(key)
        if code is None:
            code = self._kind_index[key] = len(self.kind_table)
            self.kind_table.append(key)
        return code

    def append(self, kind: int, parents) -> int:
        """Add one node of a known kind; returns its index."""
        self.kinds.append(kind)
        self.parents.extend(parents)
        return len(self) - 1

    def extend(self, op: int, shape_id: int, param_id: int, rows: np.ndarray) -> None:
        """Add one node per row of ``rows`` (their parents), all of one primitive and shape."""
        self._seal()
        k = rows.shape[0]
        self._starts.append(self.tail_start)
        self._chunks.append((np.full(k, op, np.int32), np.full(k, shape_id, np.int32),
                             np.full(k, param_id, np.int32),
                             np.full(k, rows.shape[1], np.int64), rows.ravel().astype(np.int64)))
        self.tail_start += k

    def _tail(self) -> tuple[np.ndarray, ...]:
        """The list part as columns ``(op, shape_id, param_id, counts, parents)``."""
        table = np.array(self.kind_table, np.int64).reshape(-1, 4)
        codes = table[:, :3].astype(np.int32)
        kinds = np.array(self.kinds, np.int32)
        return (codes[kinds, 0], codes[kinds, 1], codes[kinds, 2], table[kinds, 3],
                np.array(self.parents, np.int64))

    def _seal(self) -> None:
        if self.kinds:
            self._starts.append(self.tail_start)
            self._chunks.append(self._tail())
            self.tail_start += len(self.kinds)
            self.kinds.clear()
            self.parents.clear()
            self._walk = (0, 0)

    def _unseal(self) -> None:
        """Everything back into the lists (before a node is rewritten)."""
        if not self._chunks:
            return
        self._seal()
        op, shape_id, param_id, ptr, parents = self.arrays()
        counts = np.diff(ptr)
        codes = {combo: self.kind(*combo) for combo in distinct_rows(op, shape_id, param_id,
                                                                      counts)}
        self._chunks, self._starts, self.tail_start = [], [], 0
        self.kinds[:] = [codes[combo] for combo in zip(op.tolist(), shape_id.tolist(),
                                                       param_id.tolist(), counts.tolist())]
        self.parents[:] = parents.tolist()
        self._walk = (0, 0)

    def _column(self, node: int, column: int) -> int:
        if node >= self.tail_start:
            return self.kind_table[self.kinds[node - self.tail_start]][column]
        c = bisect_right(self._starts, node) - 1
        return int(self._chunks[c][column][node - self._starts[c]])

    def shape_id(self, node: int) -> int:
        """The shape code of one node."""
        return self._column(node, 1)

    def shape_ids(self) -> np.ndarray:
        """The shape codes of all nodes."""
        return np.concatenate([chunk[1] for chunk in self._chunks] + [self._tail()[1]])

    def _parent_start(self, node: int) -> int:
        """Where the parents of list node ``node`` start in ``parents`` (resumes the last walk)."""
        at, start = self._walk if self._walk[0] <= node else (0, 0)
        table, kinds = self.kind_table, self.kinds
        for i in range(at, node):
            start += table[kinds[i]][3]
        self._walk = (node, start)
        return start

    def node(self, node: int) -> tuple[int, int, list[int]]:
        """``(op, param_id, parents)`` of one node (cheap when visited in increasing order)."""
        self._unseal()
        op, _, param_id, arity = self.kind_table[self.kinds[node]]
        start = self._parent_start(node)
        return op, param_id, self.parents[start:start + arity]

    def rewrite(self, node: int, op: int, param_id: int, parents) -> None:
        """Give an existing node a new primitive, parameters and parents."""
        self._unseal()
        shape_id, arity = self.kind_table[self.kinds[node]][1::2]
        start = self._parent_start(node)
        self.parents[start:start + arity] = list(parents)
        self.kinds[node] = self.kind(op, shape_id, param_id, len(parents))

    def pop(self) -> tuple[int, int, list[int]]:
        """Remove the last node; returns its ``(op, param_id, parents)``."""
        self._unseal()
        op, _, param_id, arity = self.kind_table[self.kinds.pop()]
        first = len(self.parents) - arity
        parents = self.parents[first:]
        del self.parents[first:]
        if self._walk[0] > len(self.kinds):
            self._walk = (0, 0)
        return op, param_id, parents

    def arrays(self) -> tuple[np.ndarray, ...]:
        """``(op, shape_id, param_id, parent_ptr, parent_idx)`` of every node."""
        tail = self._tail()
        columns = [np.concatenate([chunk[k] for chunk in self._chunks] + [tail[k]])
                   for k in range(5)] if self._chunks else tail
        ptr = np.zeros(columns[3].size + 1, np.int64)
        np.cumsum(columns[3], out=ptr[1:])
        return columns[0], columns[1], columns[2], ptr, columns[4]
