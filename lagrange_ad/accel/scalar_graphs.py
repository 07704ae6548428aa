"""Graphs whose every node is a scalar: the predicate, and their validation by kinds of node.

`is_scalar_graph` is the one test of "all nodes are scalars" in the library; only
accelerators use it. On such a graph a node's shape rule and parameter check depend only on
its primitive, its parameter set and its number of operands, so validation checks each
distinct combination once instead of each node (a million-node graph has a few dozen).
"""

from __future__ import annotations

import numpy as np

from ..errors import GraphError, ShapeError
from ..graph.graph import Graph
from ..graph.nodetable import distinct_rows
from .dispatch import Accelerator, register_accelerator


def is_scalar_graph(graph: Graph) -> bool:
    """Whether every node of the graph holds a single number (shape ``()``)."""
    return graph.shape_table == ((),)


def validate_scalar_graph(graph: Graph) -> None:
    """`Graph` validation of every node, once per (primitive, parameters, arity) combination.

    Raises what `lagrange_ad.graph.validation.check_node` raises, naming the first node of
    the combination that fails.
    """
    rest = slice(graph.n_inputs, None)
    op, param_id = graph.op[rest], graph.param_id[rest]
    arity = np.diff(graph.parent_ptr)[rest]
    for code, param in distinct_rows(graph.op, graph.param_id):
        refusal = graph.primitives[code].params_problem(graph.param_table[param])
        if refusal:
            i = int(np.flatnonzero((graph.op == code) & (graph.param_id == param))[0])
            raise GraphError(f"node v{i}: primitive {graph.op_names[code]!r} {refusal}")
    for code, param, k in distinct_rows(op, param_id, arity):
        name, params = graph.op_names[code], graph.param_table[param]
        try:
            out = tuple(graph.primitives[code].shape(*[()] * k, **params))
        except ShapeError as exc:
            raise ShapeError(f"primitive {name} on scalars: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise GraphError(f"primitive {name}: bad parameters {dict(params)}: {exc}") from None
        if out != ():
            i = graph.n_inputs + int(np.flatnonzero(
                (op == code) & (param_id == param) & (arity == k))[0])
            raise ShapeError(f"node {graph.equation(i)} is declared as a scalar but {name} of "
                             f"{k} scalar(s) gives shape {out}")


SCALAR_VALIDATION = register_accelerator(Accelerator(
    name="scalar-validation",
    task="validate",
    serves=is_scalar_graph,
    run=validate_scalar_graph,
    doc="Checks a graph of scalars once per kind of node instead of once per node.",
))
