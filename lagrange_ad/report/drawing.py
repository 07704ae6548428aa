"""Drawings of a computation graph: every node in layers, or large graphs collapsed by level.

`draw` lays the graph out with `report.layout` (levels left to right, or top to bottom for
deep graphs) and draws it with matplotlib: inputs blue, the output orange, edges that close a
cycle dashed red. Graphs with more than `MAX_NODES` nodes are drawn collapsed: consecutive
levels are grouped into at most `MAX_BANDS` boxes, each with its node and entry counts and its
most frequent primitives, and edges between boxes carry their counts; a graph whose nodes
carry scopes (`la.scope`, a torch module's path) is collapsed into one box per scope instead,
so that a transformer layer reads as its attention, norms and feed-forward parts.
``full=True`` draws every node; the nodes of one scope share a colour (a legend names them),
and in DOT they share a cluster. `render` writes SVG or PNG with Graphviz's ``dot`` when it
is installed and with matplotlib otherwise; `dot_text` is the DOT source either way.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from collections.abc import Mapping

import numpy as np

from ..errors import LagrangeADError
from ..graph import export
from .formatting import count
from .layout import DEEP, Layout, layered_layout
from .optional import require_module

MAX_NODES = 60      # larger graphs are drawn collapsed unless full=True
MAX_FULL = 2000     # more nodes than this are never drawn one by one
MAX_BANDS = 12      # boxes of a collapsed drawing
FONT = 7.5          # points, monospace
PAD = 5.0
COLORS = {"input": "#c6dbef", "output": "#fdd0a2", "node": "#eeeeee", "band": "#e5e5f0"}
COLLAPSED_NOTE = ("collapsed: one box per group of levels; draw every node with "
                  "full=True (lagrange-ad show --full)")
SCOPED_NOTE = ("collapsed: one box per scope; draw every node with full=True "
               "(lagrange-ad show --full)")
# the fill of each scope's nodes in a full drawing, in order of first appearance (then again)
SCOPE_COLORS = ("#d9f0d3", "#fde0ef", "#fff2ae", "#e6f5c9", "#f4cae4", "#cbd5e8", "#fdcdac",
                "#b3e2cd", "#f1e2cc", "#ccebc5")


def node_text(graph, i: int, label: str | None = None) -> str:
    """``v5 = v1 * v4``, the shape of an array node, and ``label`` below."""
    equation, _, comment = graph.describe(i).partition("  #")
    lines = [equation] + ([comment.strip()] if comment.strip() else [])
    return "\n".join(lines + ([str(label)] if label else []))


def box_size(text: str, font: float = FONT) -> tuple[float, float]:
    """Width and height in points of a monospace label with padding."""
    lines = text.splitlines() or [""]
    return (0.6 * font * max(len(line) for line in lines) + 2 * PAD,
            1.25 * font * len(lines) + 2 * PAD)


def node_levels(graph) -> np.ndarray:
    """Levels of a DAG; for a cyclic graph, longest paths in the condensation's order."""
    if graph.is_acyclic:
        return np.asarray(graph.levels())
    order = np.concatenate(graph.strongly_connected_components())
    pos = np.empty(len(graph), dtype=np.int64)
    pos[order] = np.arange(len(graph))
    ptr, idx = graph.parent_ptr.tolist(), graph.parent_idx.tolist()
    level = [0] * len(graph)
    for i in order.tolist():
        before = [level[j] for j in idx[ptr[i]:ptr[i + 1]] if pos[j] < pos[i]]
        level[i] = 1 + max(before) if before else 0
    return np.array(level, dtype=np.int64)


def graph_layout(graph, labels: Mapping[int, str] | None = None) -> tuple[Layout, list[str]]:
    """The layered layout of every node, and the text of each box."""
    texts = [node_text(graph, i, (labels or {}).get(i)) for i in range(len(graph))]
    sizes = np.array([box_size(t) for t in texts])
    edges = [(int(j), i) for i in range(len(graph)) for j in graph.parents(i)]
    layout = layered_layout(sizes, edges, node_order(graph), pinned=list(graph.inputs))
    return layout, texts


def collapsed(graph, max_bands: int = MAX_BANDS):
    """Groups of consecutive levels: ``(texts, edges)`` with ``edges[(a, b)] = count``.

    Only edges between neighbouring groups are drawn (``b = a + 1``, or ``b = a - 1`` for an
    edge that closes a cycle); each group's text counts the edges inside it and those that
    reach it from further back, so that the drawing stays a ladder of boxes.
    """
    level = node_levels(graph)
    levels = int(level.max()) + 1
    bands = min(levels, max_bands)
    band = level * bands // levels
    owner = np.repeat(np.arange(len(graph)), np.diff(graph.parent_ptr))
    tail, head = band[graph.parent_idx], band[owner]
    inner = np.bincount(head[tail == head], minlength=bands)
    far = np.bincount(head[np.abs(head - tail) > 1], minlength=bands)
    near = np.abs(head - tail) == 1
    pairs, counts = np.unique(np.column_stack([tail, head])[near], axis=0, return_counts=True)
    names = np.asarray(graph.op_names, dtype=object)
    sizes = np.asarray(graph.sizes)
    texts = []
    for b in range(bands):
        members = np.flatnonzero(band == b)
        first, last = int(level[members].min()), int(level[members].max())
        span = f"level {count(first)}" if first == last \
            else f"levels {count(first)}-{count(last)}"
        ops, freq = np.unique(graph.op[members], return_counts=True)
        top = np.argsort(-freq, kind="stable")
        kinds = ", ".join(f"{names[ops[k]]} {count(int(freq[k]))}" for k in top[:3])
        more = f", {len(ops) - 3} more kinds" if len(ops) > 3 else ""
        lines = [f"{span}: {count(members.size)} nodes, {count(int(sizes[members].sum()))} "
                 f"entries", kinds + more, f"{count(int(inner[b]))} edges inside"]
        if far[b]:
            lines.append(f"{count(int(far[b]))} edges from boxes further away")
        if graph.output in members:
            lines.append(f"output v{graph.output}")
        texts.append("\n".join(lines))
    return texts, {(int(a), int(b)): int(c) for (a, b), c in zip(pairs, counts)}


def scope_groups(graph) -> tuple[list[str], np.ndarray, list[str]]:
    """Groups of nodes for a drawing by scope: ``(paths, group of each node, titles)``.

    A group is a run of consecutive nodes of one scope path, so that a scope whose work is
    interrupted by another's (a layer's residual sums between its attention and its norms,
    the inputs and the loss outside every scope) is drawn as one box per part and the boxes
    follow the computation. Groups come in the order of their first node; a title is the path
    (``"inputs"`` or ``"(outside every scope)"`` for nodes outside every scope) with
    ``(part k of n)`` when the scope has several parts.
    """
    keys, runs, previous = [], {}, None
    for i in range(len(graph)):
        path = graph.scopes.get(i, "")
        if path != previous:
            runs[path] = runs.get(path, 0) + 1
        keys.append((path, runs[path]))
        previous = path
    index = {key: k for k, key in enumerate(dict.fromkeys(keys))}
    group = np.array([index[key] for key in keys], np.int64)
    titles = []
    for (path, run), k in index.items():
        if not path:
            first = int(np.argmax(group == k))
            titles.append("inputs" if first < graph.n_inputs else "(outside every scope)")
        else:
            titles.append(path + (f" (part {run} of {runs[path]})" if runs[path] > 1 else ""))
    return [path for path, _ in index], group, titles


def collapsed_by_scope(graph):
    """One box per scope (`scope_groups`): ``(texts, edges, clusters, order)``, with
    ``edges[(a, b)] = count``.

    A box counts its nodes and entries and names its most frequent primitives; an edge counts
    the graph's edges from one scope's nodes to another's. ``clusters`` gives each box's
    enclosing DOT cluster: its own scope when that scope holds other boxes (its parts, its
    sub-scopes), else the scope that encloses it. ``order`` lists the boxes by their first
    node in topological order, which is how they are laid out.
    """
    paths, group, titles = scope_groups(graph)
    owner = np.repeat(np.arange(len(graph)), np.diff(graph.parent_ptr))
    tail, head = group[graph.parent_idx], group[owner]
    across = tail != head
    pairs, counts = np.unique(np.column_stack([tail, head])[across], axis=0, return_counts=True)
    names = np.asarray(graph.op_names, dtype=object)
    sizes = np.asarray(graph.sizes)
    texts = []
    for k, title in enumerate(titles):
        members = np.flatnonzero(group == k)
        ops, freq = np.unique(graph.op[members], return_counts=True)
        top = np.argsort(-freq, kind="stable")
        kinds = ", ".join(f"{names[ops[j]]} {count(int(freq[j]))}" for j in top[:3])
        more = f", {len(ops) - 3} more kinds" if len(ops) > 3 else ""
        lines = [title, f"{count(members.size)} node{'s' if members.size > 1 else ''}, "
                        f"{count(int(sizes[members].sum()))} entries",
                 kinds + more]
        if graph.output in members:
            lines.append(f"output v{graph.output}")
        texts.append("\n".join(lines))
    position = np.empty(len(graph), np.int64)
    position[node_order(graph)] = np.arange(len(graph))
    first = np.full(len(paths), len(graph), np.int64)
    np.minimum.at(first, group, position)
    order = np.argsort(first, kind="stable")
    edges = {(int(a), int(b)): int(c) for (a, b), c in zip(pairs, counts)}
    holders = {path for k, path in enumerate(paths) if paths.count(path) > 1}
    holders.update(p.rpartition(".")[0] for p in paths)
    clusters = [path if path in holders else path.rpartition(".")[0] for path in paths]
    return texts, edges, clusters, order


def node_order(graph) -> np.ndarray:
    """Topological order of a DAG; the condensation's order for a cyclic graph."""
    return graph.topological_order() if graph.is_acyclic \
        else np.concatenate(graph.strongly_connected_components())


def _by_scope(graph, full: bool | None) -> bool:
    """Whether a collapsed drawing has one box per scope (else one per group of levels)."""
    return not _is_full(graph, full) and bool(graph.scopes) \
        and len(scope_groups(graph)[0]) <= MAX_NODES


def _is_full(graph, full: bool | None) -> bool:
    return len(graph) <= MAX_NODES if full is None else full


def _collapsed_layout(graph) -> tuple[Layout, list[str], dict]:
    texts, edges = collapsed(graph)
    sizes = np.array([box_size(t) for t in texts])
    layout = layered_layout(sizes, list(edges), pinned=range(len(texts)))
    return layout, texts, edges


def _scoped_layout(graph) -> tuple[Layout, list[str], dict]:
    texts, edges, _, order = collapsed_by_scope(graph)
    sizes = np.array([box_size(t) for t in texts])
    layout = layered_layout(sizes, list(edges), order=order)
    return layout, texts, edges


def draw(graph, labels: Mapping[int, str] | None = None, ax=None, full: bool | None = None):
    """Draw ``graph`` with matplotlib and return the Axes.

    Parameters
    ----------
    graph : Graph
    labels : mapping of int to str, optional
        Extra text under each node's equation (values, multipliers).
    ax : matplotlib Axes, optional
        Where to draw; by default a new figure sized so that 1 point of layout is 1 point of
        paper, which keeps every label readable.
    full : bool, optional
        Draw every node (True), or groups (False): one box per scope when the graph has
        scopes, else per group of levels; by default every node up to `MAX_NODES` nodes.
    """
    plt = require_module("matplotlib.pyplot", "drawing a graph", package="matplotlib")
    by_scope = _by_scope(graph, full)
    full = _is_full(graph, full)
    if full and len(graph) > MAX_FULL:
        raise LagrangeADError(f"drawing {len(graph):,} nodes one by one is unreadable (at most "
                              f"{MAX_FULL:,}); draw it collapsed (full=False)")
    legend = {}
    if full:
        layout, texts = graph_layout(graph, labels)
        fills, legend = _node_fills(graph)
        edge_labels, title = {}, None
    elif by_scope:
        layout, texts, edge_labels = _scoped_layout(graph)
        fills = [COLORS["band"]] * len(texts)
        title = f"{count(len(graph))} nodes, {SCOPED_NOTE}"
    else:
        layout, texts, edge_labels = _collapsed_layout(graph)
        fills = [COLORS["band"]] * len(texts)
        title = f"{count(len(graph))} nodes, {COLLAPSED_NOTE}"
    xmin, xmax, ymin, ymax = layout.extent
    margin = 12.0
    if ax is None:
        head = 30.0 if title else 0.0
        width, height = xmax - xmin + 2 * margin, ymax - ymin + 2 * margin + head
        fig = plt.figure(figsize=(width / 72, height / 72))
        ax = fig.add_axes((0, 0, 1, 1 - head / height))
    ax.set_xlim(xmin - margin, xmax + margin)
    ax.set_ylim(ymin - margin, ymax + margin)
    ax.set_aspect("equal")
    ax.set_axis_off()
    scale = _points_per_unit(ax)
    outlined = [full and i == graph.output for i in range(len(texts))]
    _draw_boxes(ax, layout, texts, fills, outlined, FONT * scale)
    _draw_routes(ax, layout, edge_labels, FONT * scale)
    if legend:
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(facecolor=color, edgecolor="#555555", label=path)
                           for path, color in legend.items()],
                  loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=FONT,
                  prop={"family": "monospace", "size": FONT}, title="scopes",
                  title_fontsize=FONT)
    if title:
        ax.set_title(textwrap.fill(title, max(30, int((xmax - xmin) / (0.6 * FONT)))),
                     fontsize=FONT, loc="left", family="monospace")
    return ax


def _points_per_unit(ax) -> float:
    fig = ax.figure
    box = ax.get_position()
    width_pt = box.width * fig.get_figwidth() * 72
    height_pt = box.height * fig.get_figheight() * 72
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    return min(width_pt / (x1 - x0), height_pt / (y1 - y0))


def _node_fills(graph) -> tuple[list[str], dict[str, str]]:
    """Each node's fill: inputs blue, the output orange, a scope's nodes its scope's colour.

    Returns the fills and the legend (scope path to colour; empty when there are no scopes).
    """
    paths = list(dict.fromkeys(graph.scopes[i] for i in sorted(graph.scopes)))
    legend = {p: SCOPE_COLORS[k % len(SCOPE_COLORS)] for k, p in enumerate(paths)}
    fills = []
    for i in range(len(graph)):
        if i in graph.inputs:
            fills.append(COLORS["input"])
        elif i == graph.output:
            fills.append(COLORS["output"])
        else:
            fills.append(legend.get(graph.scopes.get(i), COLORS["node"]))
    return fills, legend


def _draw_boxes(ax, layout: Layout, texts, fills, outlined, font: float) -> None:
    from matplotlib.patches import FancyBboxPatch

    for (x, y), (w, h), text, fill, bold in zip(layout.centers, layout.sizes, texts, fills,
                                                outlined):
        ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, linewidth=0.8,
                                    boxstyle="round,pad=0,rounding_size=3", facecolor=fill,
                                    edgecolor="#d94801" if bold else "#555555"))
        ax.text(x, y, text, ha="center", va="center", fontsize=font, family="monospace",
                linespacing=1.25)


def _draw_routes(ax, layout: Layout, edge_labels: Mapping, font: float) -> None:
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path

    for route in layout.routes:
        color = "#a50f15" if route.back else "#333333"
        ax.add_patch(FancyArrowPatch(path=Path(route.points), arrowstyle="-|>",
                                     mutation_scale=8, linewidth=0.8, color=color,
                                     linestyle="--" if route.back else "-",
                                     shrinkA=0, shrinkB=0))
        label = edge_labels.get((route.parent, route.child))
        if label is not None:
            # on the middle of the longest segment
            lengths = np.hypot(*np.diff(route.points, axis=0).T)
            k = int(np.argmax(lengths))
            (x0, y0), (x1, y1) = route.points[k], route.points[k + 1]
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, count(label), fontsize=font * 0.9,
                    ha="center", va="center", color=color,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})


# ----------------------------------------------------------------------- files and Graphviz


def require_renderer() -> None:
    """Check that SVG or PNG can be drawn: Graphviz's ``dot``, or matplotlib."""
    if shutil.which("dot") is None:
        require_module("matplotlib.pyplot", "drawing a graph as svg or png (without "
                       "Graphviz's dot program)", package="matplotlib")


def dot_text(graph, labels: Mapping[int, str] | None = None, full: bool | None = None) -> str:
    """Graphviz DOT of every node, or of the collapsed groups for a large graph.

    Scopes are clusters: of nodes in a full drawing, of scope boxes in a collapsed one (each
    box in the cluster of its enclosing scope).
    """
    if _by_scope(graph, full):
        texts, edges, clusters, _ = collapsed_by_scope(graph)
        return export.boxes_to_dot(texts, {pair: count(n) for pair, n in edges.items()},
                                   rankdir="TB" if len(texts) > DEEP else "LR",
                                   comment=f"{len(graph):,} nodes, {SCOPED_NOTE}",
                                   scopes=clusters)
    if _is_full(graph, full):
        return export.to_dot(graph, labels)
    texts, edges = collapsed(graph)
    return export.boxes_to_dot(texts, {pair: count(n) for pair, n in edges.items()},
                               rankdir="TB" if len(texts) > DEEP else "LR",
                               comment=f"{len(graph):,} nodes, {COLLAPSED_NOTE}")


def render(graph, labels: Mapping[int, str] | None, output: str, fmt: str,
           full: bool | None = None) -> str:
    """Write the drawing to ``output`` as ``fmt`` (svg or png); returns a note for the reader.

    Graphviz's ``dot`` draws when installed, matplotlib otherwise. A failure of either is a
    `LagrangeADError` with one line of explanation.
    """
    note = SCOPED_NOTE if _by_scope(graph, full) else COLLAPSED_NOTE
    collapsed_note = "" if _is_full(graph, full) else f"{count(len(graph))} nodes drawn {note}"
    if shutil.which("dot"):
        done = subprocess.run(["dot", f"-T{fmt}", "-o", output],
                              input=dot_text(graph, labels, full).encode(), capture_output=True)
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip().splitlines() or ["no message"]
            raise LagrangeADError(f"Graphviz dot could not write {output}: {message[0]}")
        return collapsed_note
    plt = require_module("matplotlib.pyplot", "drawing a graph", package="matplotlib")
    ax = draw(graph, labels, full=full)
    try:
        ax.figure.savefig(output, format=fmt, dpi=100, bbox_inches="tight")  # the legend too
    except OSError as exc:
        raise LagrangeADError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        plt.close(ax.figure)
    return collapsed_note
