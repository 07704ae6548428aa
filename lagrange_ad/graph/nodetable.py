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


def distinct_rows(*columns: np.ndarray) -> list[tuple[int, ...]]:
    """The distinct tuples ``(c0[k], c1[k], ...)`` of non-negative integer columns, sorted.

    One integer key per row and a 1-D unique: far faster than ``np.unique(axis=...)``.
    """
    if not columns[0].size:
        return []
    bases = [int(c.max()) + 1 for c in columns]
    key = np.zeros(columns[0].size, np.int64)
    for column, base in zip(columns, bases):
        key = key * base + column
    rows = []
    for value in np.unique(key).tolist():
        digits = []
        for base in reversed(bases):
            value, digit = divmod(value, base)
            digits.append(digit)
        rows.append(tuple(reversed(digits)))
    return rows


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
        """Add one node per row of ``rows`` (their parents), all of one primitive and shape.

        The table keeps ``rows`` itself (an int64 array the caller no longer changes); the
        columns shared by the whole batch are stored as one value each, not one per node.
        """
        self._seal()
        k, arity = rows.shape
        self._starts.append(self.tail_start)
        self._chunks.append((_repeated(op, k, np.int32), _repeated(shape_id, k, np.int32),
                             _repeated(param_id, k, np.int32), _repeated(arity, k, np.int64),
                             np.ascontiguousarray(rows, np.int64).reshape(-1)))
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
        """``(op, shape_id, param_id, parent_ptr, parent_idx)`` of every node, freshly made.

        Each column is written once, chunk by chunk, into an array of its final size.
        """
        chunks = self._chunks + [self._tail()]
        n = sum(chunk[0].size for chunk in chunks)
        columns = [np.empty(n, np.int32) for _ in range(3)]
        ptr = np.zeros(n + 1, np.int64)
        idx = np.empty(sum(chunk[4].size for chunk in chunks), np.int64)
        node = edge = 0
        for op, shape_id, param_id, counts, parents in chunks:
            k = op.size
            for column, values in zip(columns, (op, shape_id, param_id)):
                column[node:node + k] = values
            pointers = ptr[node + 1:node + k + 1]
            if k and counts.strides == (0,):
                # a batch of one arity: its parent pointers step evenly, no running sum needed
                pointers[:] = np.arange(1, k + 1, dtype=np.int64) * counts[0]
            else:
                np.cumsum(counts, out=pointers)
            pointers += edge
            idx[edge:edge + parents.size] = parents
            node, edge = node + k, edge + parents.size
        return columns[0], columns[1], columns[2], ptr, idx


def _repeated(value: int, k: int, dtype) -> np.ndarray:
    """``value`` k times, as a read-only view of one number (no memory per node)."""
    return np.broadcast_to(np.array(value, dtype), (k,))
