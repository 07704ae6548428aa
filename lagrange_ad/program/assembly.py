"""Assembling the local Jacobian J from the primitives' rules.

Row block i of J holds ``d p_i / d v_Pa(i)``. Scalar nodes of an elementwise primitive have a
1 x 1 block per operand, so all nodes of one primitive (and one parameter set) get their
partials from a single vectorized call of the primitive's ``partials`` rule. Every other node
contributes the explicit entries of its ``jacobian`` rule (or, without one, entries assembled
from its VJP rule), asked for the wanted operands alone (`Primitive.explicit_jacobian`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ..errors import NonFiniteError
from ..primitives.registry import as_entries
from .analysis import scalar_elementwise
from .vectors import all_finite


def _grouped(graph, nodes: np.ndarray):
    """Split nodes by (primitive, parameter set), in a deterministic order."""
    key = graph.op[nodes].astype(np.int64) * (len(graph.param_table) + 1) + graph.param_id[nodes]
    order = np.argsort(key, kind="stable")
    nodes, key = nodes[order], key[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    return np.split(nodes, cuts)


def _report_nonfinite(values, rows, cols, vals):
    graph = values.graph
    bad = int(np.flatnonzero(~np.isfinite(vals))[0])
    i = int(np.searchsorted(graph.offsets, rows[bad], side="right") - 1)
    j = int(np.searchsorted(graph.offsets, cols[bad], side="right") - 1)
    raise NonFiniteError(
        f"node {graph.describe(i)}: the local derivative of {graph.primitive(i).name} with "
        f"respect to v{j} is not finite at v{j} = {values[j]!r}; the gradient does "
        f"not exist there")


class ScalarGroup(NamedTuple):
    """Scalar nodes of one elementwise primitive: their parents and their local partials."""

    nodes: np.ndarray
    parents: np.ndarray
    partials: tuple[np.ndarray, ...]


def scalar_partials(values, nodes: np.ndarray) -> list[ScalarGroup]:
    """The partials of scalar elementwise nodes, one vectorized rule call per primitive."""
    graph, offsets, v = values.graph, values.graph.offsets, values.flat
    groups = []
    for group in _grouped(graph, nodes) if nodes.size else []:
        primitive = graph.primitive(int(group[0]))
        params = graph.params(int(group[0]))
        first = graph.parent_ptr[group]
        arity = int(graph.parent_ptr[group[0] + 1] - first[0])
        parents = graph.parent_idx[first[:, None] + np.arange(arity)]
        xs = [v[offsets[parents[:, k]]] for k in range(arity)]
        with np.errstate(all="ignore"):
            partials = primitive.partials(v[offsets[group]], *xs, **params)
        groups.append(ScalarGroup(group, parents, tuple(
            np.broadcast_to(np.asarray(d, np.float64), group.shape) for d in partials)))
    return groups


def assemble_jacobian(values, nodes: np.ndarray | None = None,
                      columns: np.ndarray | None = None) -> sp.csr_array:
    """J at the given values (a `NodeVector`), as CSR with duplicates summed.

    Only the rows of ``nodes`` are filled when given (all nodes by default), and only the
    columns of ``columns`` (a block with respect to another operand is not built).
    """
    graph, offsets = values.graph, values.graph.offsets
    keep = None if columns is None else np.isin(np.arange(len(graph)), columns)
    wanted = np.ones(len(graph), bool) if nodes is None else np.isin(np.arange(len(graph)), nodes)
    wanted &= ~graph.is_source
    rows, cols, vals = [], [], []
    fast = scalar_elementwise(graph)
    fast = fast[wanted[fast]]
    for group in scalar_partials(values, fast):
        for k, d in enumerate(group.partials):
            take = slice(None) if keep is None else keep[group.parents[:, k]]
            rows.append(offsets[group.nodes[take]])
            cols.append(offsets[group.parents[take, k]])
            vals.append(d[take])
    wanted[fast] = False
    for i in np.flatnonzero(wanted).tolist():
        primitive, params = graph.primitive(i), graph.params(i)
        parents = graph.parents(i).tolist()
        xs = [values[j] for j in parents]
        with np.errstate(all="ignore"):
            blocks = primitive.explicit_jacobian(values[i], xs, params,
                                                 None if keep is None else keep[parents])
        for j, block in ((j, as_entries(b)) for j, b in zip(parents, blocks) if b is not None):
            rows.append(np.asarray(block.rows, np.int64) + offsets[i])
            cols.append(np.asarray(block.cols, np.int64) + offsets[j])
            vals.append(np.asarray(block.vals, np.float64))
    n = graph.total_size
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    vals = np.concatenate(vals) if vals else np.zeros(0)
    if not all_finite(vals):
        _report_nonfinite(values, rows, cols, vals)
    jac = sp.coo_array((vals, (rows, cols)), shape=(n, n)).tocsr()
    jac.sum_duplicates()
    return jac
