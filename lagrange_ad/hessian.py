"""``la.hvp`` and ``la.hessian``: second derivatives from the same Lagrangian.

With ``T = A^{-1} E`` the tangent map from the inputs and ``W = sum_i lam_i Hess(p_i)`` the
Hessian of the Lagrangian at the adjoints lam, the Hessian of f is ``H = T^T W T``, so

    H d = E^T mu,   where   A t = E d,   w = W t,   A^T mu = w

(`lagrange_ad.program.second_order` derives it from the KKT system). One Hessian-vector
product costs a tangent sweep, a curvature contraction per node and a second reverse sweep,
after the first-order solve for lam, which a Hessian shares among all its columns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import scipy.sparse as sp

from .colouring import COLOURINGS, HessianColouring, colour, recover, seed_matrix
from .errors import MethodNotApplicableError, NonFiniteError, OptionError, ShapeError
from .grad import program_builder
from .graph.graph import Graph
from .program import hessian_pattern as patterns
from .program.program import Program
from .program.second_order import (
    SecondSystem,
    kkt_solves,
    partials_apply,
    require_second_order,
    right_hand_sides,
    second_adjoints,
)
from .program.values import Reads
from .schedules import get_schedule, solve
from .schedules.registry import require_converged
from .schedules.reverse import sweep_form

# schedules that solve A^T x = rhs for the right-hand side their program gives, so that
# they solve the second adjoint system handed a `SecondSystem` (checked against the reverse
# sweep by the tests); the others build e_N into what they compute
SECOND_ADJOINT_METHODS = ("reverse", "gauss-seidel", "jacobi", "spsolve", "gmres", "bicgstab",
                          "lsqr", "nlp", "dual-descent")
REFUSALS = {
    "forward": "its tangent sweeps read the multipliers off the output's tangent, which "
               "computes e_N^T A^{-1} alone",
    "paths": "its sum over paths ends every path at the output node N (the right-hand side "
             "e_N)",
    "cvxpy": "its convex program maximizes v_N, with e_N built into the objective",
    "unrolled": "it unrolls the iteration for the right-hand side e_N alone",
}


class SecondOrder:
    """A program's multipliers, ready for Hessian-vector products at its point.

    Parameters
    ----------
    program : Program
        A program with a scalar output and curvature rules on every node that depends on an
        input; on a graph with cycles its values are the fixed point and A must be
        nonsingular there.
    method : str
        The schedule that solves both adjoint systems (each solution must converge): one of
        `SECOND_ADJOINT_METHODS`. The reverse sweep starts from w itself; the other schedules
        solve the program with w in place of ``e_N`` (`SecondSystem`).
    **options
        Passed to the schedule, for both systems.

    Notes
    -----
    The products run in the form (`lagrange_ad.program.second_order.FORMS`) that the reverse
    sweep would choose for this program (`sweep_form`): over the assembled A when its local
    Jacobian is sparse, else by rules; on a graph with cycles always over the assembled A.
    """

    def __init__(self, program: Program, method: str = "reverse", **options):
        schedule = get_schedule(method)
        if schedule.name not in SECOND_ADJOINT_METHODS:
            why = REFUSALS.get(schedule.name, "it is not known to take a general right-hand side")
            raise MethodNotApplicableError(
                f"method {schedule.name!r} cannot solve the second adjoint system "
                f"A^T mu = W t: {why}; use one of {', '.join(SECOND_ADJOINT_METHODS)}")
        program.require_scalar_output()
        require_second_order(program)
        # every multiplier is read (W weighs each node's curvature by its own)
        options = {**{k: False for k in ("check", "gradient_only") if k in schedule.options},
                   **options}
        solution = require_converged(solve(program, schedule, **options),
                                     "the multipliers of the Hessian")
        self.program, self.schedule, self.options = program, schedule, options
        self.multipliers = solution.multipliers
        # on a cyclic graph only the assembled A gives the tangents (no topological order)
        self.form = "partials" if partials_apply(program) and (
            not program.graph.is_acyclic or sweep_form(program) == "partials") else "rules"
        self._solves = kkt_solves(program) if self.form == "partials" else None

    def hvp(self, direction: Sequence) -> tuple[np.ndarray, ...]:
        """``H d``, one array per input shaped like it, for ``d`` with one array per input."""
        graph = self.program.graph
        if len(direction) != graph.n_inputs:
            raise ShapeError(f"a direction needs one tangent per input ({graph.n_inputs}); got "
                             f"{len(direction)}")
        for i, d in enumerate(direction):
            if np.shape(d) != graph.shape(i):
                raise ShapeError(f"the tangent of input {graph.name(i)} has shape "
                                 f"{np.shape(d)}; expected {graph.shape(i)}")
        with np.errstate(all="ignore"):  # a NaN or infinity is named below
            mu = self._second_adjoints(direction)
        bad = mu.first_nonfinite()
        if bad is not None:
            raise NonFiniteError(
                f"the second adjoint of node {graph.describe(bad)} is not finite: a second "
                f"derivative does not exist at this point (or overflows); try a point inside "
                f"the domain of every primitive's second derivative")
        return tuple(np.asarray(mu[i]) for i in range(graph.n_inputs))

    def _second_adjoints(self, direction: Sequence):
        if self.schedule.name == "reverse":
            return second_adjoints(self.program, self.multipliers, direction, self.form,
                                   self._solves)
        w = right_hand_sides(self.program, self.multipliers, direction, self.form, self._solves)
        system = SecondSystem(self.program, w)
        solution = solve(system, self.schedule, **self.options)
        return require_converged(solution, "the second adjoints",
                                 system.residual_name).multipliers

    def matrix(self) -> np.ndarray:
        """H over the flattened input entries, one product per entry (columns of H)."""
        return self.products(np.eye(int(self.program.graph.offsets[self.program.graph.n_inputs])))

    def products(self, seeds: np.ndarray) -> np.ndarray:
        """``H S`` over the flattened input entries: one product per column of ``seeds``.

        ``seeds`` has a row per input entry (the inputs flattened in C order, one after
        another); all products share this object's multipliers (one first-order solve).
        """
        graph = self.program.graph
        seeds = np.asarray(seeds, np.float64)
        out = np.zeros(seeds.shape)
        for c in range(seeds.shape[1]):
            direction = [seeds[graph.offsets[i]:graph.offsets[i + 1], c].reshape(graph.shape(i))
                         for i in range(graph.n_inputs)]
            out[:, c] = np.concatenate([np.ravel(h) for h in self.hvp(direction)] or
                                       [np.zeros(0)])
        return out


def _programs(f: Callable | Graph, method: str, options: dict):
    # la.grad's own way from f to a program
    return program_builder(f, Reads.by_schedule(get_schedule(method).name, options))


def hvp(f: Callable | Graph, method: str = "reverse",
        **options) -> Callable[[Sequence, Sequence], tuple[np.ndarray, ...]]:
    """The Hessian-vector product function of a scalar-valued ``f``, or of a traced graph.

    Parameters
    ----------
    f : callable or Graph
        As for `la.grad`: a function traced anew at each point, or a graph from `la.trace`.
    method : str
        The schedule of both adjoint systems (see `SecondOrder`).
    **options
        Passed to the schedule of the first adjoint system.

    Returns
    -------
    callable
        ``product(primals, tangents)``: two tuples with one entry per argument of f (the
        convention of JAX's ``jvp``); returns ``H d`` as a tuple shaped like the primals.

    Notes
    -----
    ``H d = E^T mu`` with ``A t = E d`` (tangent sweep), ``w = W t`` (curvature rules) and
    ``A^T mu = w`` (reverse sweep from w); see `lagrange_ad.program.second_order`.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> hv = la.hvp(lambda x, y: x * x * y)
    >>> [float(h) for h in hv((3.0, 2.0), (1.0, 0.0))]
    [4.0, 6.0]
    """
    program_at, name = _programs(f, method, options)

    def product(primals: Sequence, tangents: Sequence) -> tuple[np.ndarray, ...]:
        primals, tangents = tuple(primals), tuple(tangents)
        if len(primals) != len(tangents):
            raise ShapeError(f"hvp takes one tangent per primal; got {len(primals)} primals "
                             f"and {len(tangents)} tangents")
        return SecondOrder(program_at(*primals), method, **options).hvp(tangents)

    product.__name__ = f"hvp_{name}"
    return product


def hessian(f: Callable | Graph, method: str = "reverse",
            sparsity: str | np.ndarray | sp.sparray | sp.spmatrix | None = None,
            colouring: str = "distance-2", return_info: bool = False, **options) -> Callable:
    """The Hessian function of a scalar-valued ``f``, or of a traced graph.

    Parameters
    ----------
    f : callable or Graph
        As for `la.grad`: a function traced anew at each point, or a graph from `la.trace`.
    method : str
        The schedule of both adjoint systems (see `SecondOrder`).
    sparsity : None, "auto", scipy.sparse matrix or array_like of bool
        None (the default): the dense Hessian, one product per input entry. ``"auto"``: the
        pattern read from the graph at each point (`hessian_pattern`), and one product per
        colour of its columns. A matrix: that pattern, of shape ``(n, n)`` over the
        flattened input entries, made symmetric; it must hold every nonzero of H (an entry
        outside it is not computed and spoils the entries of its colour).
    colouring : {"distance-2", "star"}
        With a sparsity, how the columns are coloured: ``"distance-2"`` (the default) so that
        no row has nonzeros in two columns of one colour, each entry read where its column
        is (`lagrange_ad.colouring.column_colouring`); ``"star"`` so that every entry can be
        read from one side of the symmetric H (`lagrange_ad.colouring.star_colouring`), which
        usually needs fewer colours, far fewer when a row is dense (an arrowhead: two).
    return_info : bool
        Also return a `lagrange_ad.colouring.HessianColouring`: the pattern, the colours
        and ``products``, the number of Hessian-vector products used.
    **options
        Passed to the schedule of the first adjoint system.

    Returns
    -------
    callable
        ``h(*args)``. Dense: for one argument x an array of shape ``x.shape + x.shape``;
        for several, a tuple of tuples whose block ``[a][b]`` has shape
        ``args[a].shape + args[b].shape`` (``d^2 f / d args[a] d args[b]``). With a
        sparsity: a ``scipy.sparse.csr_array`` of shape ``(n, n)`` over all arguments
        flattened in C order one after another, storing every entry of the pattern. With
        ``return_info``: the pair ``(H, info)``.

    Notes
    -----
    All products share one trace, one forward pass and one first-order solve for lam; each
    then costs a tangent solve ``A t = E d`` and a second adjoint solve ``A^T mu = W t``.
    With a pattern, the columns are coloured so that no row has nonzeros in two columns of
    one colour (`lagrange_ad.colouring.column_colouring`, greedy, largest first); with the
    seed matrix ``S[j, colour(j)] = 1`` one product per colour gives ``B = H S`` and
    ``H[i, j] = B[i, colour(j)]`` on the pattern. A diagonal Hessian takes one product, a
    tridiagonal one three.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> la.hessian(lambda x: la.sum(x ** 3.0))(np.array([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    >>> h, info = la.hessian(lambda x: la.sum(x ** 3.0), sparsity="auto",
    ...                      return_info=True)(np.array([1.0, 2.0, 3.0]))
    >>> h.toarray().diagonal().tolist(), info.products
    ([6.0, 12.0, 18.0], 1)
    """
    program_at, name = _programs(f, method, options)
    if not (sparsity is None or _is_auto(sparsity)):
        sparsity = _given_pattern(sparsity)
    if colouring not in COLOURINGS:
        raise OptionError(f"colouring={colouring!r} is not known; write one of "
                          f"{', '.join(map(repr, COLOURINGS))}")

    def hess(*args):
        second = SecondOrder(program_at(*args), method, **options)
        if sparsity is not None:
            result, info = _coloured(second, sparsity, colouring)
            return (result, info) if return_info else result
        result = _dense_blocks(second.matrix(), second.program.graph)
        result = result[0][0] if len(args) == 1 else result
        if not return_info:
            return result
        n = int(second.program.graph.offsets[second.program.graph.n_inputs])
        return result, HessianColouring(sp.csr_array(np.ones((n, n), bool)), np.arange(n))

    hess.__name__ = f"hessian_{name}"
    return hess


def _dense_blocks(full: np.ndarray, graph: Graph) -> tuple:
    """H over the flattened inputs cut into blocks ``[a][b]`` shaped like the arguments."""
    offsets, shapes = graph.offsets, [graph.shape(i) for i in range(graph.n_inputs)]
    return tuple(tuple(
        full[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]].reshape(
            shapes[a] + shapes[b]) for b in range(graph.n_inputs))
        for a in range(graph.n_inputs))


def _coloured(second: SecondOrder, sparsity, colouring: str) -> tuple:
    """H as CSR from one product per colour of the pattern's columns, and how it was found."""
    graph = second.program.graph
    n = int(graph.offsets[graph.n_inputs])
    pattern = patterns.hessian_pattern(second.program) if _is_auto(sparsity) else sparsity
    if pattern.shape != (n, n):
        raise ShapeError(f"the sparsity pattern has shape {pattern.shape}; the Hessian over "
                         f"the {n} input entries has shape {(n, n)}")
    colours = colour(pattern, colouring)
    h = recover(pattern, colours, second.products(seed_matrix(colours)), colouring)
    return h, HessianColouring(pattern, colours, colouring)


def _is_auto(sparsity) -> bool:
    return isinstance(sparsity, str) and sparsity == "auto"


def _given_pattern(sparsity) -> sp.csr_array:
    """A user's pattern as a symmetric boolean CSR array, or `OptionError` saying what fits."""
    if isinstance(sparsity, str):
        raise OptionError(f"sparsity={sparsity!r} is not known; write sparsity='auto' for the "
                          f"pattern read from the graph, a boolean matrix for your own, or "
                          f"None for the dense Hessian")
    pattern = sp.csr_array(sparsity) if sp.issparse(sparsity) else \
        sp.csr_array(np.asarray(sparsity))
    if pattern.ndim != 2 or pattern.shape[0] != pattern.shape[1]:
        raise ShapeError(f"a sparsity pattern is a square matrix over the input entries; got "
                         f"shape {pattern.shape}")
    pattern = (pattern != 0).astype(bool)
    pattern = (pattern + pattern.T).astype(bool).tocsr()
    pattern.eliminate_zeros()
    return pattern


def hessian_pattern(f: Callable | Graph) -> Callable[..., sp.csr_array]:
    """The sparsity pattern function of the Hessian of a scalar-valued ``f``, or of a graph.

    Parameters
    ----------
    f : callable or Graph
        As for `la.grad`: a function traced anew at each point, or a graph from `la.trace`.

    Returns
    -------
    callable
        ``pattern(*args)``: a symmetric boolean ``scipy.sparse.csr_array`` of shape
        ``(n, n)`` over all arguments flattened in C order one after another, true wherever
        H can be nonzero at that point. No derivative is computed.

    Notes
    -----
    The dependency of every node entry on the input entries is propagated in topological
    order through each row's Jacobian pattern; each node with curvature then pairs the input
    entries its output entries depend on, as its structure allows (elementwise rows entry by
    entry, multilinear rows across operands, other rows all together); see
    `lagrange_ad.program.hessian_pattern`. `la.hessian` with ``sparsity="auto"`` colours
    its columns.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> rosenbrock = lambda x: la.sum((x[1:] - x[:-1] ** 2) ** 2)
    >>> la.hessian_pattern(rosenbrock)(np.ones(4)).toarray().astype(int)
    array([[1, 1, 0, 0],
           [1, 1, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 1, 1]])
    """
    program_at, name = _programs(f, "reverse", {})

    def pattern(*args) -> sp.csr_array:
        return patterns.hessian_pattern(program_at(*args))

    pattern.__name__ = f"hessian_pattern_{name}"
    return pattern
