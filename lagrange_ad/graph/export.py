"""Exporting a graph: to networkx, and to Graphviz DOT text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import LagrangeADError


def to_networkx(graph):
    """A `networkx.MultiDiGraph` with an edge parent -> child per operand, keyed by position."""
    import networkx as nx

    g = nx.MultiDiGraph(output=graph.output, n_inputs=graph.n_inputs)
    for i in range(len(graph)):
        g.add_node(i, primitive=graph.op_names[graph.op[i]], shape=graph.shape(i),
                   label=graph.describe(i), name=graph.names.get(i))
    for i in range(len(graph)):
        for position, j in enumerate(graph.parents(i)):
            g.add_edge(int(j), i, key=position, position=position)
    return g


# deeper graphs are laid out top to bottom, so that Graphviz's drawing is not thousands of
# pixels wide
DEEP = 8


def to_dot(graph, node_labels: Mapping[int, str] | None = None, rankdir: str | None = None) -> str:
    """Graphviz DOT text; line breaks in ``node_labels`` become DOT line breaks.

    ``rankdir`` is ``"LR"`` (levels left to right) for graphs of at most 8 levels and ``"TB"``
    for deeper ones unless given.
    """
    if rankdir is None:
        levels = graph.depth + 1 if graph.is_acyclic else len(graph)
        rankdir = "LR" if levels <= DEEP else "TB"
    lines = ["digraph computation {", _graph_attributes(rankdir),
             "  node [shape=box, fontname=monospace];"]
    for i in range(len(graph)):
        parts = [graph.describe(i)]
        if node_labels is not None and i in node_labels:
            parts.append(str(node_labels[i]))
        # escape each part, then join with DOT's line break (an escaped one would print)
        text = "\\n".join(_dot_escape(part) for part in parts)
        style = ", style=bold" if i == graph.output else ""
        lines.append(f'  v{i} [label="{text}"{style}];')
    for i in range(len(graph)):
        parents = graph.parents(i)
        for position, j in enumerate(parents):
            tag = f' [label="{position}"]' if parents.size > 1 else ""
            lines.append(f"  v{j} -> v{i}{tag};")
    lines.append("}")
    return "\n".join(lines)


def boxes_to_dot(texts: Sequence[str], edges: Mapping[tuple[int, int], str],
                 rankdir: str = "LR", comment: str = "") -> str:
    """DOT text of labelled boxes ``b0, b1, ...`` and labelled edges (a collapsed drawing)."""
    lines = ["digraph computation {", _graph_attributes(rankdir),
             "  node [shape=box, fontname=monospace];"]
    if comment:
        lines.append(f'  label="{_dot_escape(comment)}"; labelloc=t;')
    lines += [f'  b{k} [label="{_dot_escape(text)}"];' for k, text in enumerate(texts)]
    lines += [f'  b{a} -> b{b} [label="{_dot_escape(label)}"];' for (a, b), label in edges.items()]
    lines.append("}")
    return "\n".join(lines)


def _graph_attributes(rankdir: str) -> str:
    if rankdir not in ("LR", "TB"):
        raise LagrangeADError(f"rankdir must be 'LR' or 'TB'; got {rankdir!r}")
    return f"  rankdir={rankdir}; nodesep=0.25; ranksep=0.35;"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
