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

from .errors import MethodNotApplicableError, NonFiniteError, ShapeError
from .grad import program_builder
from .graph.graph import Graph
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
        graph = self.program.graph
        n = int(graph.offsets[graph.n_inputs])
        columns = np.zeros((n, n))
        for c in range(n):
            unit = np.zeros(n)
            unit[c] = 1.0
            direction = [unit[graph.offsets[i]:graph.offsets[i + 1]].reshape(graph.shape(i))
                         for i in range(graph.n_inputs)]
            columns[:, c] = np.concatenate([np.ravel(h) for h in self.hvp(direction)] or
                                           [np.zeros(0)])
        return columns


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


def hessian(f: Callable | Graph, method: str = "reverse", **options) -> Callable:
    """The Hessian function of a scalar-valued ``f``, or of a traced graph.

    Returns
    -------
    callable
        ``h(*args)``: for one argument x an array of shape ``x.shape + x.shape``; for several,
        a tuple of tuples whose block ``[a][b]`` has shape ``args[a].shape + args[b].shape``
        (``d^2 f / d args[a] d args[b]``). One Hessian-vector product per input entry, all
        sharing one first-order solve.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> la.hessian(lambda x: la.sum(x ** 3.0))(np.array([1.0, 2.0])).tolist()
    [[6.0, 0.0], [0.0, 12.0]]
    """
    program_at, name = _programs(f, method, options)

    def hess(*args):
        program = program_at(*args)
        full = SecondOrder(program, method, **options).matrix()
        graph = program.graph
        offsets, shapes = graph.offsets, [graph.shape(i) for i in range(graph.n_inputs)]
        blocks = tuple(tuple(
            full[offsets[a]:offsets[a + 1], offsets[b]:offsets[b + 1]].reshape(
                shapes[a] + shapes[b]) for b in range(graph.n_inputs))
            for a in range(graph.n_inputs))
        return blocks[0][0] if len(args) == 1 else blocks

    hess.__name__ = f"hessian_{name}"
    return hess
