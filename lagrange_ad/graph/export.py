"""Exporting a graph: to networkx, and to Graphviz DOT text.

In DOT, the nodes of one scope (``graph.scopes``, `la.scope`) are drawn inside one box, a
Graphviz ``subgraph cluster_k``; nested scopes (``layers.0`` and ``layers.0.self_attn``) are
nested clusters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import LagrangeADError


def to_networkx(graph):
    """A `networkx.MultiDiGraph` with an edge parent -> child per operand, keyed by position."""
    import networkx as nx

    g = nx.MultiDiGraph(output=graph.output, n_inputs=graph.n_inputs)
    for i in range(len(graph)):
        g.add_node(i, primitive=graph.op_names[graph.op[i]], shape=graph.shape(i),
                   label=graph.describe(i), name=graph.names.get(i),
                   scope=graph.scopes.get(i))
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
    statements = []
    for i in range(len(graph)):
        parts = [graph.describe(i)]
        if node_labels is not None and i in node_labels:
            parts.append(str(node_labels[i]))
        # escape each part, then join with DOT's line break (an escaped one would print)
        text = "\\n".join(_dot_escape(part) for part in parts)
        style = ", style=bold" if i == graph.output else ""
        statements.append(f'v{i} [label="{text}"{style}];')
    lines = ["digraph computation {", _graph_attributes(rankdir),
             "  node [shape=box, fontname=monospace];"]
    lines += clustered(statements, [graph.scopes.get(i, "") for i in range(len(graph))])
    for i in range(len(graph)):
        parents = graph.parents(i)
        for position, j in enumerate(parents):
            tag = f' [label="{position}"]' if parents.size > 1 else ""
            lines.append(f"  v{j} -> v{i}{tag};")
    lines.append("}")
    return "\n".join(lines)


def clustered(statements: Sequence[str], paths: Sequence[str]) -> list[str]:
    """DOT lines placing ``statements[k]`` in the cluster of scope ``paths[k]`` (``""``: none).

    Clusters nest as scopes do: a path's cluster lies inside the cluster of its longest
    proper prefix that is drawn. A prefix is drawn when it holds statements of its own or
    branches into two scopes or more (so ``layers`` holding ``layers.0`` alone adds no box);
    a cluster is labelled by its path relative to the enclosing one. Clusters come in the
    order their first statement does.
    """
    members: dict[str, list[int]] = {"": []}
    for k, path in enumerate(paths):
        parts = path.split(".") if path else []
        for depth in range(1, len(parts) + 1):
            members.setdefault(".".join(parts[:depth]), [])
        members[path].append(k)
    branches = dict.fromkeys(members, 0)
    for path in members:
        if path:
            branches[path.rpartition(".")[0]] += 1
    drawn = [path for path in members if path and (members[path] or branches[path] > 1)]
    rank = {path: n for n, path in enumerate(drawn)}

    def enclosing(path: str) -> str:
        while path:
            path = path.rpartition(".")[0]
            if path in rank:
                return path
        return ""

    chains = {}
    for path in drawn:  # the drawn paths from the outermost down to ``path``
        outer = enclosing(path)
        chains[path] = (chains[outer] if outer else ()) + (rank[path],)
    lines = [f"  {statements[k]}" for k in members[""]]
    open_paths: list[str] = []
    for n, path in enumerate(sorted(drawn, key=chains.__getitem__)):
        outer = enclosing(path)
        while open_paths and open_paths[-1] != outer:
            open_paths.pop()
            lines.append("  " * (len(open_paths) + 1) + "}")
        indent = "  " * (len(open_paths) + 1)
        label = path[len(outer) + 1:] if outer else path
        lines.append(f"{indent}subgraph cluster_{n} {{")
        lines.append(f'{indent}  label="{_dot_escape(label)}"; style="rounded,filled"; '
                     f'fillcolor="{_cluster_fill(len(open_paths))}"; labeljust=l; '
                     f'fontname=monospace;')
        lines += [f"{indent}  {statements[k]}" for k in members[path]]
        open_paths.append(path)
    lines += ["  " * (depth + 1) + "}" for depth in reversed(range(len(open_paths)))]
    return lines


def _cluster_fill(depth: int) -> str:
    """Lighter inside, so nested clusters stay apart."""
    return ("#f2f2f7", "#e8e8f2", "#dcdcec", "#d0d0e6")[min(depth, 3)]


def boxes_to_dot(texts: Sequence[str], edges: Mapping[tuple[int, int], str],
                 rankdir: str = "LR", comment: str = "",
                 scopes: Sequence[str] | None = None) -> str:
    """DOT text of labelled boxes ``b0, b1, ...`` and labelled edges (a collapsed drawing).

    ``scopes`` puts each box in the cluster of a scope path, as `to_dot` does with nodes.
    """
    lines = ["digraph computation {", _graph_attributes(rankdir),
             "  node [shape=box, fontname=monospace];"]
    if comment:
        lines.append(f'  label="{_dot_escape(comment)}"; labelloc=t;')
    boxes = [f'b{k} [label="{_dot_escape(text)}"];' for k, text in enumerate(texts)]
    lines += clustered(boxes, scopes if scopes is not None else [""] * len(boxes))
    lines += [f'  b{a} -> b{b} [label="{_dot_escape(label)}"];' for (a, b), label in edges.items()]
    lines.append("}")
    return "\n".join(lines)


def _graph_attributes(rankdir: str) -> str:
    if rankdir not in ("LR", "TB"):
        raise LagrangeADError(f"rankdir must be 'LR' or 'TB'; got {rankdir!r}")
    return f"  rankdir={rankdir}; nodesep=0.25; ranksep=0.35;"


def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
