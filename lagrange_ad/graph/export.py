"""Exporting a graph: to networkx, and to Graphviz DOT text."""

from __future__ import annotations

from collections.abc import Mapping


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


def to_dot(graph, node_labels: Mapping[int, str] | None = None) -> str:
    """Graphviz DOT text; line breaks in ``node_labels`` become DOT line breaks."""
    lines = ["digraph computation {", "  rankdir=LR;", "  node [shape=box, fontname=monospace];"]
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


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
