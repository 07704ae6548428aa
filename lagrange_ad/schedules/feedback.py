"""A cyclic block of array nodes reduced to its feedback nodes, for a direct solve.

A cyclic block C of a graph's condensation needs ``(I - J_CC)^T x = b``. Its nodes split into
the *feedback* nodes F, those with an operand in C at or after themselves in node order (a
back edge or a self-loop), and the rest R, whose edges inside R all run forward: with
``M = J_CC`` in node blocks ``M[i, j] = d p_i / d v_j``, ``M_RR`` is strictly lower block
triangular, so ``I - M_RR`` is inverted by substitution. Eliminating R (a Schur complement)
leaves a system on F alone:

    T = (I - M_RR)^-1 M_RF                  (forward substitution over R)
    K = M_FF + M_FR T                       (the loop map, F -> F)
    (I - K)^T x_F = b_F + T^T b_R
    x_R = b_R + M_RR^T x_R + M_FR^T x_F     (back-substitution over R, in reverse order)

On an equilibrium layer ``h = tanh(W h + c)``, F is the tanh node and ``I - K^T`` is
``I - W^T D``, n x n, rather than the 4n x 4n block (n^2 + 3n nonzeros) of the whole cycle.

Each node block comes from the primitive's explicit Jacobian (`Primitive.explicit_jacobian`),
asked for the operands inside C alone: the block of a constant factor (W above, n^2 entries)
is never built, and a block the rule gives as a dense matrix (``d (W h) / d h = W``) is used
as it is. A block given as entries is kept dense when they fill at least `DENSE_FILL` of it,
sparse otherwise; products keep whichever form their operands give. Blocks are read-only
here: they may be views of the program's values.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import NonFiniteError
from ..primitives import Block
from ..program.program import Program
from ..program.vectors import all_finite

DENSE_FILL = 0.1
"""The fraction of nonzero entries from which a block is stored and factored as dense."""


def is_dense(matrix) -> bool:
    """Whether a matrix is dense: an ndarray, or sparse with at least `DENSE_FILL` filled."""
    if not sp.issparse(matrix):
        return True
    rows, cols = matrix.shape
    return matrix.nnz >= DENSE_FILL * rows * cols


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else matrix


def _sum(a, b):
    """``a + b`` of two blocks, either of which may be None (zero), dense or sparse."""
    if a is None or b is None:
        return b if a is None else a
    if sp.issparse(a) and sp.issparse(b):
        return (a + b).tocsr()
    return _dense(a) + _dense(b)


def _diagonal(matrix) -> np.ndarray | None:
    """The diagonal of a square sparse matrix with no entry off it, else None."""
    if not sp.issparse(matrix) or matrix.shape[0] != matrix.shape[1] \
            or matrix.nnz > matrix.shape[0]:
        return None
    n = matrix.shape[0]
    if matrix.format == "csr" and matrix.nnz == n \
            and np.array_equal(matrix.indptr, np.arange(n + 1)):
        # one entry per row: diagonal when each sits in its own row's column
        return matrix.data if np.array_equal(matrix.indices, np.arange(n)) else None
    coo = matrix.tocoo()
    return matrix.diagonal() if np.array_equal(coo.row, coo.col) else None


def _product(a, b):
    """``a @ b``: dense when either factor is dense, else sparse.

    A diagonal ``a`` (the blocks of elementwise nodes) scales the rows of a dense ``b``, and
    the identity (``add``, ``sub``) passes it on unchanged; blocks are never written in place.
    """
    diagonal = None if sp.issparse(b) else _diagonal(a)
    if diagonal is not None:
        return b if np.all(diagonal == 1.0) else diagonal[:, None] * b
    if sp.issparse(a) and sp.issparse(b):
        return (a @ b).tocsr()
    if sp.issparse(b):
        return np.asarray((b.T @ _dense(a).T).T)
    return np.asarray(a @ b)


def _block_matrix(block, shape: tuple[int, int]):
    """The matrix of one block: a dense matrix as it is, a `Block`'s entries summed."""
    if not isinstance(block, Block):
        return np.asarray(block, np.float64).reshape(shape)
    m, n = shape
    rows = np.asarray(block.rows, np.int64)
    cols = np.asarray(block.cols, np.int64)
    vals = np.asarray(block.vals, np.float64)
    if vals.size >= DENSE_FILL * m * n:
        return np.bincount(rows * n + cols, weights=vals, minlength=m * n).reshape(m, n)
    return sp.csr_array((vals, (rows, cols)), shape=(m, n))


class FeedbackBlock:
    """The node blocks of ``J_CC`` for one cyclic block, split into feedback nodes and the rest.

    Parameters
    ----------
    program : Program
        The program at its point (its values are read).
    nodes : list of int
        The nodes of the block, in increasing order.
    """

    def __init__(self, program: Program, nodes: list[int]):
        graph = program.graph
        self.graph, self.nodes = graph, sorted(nodes)
        inside = set(self.nodes)
        self.feedback = [i for i in self.nodes
                         if any(j in inside and j >= i for j in graph.parents(i).tolist())]
        self.rest = [i for i in self.nodes if i not in self.feedback]
        self.size = {i: int(graph.sizes[i]) for i in self.nodes}
        values = program.values.blocks()
        # blocks[i][j] = d p_i / d v_j for the operands j of i inside the block
        self.blocks: dict[int, dict[int, object]] = {}
        for i in self.nodes:
            primitive, params = graph.primitive(i), graph.params(i)
            parents = graph.parents(i).tolist()
            xs = [values[j] for j in parents]
            with np.errstate(all="ignore"):
                entries = primitive.explicit_jacobian(values[i], xs, params,
                                                      [j in inside for j in parents])
            row = self.blocks.setdefault(i, {})
            for j, block in zip(parents, entries):
                if block is not None:
                    matrix = _block_matrix(block, (self.size[i], self.size[j]))
                    row[j] = _sum(row.get(j), matrix)
        self._check_finite()

    def _check_finite(self) -> None:
        for i, row in self.blocks.items():
            for j, matrix in row.items():
                if not all_finite(matrix.data if sp.issparse(matrix) else matrix):
                    raise NonFiniteError(
                        f"node {self.graph.describe(i)}: a local derivative of "
                        f"{self.graph.primitive(i).name} with respect to v{j} is not finite; "
                        f"the gradient does not exist there")

    @property
    def nonzeros(self) -> int:
        """Stored entries of every node block (a dense block counts all of its entries)."""
        return sum(m.nnz if sp.issparse(m) else m.size
                   for row in self.blocks.values() for m in row.values())

    def transposed_product(self, x: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
        """``J_CC^T x`` node by node (x maps every node of the block to a flat vector)."""
        out = {j: np.zeros(self.size[j]) for j in self.nodes}
        for i, row in self.blocks.items():
            for j, matrix in row.items():
                out[j] += matrix.T @ x[i]
        return out

    def reduce(self, b: dict[int, np.ndarray]):
        """The loop system on the feedback nodes: ``(I - K)^T`` and its right-hand side.

        Returns the matrix (dense or sparse, rows and columns in the order of
        ``self.feedback``), the right-hand side ``b_F + T^T b_R`` and T, which
        `back_substitute` does not need but a caller may inspect.
        """
        feedback = self.feedback
        # tangent[r][f] = (T)_{r, f}: how node r of R moves with feedback node f
        tangent: dict[int, dict[int, object]] = {}
        for r in self.rest:
            column: dict[int, object] = {}
            for j, matrix in self.blocks[r].items():
                for f, through in ({j: None} if j in feedback else tangent[j]).items():
                    term = matrix if through is None else _product(matrix, through)
                    column[f] = _sum(column.get(f), term)
            tangent[r] = column
        loop = [[None] * len(feedback) for _ in feedback]
        for a, g in enumerate(feedback):
            for j, matrix in self.blocks[g].items():
                for f, through in ({j: None} if j in feedback else tangent[j]).items():
                    term = matrix if through is None else _product(matrix, through)
                    k = feedback.index(f)
                    loop[a][k] = _sum(loop[a][k], term)
        rhs = []
        for f in feedback:
            # a tangent passed on unchanged (through add, sub) serves several nodes of R:
            # their parts of b are summed before the one product with it
            weights: dict[int, tuple] = {}
            for r in self.rest:
                through = tangent[r].get(f)
                if through is not None:
                    _, weight = weights.get(id(through), (through, 0.0))
                    weights[id(through)] = (through, weight + b[r])
            total = b[f].copy()
            for through, weight in weights.values():
                total += through.T @ weight
            rhs.append(total)
        return self._system(loop), np.concatenate(rhs)

    def _system(self, loop: list[list]):
        """``(I - K)^T`` from the node blocks of the loop map K (a new array when dense)."""
        sizes = [self.size[f] for f in self.feedback]
        dense = any(m is not None and not sp.issparse(m) for row in loop for m in row)
        blocks = [[sp.csr_array((sizes[a], sizes[k])) if m is None else m
                   for k, m in enumerate(row)] for a, row in enumerate(loop)]
        if dense:
            # -K^T, column-major as LAPACK wants it, in one new array
            if len(blocks) == 1:
                system = np.negative(_dense(blocks[0][0]).T)
            else:
                matrix = np.block([[_dense(m) for m in row] for row in blocks])
                system = np.negative(matrix, out=matrix).T
            system[np.diag_indices_from(system)] += 1.0
            return system
        matrix = sp.block_array(blocks, format="csr")
        return (sp.eye_array(matrix.shape[0], format="csr") - matrix.T).tocsr()

    def back_substitute(self, x_feedback: np.ndarray, b: dict[int, np.ndarray]) -> dict:
        """Every node's part of x from the feedback nodes' part (reverse order over R)."""
        x, start = {}, 0
        for f in self.feedback:
            x[f] = x_feedback[start:start + self.size[f]]
            start += self.size[f]
        children: dict[int, list[int]] = {r: [] for r in self.rest}
        for i, row in self.blocks.items():
            for j in row:
                if j in children and i not in children[j]:
                    children[j].append(i)
        for r in reversed(self.rest):
            total = b[r].copy()
            for c in children[r]:
                total += self.blocks[c][r].T @ x[c]
            x[r] = total
        return x
