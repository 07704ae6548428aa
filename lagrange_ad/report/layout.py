"""A layered drawing of a directed graph in which no edge passes through a node.

The steps are Sugiyama's (Sugiyama, Tagawa and Toda 1981), each in its simplest form:

1. *Orientation.* Nodes get a position in a given order (topological for a DAG; the
   condensation's order for a cyclic graph). An edge that points back in that order is laid
   out reversed and drawn with its arrow at its true head, so every laid-out edge goes from a
   lower level to a higher one.
2. *Levels.* ``level(v) = 1 + max level(u)`` over laid-out edges ``u -> v``; then every node
   that is not pinned (inputs stay in level 0) moves as late as its children allow
   (``min level(child) - 1``), which shortens edges such as ``v4[1]`` feeding a node ten
   levels later.
3. *Lanes.* An edge that skips levels runs through one lane (a dummy node) per level it
   crosses; all long edges out of one node share its lanes and branch off where their heads
   are.
4. *Order.* Barycenter sweeps reorder each level by the mean position of its neighbours in
   the level before (or after); the order with the fewest crossings is kept.
5. *Placement.* In each level, nodes and lanes are stacked with gaps; their offsets follow
   their neighbours' means under the minimum-distance constraints (an isotonic regression,
   solved by pooling adjacent violators).
6. *Routes.* An edge leaves its tail sideways at a port, runs straight to the edge of the
   tail's column, crosses the gap between columns diagonally, runs along each lane through
   the columns it passes, and enters its head the same way. Inside a column it stays at the
   height of its own node or lane, so it cannot meet another node's box;
   `lagrange_ad.report.clearance.blocked_segments` checks exactly that.

All lengths are in typographic points. ``direction`` ``"LR"`` puts levels left to right,
``"TB"`` top to bottom.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BOX_GAP = 14.0      # between stacked boxes of one level
LANE_GAP = 8.0      # around a lane
LEVEL_GAP = 36.0    # the narrowest gap between two columns
SLANT = 0.12        # gap added per point of cross-axis displacement, up to MAX_GAP
MAX_GAP = 140.0
SWEEPS = 8
DEEP = 8            # more levels than this are laid out top to bottom


@dataclass(frozen=True)
class Route:
    """One edge drawn as a polyline from its tail (``parent``) to its head (``child``)."""

    parent: int
    child: int
    points: np.ndarray  # (k, 2) x, y in points
    back: bool          # drawn against the levels (an edge closing a cycle)


@dataclass(frozen=True)
class Layout:
    """Box centers and sizes (x right, y up, in points), edge routes and the bounding box."""

    centers: np.ndarray
    sizes: np.ndarray
    levels: np.ndarray
    routes: tuple[Route, ...]
    extent: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    direction: str


def layered_layout(sizes: np.ndarray, edges: Sequence[tuple[int, int]],
                   order: Sequence[int] | None = None, pinned: Sequence[int] = (),
                   direction: str | None = None) -> Layout:
    """Lay out ``len(sizes)`` boxes of the given ``(width, height)`` with ``edges`` routed.

    Parameters
    ----------
    sizes : array of shape (n, 2)
        Width and height of every box, in points.
    edges : sequence of (parent, child)
        Drawn from parent to child; repeated pairs are drawn once per pair.
    order : sequence of int, optional
        A permutation of the nodes; edges against it are cycle edges (default: index order).
    pinned : sequence of int
        Nodes kept in the first level (a graph's inputs).
    direction : ``"LR"``, ``"TB"`` or None
        Levels left to right or top to bottom; by default ``"LR"`` up to `DEEP` levels.
    """
    sizes = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    n = len(sizes)
    pos = np.empty(n, dtype=np.int64)
    pos[np.asarray(range(n) if order is None else order, dtype=np.int64)] = np.arange(n)
    # laid-out edges u -> v with pos[u] < pos[v]; self-loops are drawn apart
    laid, loops = [], []
    for p, c in edges:
        if p == c:
            loops.append(p)
        elif pos[p] < pos[c]:
            laid.append((p, c, False))
        else:
            laid.append((c, p, True))
    level = _levels(n, laid, pos, pinned)
    if direction is None:
        direction = "LR" if int(level.max(initial=0)) + 1 <= DEEP else "TB"
    lanes, chains = _lanes(n, laid, level)
    total = n + len(lanes)
    lvl = np.concatenate([level, np.array([k for _, k in lanes], dtype=np.int64)])
    hops = _hops(laid, chains, level)
    layers = _order(total, lvl, hops, pos, lanes)
    # cross-axis extent of every element; rank-axis extent of every column
    rank_ext = sizes[:, 0] if direction == "LR" else sizes[:, 1]
    cross_ext = np.concatenate([sizes[:, 1] if direction == "LR" else sizes[:, 0],
                                np.zeros(len(lanes))])
    cross = _place(layers, hops, cross_ext, n)
    widths = np.array([max([rank_ext[i] for i in layer if i < n], default=0.0)
                       for layer in layers])
    centers_rank = _columns(layers, hops, cross, widths)
    links = _links(laid, chains, level)
    ports_out, ports_in = _ports(links, cross, cross_ext)
    routes = []
    for (u, v, back), path, copy in zip(laid, _paths(laid, chains, level), _copies(laid, level)):
        out, into = ports_out[u, path[1], copy], ports_in[v, path[-2], copy]
        pts = [(centers_rank[level[u]] + rank_ext[u] / 2, cross[u] + out),
               (centers_rank[level[u]] + widths[level[u]] / 2, cross[u] + out)]
        for d in path[1:-1]:
            k = lvl[d]
            pts += [(centers_rank[k] - widths[k] / 2, cross[d]),
                    (centers_rank[k] + widths[k] / 2, cross[d])]
        pts += [(centers_rank[level[v]] - widths[level[v]] / 2, cross[v] + into),
                (centers_rank[level[v]] - rank_ext[v] / 2, cross[v] + into)]
        xy = _to_xy(np.array(pts), direction)
        xy = _drop_repeats(xy)
        routes.append(Route(v if back else u, u if back else v, xy[::-1] if back else xy, back))
    centers = _to_xy(np.column_stack([centers_rank[level], cross[:n]]), direction)
    for i in loops:
        x, y = centers[i]
        w, h = sizes[i] / 2
        lift = 12.0
        loop = np.array([(x + w / 3, y + h), (x + w / 3, y + h + lift), (x - w / 3, y + h + lift),
                         (x - w / 3, y + h)])
        routes.append(Route(i, i, loop, True))
    everything = np.vstack([centers - sizes / 2, centers + sizes / 2]
                           + [r.points for r in routes])
    extent = (float(everything[:, 0].min()), float(everything[:, 0].max()),
              float(everything[:, 1].min()), float(everything[:, 1].max()))
    return Layout(centers, sizes, level, tuple(routes), extent, direction)


def _levels(n: int, laid, pos: np.ndarray, pinned) -> np.ndarray:
    """Longest path from a source in position order, then as late as the children allow."""
    children: list[list[int]] = [[] for _ in range(n)]
    parents: list[list[int]] = [[] for _ in range(n)]
    for u, v, _ in laid:
        children[u].append(v)
        parents[v].append(u)
    by_pos = np.argsort(pos, kind="stable").tolist()
    level = [0] * n
    for v in by_pos:
        if parents[v]:
            level[v] = 1 + max(level[u] for u in parents[v])
    fixed = [False] * n
    for i in pinned:
        fixed[int(i)] = True
    for v in reversed(by_pos):
        if children[v] and not fixed[v]:
            level[v] = min(level[c] for c in children[v]) - 1
    return np.array(level, dtype=np.int64)


def _lanes(n: int, laid, level: np.ndarray):
    """One lane per level skipped, shared by all long edges out of one tail.

    Returns ``lanes`` (a list of ``(tail, level)``, lane ``n + k`` for entry k) and
    ``chains[tail]``: ``{level: lane}``.
    """
    reach: dict[int, int] = {}
    for u, v, _ in laid:
        if level[v] > level[u] + 1:
            reach[u] = max(reach.get(u, 0), int(level[v]))
    lanes: list[tuple[int, int]] = []
    chains: dict[int, dict[int, int]] = {}
    for u in sorted(reach):
        chains[u] = {}
        for k in range(int(level[u]) + 1, reach[u]):
            chains[u][k] = n + len(lanes)
            lanes.append((u, k))
    return lanes, chains


def _paths(laid, chains, level) -> list[list[int]]:
    """The elements each laid-out edge passes: tail, its lanes, head."""
    paths = []
    for u, v, _ in laid:
        lanes = [chains[u][k] for k in range(int(level[u]) + 1, int(level[v]))]
        paths.append([u, *lanes, v])
    return paths


def _hops(laid, chains, level) -> list[tuple[int, int]]:
    """Distinct links between elements of adjacent levels (in first-seen order)."""
    seen: dict[tuple[int, int], None] = {}
    for path in _paths(laid, chains, level):
        for a, b in zip(path, path[1:]):
            seen.setdefault((a, b), None)
    return list(seen)


def _copies(laid, level) -> list[int]:
    """For each laid-out edge, how many direct edges between the same two nodes came before it.

    Parallel direct edges (``x * x``, or an edge and its way back around a cycle) get ports of
    their own; long edges share their tail's lanes and so one port.
    """
    seen: dict[tuple[int, int], int] = {}
    copies = []
    for u, v, _ in laid:
        if level[v] == level[u] + 1:
            copies.append(seen.get((u, v), 0))
            seen[(u, v)] = copies[-1] + 1
        else:
            copies.append(0)
    return copies


def _links(laid, chains, level) -> list[tuple[int, int, int]]:
    """Distinct ``(tail, head, copy)`` links between elements of adjacent levels."""
    seen: dict[tuple[int, int, int], None] = {}
    for path, copy in zip(_paths(laid, chains, level), _copies(laid, level)):
        for a, b in zip(path, path[1:]):
            seen.setdefault((a, b, copy), None)
    return list(seen)


def _crossings(layers, hops, index) -> int:
    total = 0
    by_level: dict[int, list[tuple[int, int]]] = {}
    level_of = {i: k for k, layer in enumerate(layers) for i in layer}
    for a, b in hops:
        by_level.setdefault(level_of[a], []).append((index[a], index[b]))
    for pairs in by_level.values():
        pairs = np.array(pairs)
        a, b = pairs[:, 0], pairs[:, 1]
        total += int(np.sum((a[:, None] < a[None, :]) & (b[:, None] > b[None, :])))
    return total


def _order(total: int, lvl: np.ndarray, hops, pos: np.ndarray, lanes) -> list[list[int]]:
    """Levels as lists of elements, reordered by barycenter sweeps (fewest crossings kept)."""
    key = np.concatenate([pos, [pos[u] + 0.5 for u, _ in lanes]]).astype(np.float64)
    layers = [[] for _ in range(int(lvl.max()) + 1 if total else 0)]
    for i in sorted(range(total), key=lambda i: key[i]):
        layers[lvl[i]].append(i)
    up: list[list[int]] = [[] for _ in range(total)]
    down: list[list[int]] = [[] for _ in range(total)]
    for a, b in hops:
        down[a].append(b)
        up[b].append(a)
    index = np.zeros(total)

    def renumber():
        for layer in layers:
            for k, i in enumerate(layer):
                index[i] = k

    renumber()
    best, best_layers = _crossings(layers, hops, index), [list(layer) for layer in layers]
    for sweep in range(SWEEPS):
        downward = sweep % 2 == 0
        sequence = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for k in sequence:
            neighbours = up if downward else down
            center = {i: (np.mean([index[j] for j in neighbours[i]]) if neighbours[i]
                          else index[i]) for i in layers[k]}
            layers[k].sort(key=lambda i: (center[i], index[i]))
            for m, i in enumerate(layers[k]):
                index[i] = m
        count = _crossings(layers, hops, index)
        if count < best:
            best, best_layers = count, [list(layer) for layer in layers]
        if best == 0:
            break
    return best_layers


def _place(layers, hops, extent: np.ndarray, n: int) -> np.ndarray:
    """Cross-axis centers: stacked with gaps, pulled towards the neighbours' mean."""
    total = len(extent)
    cross = np.zeros(total)
    gaps = []
    for layer in layers:
        sep = [0.0] + [(extent[a] + extent[b]) / 2
                       + (BOX_GAP if a < n and b < n else LANE_GAP)
                       for a, b in zip(layer, layer[1:])]
        gaps.append(np.cumsum(sep))
        cross[layer] = gaps[-1] - gaps[-1][-1] / 2
    # a lane follows only its own chain (the tail and the lanes before and after it), so that
    # a long edge runs straight; a node follows all its neighbours
    neighbours: list[list[int]] = [[] for _ in range(total)]
    for a, b in hops:
        if a < n or b >= n:
            neighbours[a].append(b)
        neighbours[b].append(a)
    for sweep in range(SWEEPS):
        sequence = range(len(layers)) if sweep % 2 == 0 else range(len(layers) - 1, -1, -1)
        for k in sequence:
            layer = layers[k]
            want = np.array([np.mean(cross[neighbours[i]]) if neighbours[i] else cross[i]
                             for i in layer])
            # x_j - offset_j must not decrease: isotonic regression of want - offset
            cross[layer] = _isotonic(want - gaps[k]) + gaps[k]
    return cross


def _isotonic(y: np.ndarray) -> np.ndarray:
    """The non-decreasing sequence nearest to ``y`` in least squares (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for value in y.tolist():
        blocks.append([value, 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, c2), (m1, c1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * c1 + m2 * c2) / (c1 + c2), c1 + c2])
    return np.repeat([m for m, _ in blocks], [int(c) for _, c in blocks])


def _columns(layers, hops, cross: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Rank-axis centers of the levels: gaps widen with the slant of the edges crossing them."""
    level_of = {i: k for k, layer in enumerate(layers) for i in layer}
    slant = np.zeros(len(layers))
    for a, b in hops:
        k = level_of[a]
        slant[k] = max(slant[k], abs(cross[b] - cross[a]))
    gaps = np.minimum(LEVEL_GAP + SLANT * slant, MAX_GAP)[:-1]
    steps = (widths[:-1] + widths[1:]) / 2 + gaps
    return np.concatenate([[0.0], np.cumsum(steps)])


def _ports(links, cross: np.ndarray, extent: np.ndarray):
    """Offsets of each link's port on its tail and on its head, spread in cross-axis order."""
    outs: dict[int, list[tuple[int, int]]] = {}
    ins: dict[int, list[tuple[int, int]]] = {}
    for a, b, copy in links:
        outs.setdefault(a, []).append((b, copy))
        ins.setdefault(b, []).append((a, copy))
    out_off: dict[tuple[int, int, int], float] = {}
    in_off: dict[tuple[int, int, int], float] = {}
    for table, offsets in ((outs, out_off), (ins, in_off)):
        for node, others in table.items():
            others = sorted(others, key=lambda other: (cross[other[0]], other[1]))
            spread = np.linspace(-0.35, 0.35, len(others)) if len(others) > 1 else [0.0]
            for (other, copy), s in zip(others, spread):
                offsets[(node, other, copy)] = float(s) * extent[node]
    return out_off, in_off


def _to_xy(rank_cross: np.ndarray, direction: str) -> np.ndarray:
    """(rank, cross) to (x, y): levels left to right, or top to bottom."""
    if direction == "LR":
        return np.column_stack([rank_cross[:, 0], -rank_cross[:, 1]])
    return np.column_stack([rank_cross[:, 1], -rank_cross[:, 0]])


def _drop_repeats(points: np.ndarray) -> np.ndarray:
    keep = np.ones(len(points), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(points, axis=0)) > 1e-9, axis=1)
    return points[keep]
