"""Jacobians of several outputs: many right-hand sides of one KKT system, or vertex elimination.

Linearizing the constraints ``v = p(v)`` of the program at its point gives
``dv = J dv + E_X dx``, that is ``A dv = E_X dx`` with ``A = I - J`` and ``E_X`` the columns
of the identity at the input entries. For output entries ``Y`` the Jacobian is therefore

    D = E_Y^T A^{-1} E_X.

Three ways to form it:

- ``"reverse"``: one adjoint solve ``A^T lam = e_y`` per output entry y (the reverse sweep
  with the seed e_y in place of e_N); row y of D is ``lam`` at the input entries.
- ``"forward"``: one tangent solve ``A t = e_x`` per input entry x (a sweep in topological
  order); column x of D is ``t`` at the output entries.
- ``"elimination"``: vertex elimination on the linearized graph of scalar entries, in any
  order (see `lagrange_ad.jacobians.elimination`); forward and reverse mode are two such orders.

Outputs may be any nodes, not only the graph's output v_N, so nothing here needs a scalar
output; the multipliers of a gradient are the special case ``Y = {N}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import EliminationOrderError, LagrangeADError, UnknownMethodError
from ..program.program import Program
from ..schedules.forward import BLOCK_ENTRIES, tangent_sweep
from ..schedules.plans import node_entries
from ..schedules.substitution import back_substitute
from .elimination import eliminate, output_nodes

MODES = ("reverse", "forward", "elimination")


@dataclass(frozen=True)
class JacobianResult:
    """The Jacobian d(outputs)/d(inputs) and what it cost.

    Attributes
    ----------
    matrix : ndarray, shape (output entries, input entries)
        Rows follow the outputs in the order given, each node's entries in C order; columns
        follow the inputs likewise. ``np.asarray(result)`` is this matrix.
    blocks : mapping
        ``blocks[(y, x)]``: the block of output node y and input node x, shaped
        ``shape(y) + shape(x)``.
    multiplications : int
        Scalar multiplications: local partials applied by the sweeps (one multiply-add each),
        or the products ``c_ij c_jk`` of vertex elimination.
    mode : str
        ``"reverse"``, ``"forward"`` or ``"elimination"``.
    order : tuple of int or None
        For elimination, the flat entry indices in the order they were eliminated.
    outputs : tuple of int
        The output nodes, in row order.
    """

    matrix: np.ndarray
    blocks: Mapping[tuple[int, int], np.ndarray]
    multiplications: int
    mode: str
    order: tuple[int, ...] | None
    outputs: tuple[int, ...]

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.matrix, dtype=dtype)


def jacobian(program: Program, outputs: Sequence[int] | int | None = None,
             mode: str = "reverse", order: str | Sequence[int] | None = None) -> JacobianResult:
    """The Jacobian of some nodes with respect to every input, at the program's point.

    Parameters
    ----------
    program : Program
        The program (graph and point).
    outputs : sequence of int or int, optional
        The output nodes; by default the graph's output node, which may be an array. Any node
        may be an output, also one that feeds others.
    mode : {"reverse", "forward", "elimination"}
        One adjoint sweep per output entry, one tangent sweep per input entry, or vertex
        elimination on the linearized graph of scalar entries.
    order : str or sequence of int, optional
        For ``mode="elimination"`` only: ``"forward"`` (the default), ``"reverse"``,
        ``"markowitz"``, or an explicit permutation of the intermediate entries (see
        `lagrange_ad.jacobians.elimination.intermediate_entries(program, outputs)`).

    Returns
    -------
    JacobianResult

    Raises
    ------
    GraphError
        For an output that is not a node of the graph, or listed twice.
    UnknownMethodError
        For an unknown mode.
    EliminationOrderError
        For an unknown or invalid elimination order, or an order given to another mode.

    Notes
    -----
    With ``A = I - J`` and ``E_X``, ``E_Y`` the identity columns at the input and output
    entries, the Jacobian is ``D = E_Y^T A^{-1} E_X``: rows from adjoint solves
    ``A^T lam = e_y``, columns from tangent solves ``A t = e_x``, or all at once by
    eliminating the intermediate vertices of the graph whose edges carry J's entries.

    Examples
    --------
    >>> import numpy as np, lagrange_ad as la
    >>> graph = la.trace(lambda x, y: la.stack([x * y, la.sin(x)]), 2.0, 3.0)
    >>> result = jacobian(la.Program(graph), mode="elimination", order="markowitz")
    >>> np.round(result.matrix, 4)
    array([[ 3.    ,  2.    ],
           [-0.4161,  0.    ]])
    """
    if not isinstance(program, Program):
        raise LagrangeADError(f"jacobian needs a Program; got {type(program).__name__} "
                              f"(wrap a graph as la.Program(graph))")
    graph = program.graph
    nodes = output_nodes(program, outputs)
    if mode not in MODES:
        raise UnknownMethodError(f"unknown Jacobian mode {mode!r}; valid modes are: "
                                 f"{', '.join(map(repr, MODES))}")
    if order is not None and mode != "elimination":
        raise EliminationOrderError(f"order={order!r} applies to mode='elimination' only; "
                                    f"mode {mode!r} has a fixed order")
    rows = node_entries(graph.offsets, np.array(nodes, np.int64))
    cols = node_entries(graph.offsets, np.arange(graph.n_inputs))
    used = None
    if mode == "reverse":
        matrix, spent = _by_adjoints(program, rows, cols)
    elif mode == "forward":
        matrix, spent = _by_tangents(program, rows, cols)
    else:
        done = eliminate(program, rows, "forward" if order is None else order)
        matrix, spent, used = done.matrix, done.multiplications, done.order
    matrix.flags.writeable = False
    return JacobianResult(matrix, _blocks(program, nodes, matrix), int(spent), mode, used, nodes)


def _by_adjoints(program: Program, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, int]:
    """Row k from ``A^T lam = e_{rows[k]}``, solved by back-substitution (the reverse sweep)."""
    graph = program.graph
    jac = program.local_jacobian()
    order = np.ascontiguousarray(graph.topological_order()[::-1])
    out = np.zeros((rows.size, cols.size))
    spent = 0
    for k, entry in enumerate(rows.tolist()):
        lam = np.zeros(graph.total_size)
        lam[entry] = 1.0
        spent += back_substitute(order, graph.offsets, jac, lam)
        out[k] = lam[cols]
    return out, spent


def _by_tangents(program: Program, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, int]:
    """Column k from ``A t = e_{cols[k]}``, solved by forward substitution, many at a time."""
    graph = program.graph
    jac = program.local_jacobian()
    indptr = jac.indptr.astype(np.int64)
    row_of = np.repeat(np.arange(graph.total_size, dtype=np.int64), np.diff(indptr))
    order = graph.topological_order()
    # nodes after the last output in the order cannot change an output's tangent
    owner = np.searchsorted(graph.offsets, rows, side="right") - 1
    position = np.empty(len(graph), np.int64)
    position[order] = np.arange(len(graph))
    nodes = order[:int(position[owner].max()) + 1] if rows.size else order[:0]
    partials = int(np.sum(indptr[graph.offsets[nodes + 1]] - indptr[graph.offsets[nodes]]))
    width = max(1, BLOCK_ENTRIES // max(1, graph.total_size))
    out = np.zeros((rows.size, cols.size))
    for b0 in range(0, cols.size, width):
        block = cols[b0:b0 + width]
        tangents = np.zeros((graph.total_size, block.size))
        tangents[block, np.arange(block.size)] = 1.0
        tangent_sweep(nodes, graph.offsets, indptr, jac.indices.astype(np.int64), jac.data,
                      row_of, tangents)
        out[:, b0:b0 + block.size] = tangents[rows]
    # every sweep applies every partial of the nodes it visits
    return out, partials * cols.size


def _blocks(program: Program, nodes: tuple[int, ...],
            matrix: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """``matrix`` cut into one block per (output node, input node), shaped like the pair."""
    graph = program.graph
    sizes = graph.sizes
    row_starts = np.concatenate([[0], np.cumsum([sizes[y] for y in nodes])])
    col_starts = np.concatenate([[0], np.cumsum([sizes[x] for x in graph.inputs])])
    blocks = {}
    for r, y in enumerate(nodes):
        for c, x in enumerate(graph.inputs):
            block = matrix[row_starts[r]:row_starts[r + 1], col_starts[c]:col_starts[c + 1]]
            blocks[(y, x)] = block.reshape(graph.shape(y) + graph.shape(x))
    return blocks
