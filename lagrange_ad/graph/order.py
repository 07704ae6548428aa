"""Order and structure of a graph given by its parent lists: levels, topological order and
strongly connected components.

Each function reads the parent lists in CSR form (node i's parents are
``idx[ptr[i]:ptr[i + 1]]``) and is a loop with an explicit work list, never a recursion, so a
chain of a million nodes is no harder than a short one. The loops read plain Python lists,
since single entries of numpy arrays are slow to read.
"""

from __future__ import annotations

import numpy as np


def children(ptr: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The transpose of the parent lists: children in CSR form ``(child_ptr, child_idx)``."""
    n = ptr.size - 1
    owner = np.repeat(np.arange(n, dtype=np.int64), np.diff(ptr))
    order = np.argsort(idx, kind="stable")
    child_ptr = np.concatenate([[0], np.cumsum(np.bincount(idx, minlength=n))]).astype(np.int64)
    return child_ptr, owner[order]


def parents_precede_children(ptr: np.ndarray, idx: np.ndarray) -> bool:
    """Whether every parent has a smaller index than its child (index order is topological)."""
    owner = np.repeat(np.arange(ptr.size - 1, dtype=np.int64), np.diff(ptr))
    return bool(np.all(idx < owner))


def levels(ptr: np.ndarray, idx: np.ndarray, in_index_order: bool) -> np.ndarray | None:
    """Longest distance from a source for every node, or None when there is a cycle.

    ``level_i = 0`` for a node without parents, else ``1 + max_{j in Pa(i)} level_j``. With
    ``in_index_order`` (parents precede children) one pass in index order computes it;
    otherwise Kahn's algorithm visits each node once all its parents are done, and a node
    never visited lies on or below a cycle. O(N + E) either way.
    """
    n = ptr.size - 1
    ptr_list, idx_list = ptr.tolist(), idx.tolist()
    level = [0] * n
    if in_index_order:
        for i in range(n):
            for e in range(ptr_list[i], ptr_list[i + 1]):
                if level[idx_list[e]] >= level[i]:
                    level[i] = level[idx_list[e]] + 1
        return np.array(level, np.int64)
    child_ptr, child_idx = (a.tolist() for a in children(ptr, idx))
    waiting = [ptr_list[i + 1] - ptr_list[i] for i in range(n)]  # parents not yet done
    ready = [i for i in range(n) if waiting[i] == 0]
    done = 0
    while ready:
        j = ready.pop()
        done += 1
        for e in range(child_ptr[j], child_ptr[j + 1]):
            i = child_idx[e]
            if level[j] >= level[i]:
                level[i] = level[j] + 1
            waiting[i] -= 1
            if waiting[i] == 0:
                ready.append(i)
    return np.array(level, np.int64) if done == n else None


def strongly_connected_components(ptr: np.ndarray, idx: np.ndarray) -> list[np.ndarray]:
    """Strongly connected components, each sorted, in topological order of the condensation.

    Tarjan's algorithm with an explicit stack. It follows edges from a child to its parents,
    so a component is emitted after every component it depends on.
    """
    n = ptr.size - 1
    ptr_list, idx_list = ptr.tolist(), idx.tolist()
    index = [-1] * n  # discovery time of each node, -1 before it is reached
    low = [0] * n  # smallest discovery time reachable from the node's subtree
    on_stack = [False] * n
    stack: list[int] = []
    components: list[np.ndarray] = []
    counter = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, ptr_list[root])]  # (node, next edge to follow)
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            v, edge = work[-1]
            if edge < ptr_list[v + 1]:
                work[-1] = (v, edge + 1)
                w = idx_list[edge]
                if index[w] < 0:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, ptr_list[w]))
                elif on_stack[w]:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                above = work[-1][0]
                low[above] = min(low[above], low[v])
            if low[v] == index[v]:
                members = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    members.append(w)
                    if w == v:
                        break
                components.append(np.array(sorted(members), np.int64))
    return components
