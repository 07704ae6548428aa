"""Compiled loops over the sparse local Jacobian.

The sweeps of the schedules are short loops over the index arrays of sparse matrices. They are
compiled with numba when it is installed (cached on disk after the first call) and otherwise run
as the same Python code; results are identical either way, only the speed differs.
"""

from __future__ import annotations

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - exercised only where numba is absent
    njit = None


def _compiled(function):
    return njit(cache=True, nogil=True)(function) if njit is not None else function


@_compiled
def _send_row(r, indptr, indices, data, lam):  # pragma: no cover
    """``lam[c] += lam[r] J[r, c]`` for the stored partials of row r; their count (0 if
    ``lam[r]`` is zero, when nothing is sent)."""
    g = lam[r]
    if g == 0.0:
        return 0
    for e in range(indptr[r], indptr[r + 1]):
        lam[indices[e]] += g * data[e]
    return indptr[r + 1] - indptr[r]


@_compiled
def back_substitute(node_order, offsets, indptr, indices, data, lam):  # pragma: no cover
    """In place: for node i in ``node_order``, ``lam[Pa(i)] += J[i, Pa(i)]^T lam_i``.

    With ``node_order`` the reverse of a topological order this solves ``A^T lam = e_N`` by
    back-substitution when ``lam`` starts at ``e_N``. Returns the multiply-adds performed.
    """
    spent = 0
    for k in range(node_order.shape[0]):
        i = node_order[k]
        for r in range(offsets[i], offsets[i + 1]):
            spent += _send_row(r, indptr, indices, data, lam)
    return spent


@_compiled
def back_substitute_rows(indptr, indices, data, lam):  # pragma: no cover
    """`back_substitute` when nodes are scalars numbered in topological order.

    Then row i of J is node i and the reverse topological order is ``i = n - 1, ..., 0``, so no
    order or offsets need to be read. Returns the multiply-adds performed.
    """
    spent = 0
    for i in range(lam.shape[0] - 1, -1, -1):
        spent += _send_row(i, indptr, indices, data, lam)
    return spent


@_compiled
def _gather_row(r, indptr, indices, data, t):  # pragma: no cover
    """``t[r] += J[r, :] t`` over the stored partials of row r; their count."""
    acc = t[r]
    for e in range(indptr[r], indptr[r + 1]):
        acc += data[e] * t[indices[e]]
    t[r] = acc
    return indptr[r + 1] - indptr[r]


@_compiled
def forward_substitute(node_order, offsets, indptr, indices, data, t):  # pragma: no cover
    """In place: for node i in ``node_order``, ``t_i += J[i, Pa(i)] t_Pa(i)``.

    With ``node_order`` a topological order this solves ``A t = x`` (``t = x + J t``) by
    forward substitution when ``t`` starts at x. Returns the multiply-adds performed.
    """
    spent = 0
    for k in range(node_order.shape[0]):
        i = node_order[k]
        for r in range(offsets[i], offsets[i + 1]):
            spent += _gather_row(r, indptr, indices, data, t)
    return spent


@_compiled
def forward_substitute_rows(indptr, indices, data, t):  # pragma: no cover
    """`forward_substitute` when nodes are scalars numbered in topological order (row i is
    node i). Returns the multiply-adds performed."""
    spent = 0
    for i in range(t.shape[0]):
        spent += _gather_row(i, indptr, indices, data, t)
    return spent


@_compiled
def distinct_columns(indptr, indices):  # pragma: no cover
    """Each row's distinct columns in first-seen order, and every entry's position among them.

    Returns ``(ptr, idx, slot, repeated)``: the CSR structure without repeats, the position
    ``slot[e]`` of entry e in it, and whether some row repeats a column. Rows are short (a
    scalar node's operands), so each entry is compared with the row's earlier ones.
    """
    ptr = np.empty_like(indptr)
    idx = np.empty_like(indices)
    slot = np.empty_like(indices)
    ptr[0] = 0
    k = 0
    for r in range(indptr.shape[0] - 1):
        first = k
        for e in range(indptr[r], indptr[r + 1]):
            known = -1
            for f in range(first, k):
                if idx[f] == indices[e]:
                    known = f
            if known >= 0:
                slot[e] = known
            else:
                idx[k] = indices[e]
                slot[e] = k
                k += 1
        ptr[r + 1] = k
    return ptr, idx[:k], slot, k < indices.shape[0]


@_compiled
def sweep_partials(row, src, data, earlier, rhs_rows, rhs_values, cur, out, omega, acc,
                   deferred):  # pragma: no cover
    """One sweep from ``cur`` into ``out``; returns ``(||out||^2, residual of cur squared)``.

    Partial k adds ``omega data[k] x`` to ``out[row[k]]``, where x is entry ``src[k]`` of
    ``out`` when ``earlier[k]`` (its group was updated before) and of ``cur`` otherwise. With
    ``out`` started at ``omega e_N + (1 - omega) cur`` each row ends at its relaxed update; the
    partials come row after row in visiting order, so ``out`` is read only where it is final.

    A non-empty ``acc`` also receives ``e_N + J^T cur``, and the residual returned sums
    ``(acc - cur)^2`` over every row; otherwise it sums ``(out - cur)^2`` over the ``deferred``
    rows, whose partials all read ``cur`` (with omega = 1 their ``out`` is ``e_N + J^T cur``).
    """
    n = out.shape[0]
    accumulate = acc.shape[0] > 0
    keep = 1.0 - omega
    for r in range(n):
        out[r] = 0.0 if omega == 1.0 else keep * cur[r]
    if accumulate:
        acc[:] = 0.0
    for j in range(rhs_rows.shape[0]):
        out[rhs_rows[j]] += omega * rhs_values[j]
        if accumulate:
            acc[rhs_rows[j]] += rhs_values[j]
    # one flat loop over partials: no inner loop whose length varies row to row
    for k in range(row.shape[0]):
        c = src[k]
        old = cur[c]
        x = out[c] if earlier[k] else old
        out[row[k]] += (omega * data[k]) * x
        if accumulate:
            acc[row[k]] += data[k] * old
    norm2 = 0.0
    res2 = 0.0
    for r in range(n):
        norm2 += out[r] * out[r]
        if accumulate:
            d = acc[r] - cur[r]
            res2 += d * d
        else:
            # a select, not a branch: deferred rows need not come in a predictable pattern
            d = (out[r] if deferred[r] else cur[r]) - cur[r]
            res2 += d * d
    return norm2, res2


def warm_up() -> None:
    """Compile (or load from the cache) every kernel once, so that no timing includes it."""
    ints, one = np.zeros(2, np.int64), np.zeros(1, np.int64)
    back_substitute(np.zeros(0, np.int64), ints, ints, one, np.zeros(1), np.zeros(1))
    back_substitute_rows(one, one, np.zeros(1), np.zeros(0))
    forward_substitute(np.zeros(0, np.int64), ints, ints, one, np.zeros(1), np.zeros(1))
    forward_substitute_rows(one, one, np.zeros(1), np.zeros(0))
    distinct_columns(ints, one)
    flags = np.zeros(1, np.bool_)
    sweep_partials(one, one, np.zeros(1), flags, one, np.zeros(1), np.zeros(1), np.zeros(1), 1.0,
                   np.zeros(0), flags)
