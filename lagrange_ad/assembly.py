"""Assembling the local Jacobian J from the primitives' rules.

Row block i of J holds ``d p_i / d v_Pa(i)``. Scalar nodes of an elementwise primitive have a
1 x 1 block per operand, so all nodes of one primitive (and one parameter set) get their
partials from a single vectorized call of the primitive's ``partials`` rule. Every other node
contributes the explicit entries of its ``jacobian`` rule (or, without one, entries assembled
from its VJP rule).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import NonFiniteError
from .primitives import dense_jacobian


def scalar_elementwise_nodes(program) -> np.ndarray:
    """Nodes whose value and operands are scalars and whose primitive has a partials rule."""
    graph = program.graph
    sizes = graph.sizes
    has_rule = np.array([p.partials is not None for p in graph.primitives], bool)[graph.op]
    counts = np.diff(graph.parent_ptr)
    widest = np.zeros(len(graph), np.int64)
    nonempty = counts > 0
    if graph.parent_idx.size:
        widest[nonempty] = np.maximum.reduceat(sizes[graph.parent_idx],
                                               graph.parent_ptr[:-1][nonempty])
    return np.flatnonzero(has_rule & ~program.is_source & (sizes == 1) & (widest == 1))


def _grouped(graph, nodes: np.ndarray):
    """Split nodes by (primitive, parameter set), in a deterministic order."""
    key = graph.op[nodes].astype(np.int64) * (len(graph.param_table) + 1) + graph.param_id[nodes]
    order = np.argsort(key, kind="stable")
    nodes, key = nodes[order], key[order]
    cuts = np.flatnonzero(np.diff(key)) + 1
    return np.split(nodes, cuts)


def _report_nonfinite(program, rows, cols, vals):
    graph = program.graph
    bad = int(np.flatnonzero(~np.isfinite(vals))[0])
    i = int(np.searchsorted(graph.offsets, rows[bad], side="right") - 1)
    j = int(np.searchsorted(graph.offsets, cols[bad], side="right") - 1)
    raise NonFiniteError(
        f"node {graph.describe(i)}: the local derivative of {graph.primitive(i).name} with "
        f"respect to v{j} is not finite at v{j} = {program.values[j]!r}; the gradient does "
        f"not exist there")


def assemble_jacobian(program) -> sp.csr_array:
    """J over all scalar entries, as a CSR matrix with duplicates summed."""
    graph, offsets, v = program.graph, program.graph.offsets, program.values.flat
    rows, cols, vals = [], [], []
    fast = scalar_elementwise_nodes(program)
    for nodes in _grouped(graph, fast) if fast.size else []:
        primitive = graph.primitive(int(nodes[0]))
        params = graph.params(int(nodes[0]))
        first = graph.parent_ptr[nodes]
        arity = int(graph.parent_ptr[nodes[0] + 1] - first[0])
        parents = graph.parent_idx[first[:, None] + np.arange(arity)]
        xs = [v[offsets[parents[:, k]]] for k in range(arity)]
        with np.errstate(all="ignore"):
            partials = primitive.partials(v[offsets[nodes]], *xs, **params)
        for k, d in enumerate(partials):
            rows.append(offsets[nodes])
            cols.append(offsets[parents[:, k]])
            vals.append(np.broadcast_to(np.asarray(d, np.float64), nodes.shape))
    rest = np.ones(len(graph), bool)
    rest[fast] = False
    rest &= ~program.is_source
    for i in np.flatnonzero(rest).tolist():
        primitive, xs, params = graph.primitive(i), program.operands(i), graph.params(i)
        ans = program.values[i]
        with np.errstate(all="ignore"):
            if primitive.jacobian is not None:
                blocks = primitive.jacobian(ans, *xs, **params)
            else:
                blocks = dense_jacobian(primitive, ans, xs, params)
        for j, block in zip(graph.parents(i).tolist(), blocks):
            rows.append(np.asarray(block.rows, np.int64) + offsets[i])
            cols.append(np.asarray(block.cols, np.int64) + offsets[j])
            vals.append(np.asarray(block.vals, np.float64))
    n = graph.total_size
    rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    cols = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    vals = np.concatenate(vals) if vals else np.zeros(0)
    if not np.all(np.isfinite(vals)):
        _report_nonfinite(program, rows, cols, vals)
    jac = sp.coo_array((vals, (rows, cols)), shape=(n, n)).tocsr()
    jac.sum_duplicates()
    return jac
