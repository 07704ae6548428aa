"""Colouring the columns of a sparse matrix, and recovering it from one product per colour.

Two columns of a pattern P are *structurally orthogonal* when no row has a nonzero in both.
If the columns of every colour are, the product ``B = H S`` with the seed matrix
``S[j, c] = 1`` for the colour c of column j (zero elsewhere) holds each nonzero of H
uncompressed: ``H[i, j] = B[i, colour(j)]``, because row i of colour c's column of B sums
``H[i, l]`` over the columns l of colour c, and at most one of them, j, is nonzero in row i.

For a symmetric H this is a distance-2 colouring of H's adjacency graph (vertices are the
columns, edges the off-diagonal nonzeros; two columns within two edges of each other get
different colours) when the diagonal is nonzero; in general it is a colouring of the column
intersection graph ``P^T P`` (Curtis, Powell and Reid, 1974; Coleman and More, 1984), which
is what `column_colouring` computes.

A symmetric H can also be read from either side: ``H[i, j] = B[j, colour(i)]`` when i is
alone in its colour in row j. `star_colouring` asks only that every nonzero be readable from
one side (a symmetrically orthogonal partition, a star colouring of the adjacency graph),
which lets the many columns a dense row meets share colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


def column_colouring(pattern) -> np.ndarray:
    """A colour per column of ``pattern``, structurally orthogonal columns sharing colours.

    Parameters
    ----------
    pattern : scipy.sparse matrix or array_like of bool, shape (m, n)
        Where the matrix can be nonzero.

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        Colours ``0, 1, ...``; two columns with a nonzero in a common row differ in colour.
        A column without nonzeros gets -1: no product is needed for it.

    Notes
    -----
    Greedy colouring of the column intersection graph ``C = P^T P`` (columns j and l are
    adjacent when some row has nonzeros in both) in largest-first order: the columns sorted
    by their degree in C, largest first (ties by column index), each given the smallest
    colour none of its already coloured neighbours has. At most ``1 + max degree`` colours;
    a banded matrix of bandwidth b (``H[i, j] = 0`` for ``|i - j| > b``) needs ``2b + 1``
    in the worst case and a column that meets every row forces one colour per column.

    Examples
    --------
    >>> import numpy as np
    >>> from lagrange_ad.colouring import column_colouring
    >>> column_colouring(np.eye(4, dtype=bool)).tolist()
    [0, 0, 0, 0]
    >>> tridiagonal = np.abs(np.subtract.outer(np.arange(5), np.arange(5))) <= 1
    >>> column_colouring(tridiagonal).tolist()
    [2, 1, 0, 2, 1]
    """
    p = _pattern(pattern)
    nonempty = np.flatnonzero(np.diff(p.tocsc().indptr) > 0)
    if nonempty.size and np.diff(p.indptr).max() == nonempty.size:
        # a row meets every nonempty column: all are adjacent, and in the largest-first
        # order (equal degrees, so by index) each takes the next colour; C is not formed
        colours = np.full(p.shape[1], -1, np.int64)
        colours[nonempty] = np.arange(nonempty.size)
        return colours
    intersections = (p.T @ p).tocsr()
    intersections.sum_duplicates()
    ptr, idx = intersections.indptr, intersections.indices
    degree = np.diff(ptr)
    n = p.shape[1]
    colours = np.full(n, -1, np.int64)
    taken = np.zeros(n + 1, bool)  # scratch: the colours of one column's neighbours
    for j in np.argsort(-degree, kind="stable").tolist():
        if degree[j] == 0:  # an empty column (a nonempty one meets itself)
            continue
        neighbours = colours[idx[ptr[j]:ptr[j + 1]]]
        neighbours = neighbours[neighbours >= 0]
        taken[neighbours] = True
        colours[j] = int(np.argmin(taken))  # the smallest colour not taken
        taken[neighbours] = False
    return colours


def seed_matrix(colours: np.ndarray) -> np.ndarray:
    """``S`` with ``S[j, colours[j]] = 1``: one column of directions per colour (a column
    coloured -1 is in none)."""
    colours = np.asarray(colours, np.int64)
    seeds = np.zeros((colours.size, int(colours.max(initial=-1)) + 1))
    coloured = np.flatnonzero(colours >= 0)
    seeds[coloured, colours[coloured]] = 1.0
    return seeds


def star_colouring(pattern) -> np.ndarray:
    """A colour per column of a symmetric pattern, read back through its symmetry.

    Parameters
    ----------
    pattern : scipy.sparse matrix or array_like of bool, shape (n, n)
        Where the symmetric matrix can be nonzero (made symmetric; every nonempty column
        counts as holding its diagonal entry).

    Returns
    -------
    numpy.ndarray of int, shape (n,)
        Colours ``0, 1, ...``, -1 for an empty column. Every nonzero ``H[i, j]`` can be read
        from one side: j is the only column of its colour in row i, or i the only one of
        its colour in row j (`recover` with ``kind="star"``).

    Notes
    -----
    A symmetrically orthogonal partition (Coleman and More, 1984), which is a star colouring
    of the adjacency graph: adjacent columns differ in colour and no path on four vertices
    has only two colours. Greedy in the largest-first order of `column_colouring`: each
    column takes the smallest colour that keeps every nonzero between coloured columns
    readable from one side. Giving column v colour c changes the rows v meets, so it checks
    the new entries ``(v, i)`` and the entries ``(a, b)`` of the rows ``a`` next to v whose
    column b of colour c was alone in its colour there. An arrowhead takes two colours where
    `column_colouring` needs one per column; a tridiagonal matrix takes three.

    Examples
    --------
    >>> import numpy as np
    >>> from lagrange_ad.colouring import star_colouring
    >>> arrowhead = np.eye(5, dtype=bool)
    >>> arrowhead[-1, :] = arrowhead[:, -1] = True
    >>> star_colouring(arrowhead).tolist()
    [1, 1, 1, 1, 0]
    """
    p = _with_diagonal(_pattern(pattern))
    ptr, idx = p.indptr, p.indices
    n = p.shape[1]
    neighbours = [[j for j in idx[ptr[v]:ptr[v + 1]].tolist() if j != v] for v in range(n)]
    colours = [-1] * n
    counts: list[dict] = [{} for _ in range(n)]  # per row, how many coloured entries of a colour
    for v in np.argsort(-np.diff(ptr), kind="stable").tolist():
        if ptr[v] == ptr[v + 1]:
            continue
        taken = {colours[u] for u in neighbours[v]}
        c = 0
        while c in taken or not _readable(v, c, neighbours, colours, counts):
            c += 1
        colours[v] = c
        for a in neighbours[v] + [v]:
            counts[a][c] = counts[a].get(c, 0) + 1
    return np.array(colours, np.int64)


def _readable(v: int, c: int, neighbours: list, colours: list, counts: list) -> bool:
    """Whether colour c for column v keeps every entry between coloured columns readable."""
    for i in neighbours[v]:
        if colours[i] >= 0 and counts[i].get(c, 0) > 0 and counts[v].get(colours[i], 0) > 1:
            return False  # (v, i): v shares c in row i and i shares its colour in row v
        if counts[i].get(c, 0) != 1 or colours[i] < 0:
            continue
        # row i held one column b of colour c, readable there until now: b must read i
        for b in neighbours[i]:
            if colours[b] == c and b != v and counts[b].get(colours[i], 0) > 1:
                return False
    return True


def recover(pattern, colours: np.ndarray, compressed: np.ndarray,
            kind: str = "distance-2") -> sp.csr_array:
    """H from ``compressed = H S`` on the pattern, for colours of the given kind.

    ``"distance-2"``: ``H[i, j] = compressed[i, colours[j]]``. ``"star"`` (a symmetric H):
    the same where j is alone in its colour in row i, else ``compressed[j, colours[i]]``.
    Every entry of the pattern is stored (an entry zero at this point stays in the
    structure); entries outside the pattern are zero.
    """
    p = _pattern(pattern).tocoo()
    rows, cols = p.row, p.col
    colours = np.asarray(colours)
    compressed = np.asarray(compressed)
    values = compressed[rows, colours[cols]]
    if kind == "star":
        full = _with_diagonal(_pattern(pattern)).tocoo()
        width = int(colours.max(initial=-1)) + 1
        members = np.bincount(full.row * width + colours[full.col], minlength=p.shape[0] * width)
        shared = members[rows * width + colours[cols]] > 1
        values[shared] = compressed[cols[shared], colours[rows[shared]]]
    return sp.csr_array((values, (rows, cols)), shape=p.shape)


def colour(pattern, kind: str = "distance-2") -> np.ndarray:
    """The colours of `column_colouring` (``"distance-2"``) or `star_colouring` (``"star"``)."""
    return COLOURINGS[kind](pattern)


COLOURINGS = {"distance-2": column_colouring, "star": star_colouring}


@dataclass(frozen=True)
class HessianColouring:
    """How a sparse Hessian was computed: its pattern and one Hessian-vector product per colour.

    Attributes
    ----------
    pattern : scipy.sparse.csr_array of bool, shape (n, n)
        Where H can be nonzero, over the flattened input entries.
    colours : numpy.ndarray of int, shape (n,)
        The colour of each column, -1 for a column without nonzeros.
    kind : str
        ``"distance-2"`` (`column_colouring`) or ``"star"`` (`star_colouring`).
    """

    pattern: sp.csr_array
    colours: np.ndarray
    kind: str = "distance-2"

    @property
    def products(self) -> int:
        """The number of Hessian-vector products used: one per colour."""
        return int(self.colours.max(initial=-1)) + 1


def _pattern(pattern) -> sp.csr_array:
    """A pattern as a boolean CSR array."""
    if sp.issparse(pattern):
        return sp.csr_array(pattern).astype(bool)
    return sp.csr_array(np.asarray(pattern, dtype=bool))


def _with_diagonal(p: sp.csr_array) -> sp.csr_array:
    """The symmetric pattern ``p | p^T`` with the diagonal of every nonempty column."""
    p = (p + p.T).astype(bool).tocsr()
    nonempty = np.flatnonzero(np.diff(p.indptr) > 0)
    diagonal = sp.csr_array((np.ones(nonempty.size, bool), (nonempty, nonempty)), shape=p.shape)
    return (p + diagonal).astype(bool).tocsr()
