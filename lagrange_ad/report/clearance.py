"""Checking a drawing: no edge segment may enter the box of a node it does not join.

`blocked_segments` clips every straight segment of every route against every box
(Liang-Barsky): the segment ``p + t (q - p)``, ``0 <= t <= 1``, meets the open box
``low < xy < high`` exactly when the ``t`` intervals inside the two slabs overlap.
"""

from __future__ import annotations

import numpy as np

from .layout import Layout


def blocked_segments(layout: Layout, margin: float = 0.5) -> list[tuple[int, int]]:
    """``(route index, node)`` for every edge segment that enters a box other than its ends.

    A box is shrunk by ``margin`` points first, so a segment that only touches an edge of a
    box does not count. Segments are tested by clipping them to the box (Liang-Barsky).
    """
    low = layout.centers - layout.sizes / 2 + margin
    high = layout.centers + layout.sizes / 2 - margin
    blocked = []
    for r, route in enumerate(layout.routes):
        for p, q in zip(route.points[:-1], route.points[1:]):
            hit = _segment_hits_boxes(p, q, low, high)
            for node in np.flatnonzero(hit).tolist():
                if node not in (route.parent, route.child):
                    blocked.append((r, node))
    return blocked


def _segment_hits_boxes(p: np.ndarray, q: np.ndarray, low: np.ndarray,
                        high: np.ndarray) -> np.ndarray:
    """Whether the segment p-q meets each open box ``low < xy < high``."""
    d = q - p
    t0, t1 = np.zeros(len(low)), np.ones(len(low))
    inside = np.ones(len(low), dtype=bool)
    for axis in range(2):
        if abs(d[axis]) < 1e-12:
            inside &= (p[axis] > low[:, axis]) & (p[axis] < high[:, axis])
            continue
        a = (low[:, axis] - p[axis]) / d[axis]
        b = (high[:, axis] - p[axis]) / d[axis]
        t0 = np.maximum(t0, np.minimum(a, b))
        t1 = np.minimum(t1, np.maximum(a, b))
    return inside & (t0 < t1)
