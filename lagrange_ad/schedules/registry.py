"""The registry of schedules, and `solve`, which runs one by name.

Every schedule solves the same KKT system ``A^T lam = e_N`` of a `Program` and has the same
signature, ``run(program, **options) -> Outcome``; `solve` wraps the outcome into a `Solution`
with timings, the gradient and checks. Before a schedule runs, `solve` asks it three things:

1. Its options (``accepts``): every option given must be declared, of the declared type and
   in range, and apply to this program (`lagrange_ad.schedules.options`); anything else is an
   `OptionError` that lists what the schedule accepts.
2. Whether it can handle the program at all (``refuses(program, options) -> reason | None``);
   a reason becomes `MethodNotApplicableError`.
3. What it will cost (``cost(program, options) -> Cost``, in multiply-adds; one sweep when
   not given), refused with `BudgetError` above the budget (`lagrange_ad.schedules.budget`).

How a schedule declares its options and cost::

    from .budget import per_iteration
    from .options import integer, real

    def _run(program, *, tol=1e-12, maxiter=None):    # keyword options with defaults
        ...                                              # call check_time(k) once per iteration

    register_schedule(Schedule(
        name="my-iteration", run=_run, summary="one line for listings",
        accepts=(real("tol", 1e-12, "stop when ||res|| <= tol", low=0),
                 integer("maxiter", None, "cap (None: 10 * entries)", low=1, none=True)),
        cost=lambda program, options: per_iteration(
            options.get("maxiter") or 10 * program.graph.total_size,
            program.total_multiply_adds, "one product with J^T"),
    ))

The declared names and defaults must match ``run``'s keyword parameters (checked when the
`Schedule` is made). A schedule made without ``accepts`` knows its option names from
``run``'s signature and has them checked by name only.
"""

from __future__ import annotations

import inspect
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ..errors import (
    BudgetError,
    ConvergenceError,
    LagrangeADError,
    MethodNotApplicableError,
    NonFiniteError,
    OptionError,
    UnknownMethodError,
)
from ..program.program import Program
from ..program.vectors import NodeVector
from .budget import (
    DEFAULT_BUDGET,
    Cost,
    check_budget,
    check_time_limit,
    one_sweep,
    over_budget,
)
from .budget import time_limit as limited_time
from .options import Option, listing, signature_mismatch, validate
from .solution import Solution, SolveStats


@dataclass(frozen=True)
class Outcome:
    """What a schedule's ``run`` returns: the multipliers and how it got them.

    ``multipliers`` is the flat vector, or a `NodeVector` (tensor graphs, kept node by node).
    """

    multipliers: np.ndarray | NodeVector
    iterations: int
    converged: bool
    residuals: Sequence[float]
    multiply_adds: int
    message: str = ""
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Schedule:
    """A named way of solving ``A^T lam = e_N``.

    Parameters
    ----------
    name : str
        The key in ``la.SCHEDULES`` and the ``method=`` that selects it.
    run : callable
        ``run(program, **options) -> Outcome``.
    summary : str
        One line for listings.
    refuses : callable, optional
        ``refuses(program, options) -> str | None``: the reason it cannot handle a program.
    accepts : tuple of Option, optional
        Its declared options, in the order of ``run``'s keyword parameters, with the same
        defaults (see `lagrange_ad.schedules.options`).
    cost : callable, optional
        ``cost(program, options) -> Cost | None``: the multiply-adds it will spend, estimated
        before it starts (an upper bound where only an iteration cap is known); one sweep when
        omitted or when it answers None.
    """

    name: str
    run: Callable[..., Outcome]
    summary: str
    refuses: Callable[[Program, dict], str | None] | None = None
    accepts: tuple[Option, ...] | None = None
    cost: Callable[[Program, dict], Cost | None] | None = None

    def __post_init__(self):
        if self.accepts is not None:
            mismatch = signature_mismatch(self.accepts, _keywords(self.run))
            if mismatch:
                raise ValueError(f"schedule {self.name!r} {mismatch}")

    @cached_property
    def options(self) -> tuple[str, ...]:
        """The names of the options it accepts (``run``'s keyword parameters)."""
        if self.accepts is not None:
            return tuple(option.name for option in self.accepts)
        return tuple(_keywords(self.run))

    def describe_options(self) -> str:
        """Its options, one per line: name, type and range, default, meaning."""
        if self.accepts is None:
            return "\n".join(f"  {name} (default {default!r})"
                             for name, default in _keywords(self.run).items()) or "  (none)"
        return listing(self.accepts)

    def check_options(self, program: Program, options: dict) -> None:
        """Raise `OptionError` unless every option is declared, well typed, in range and
        applicable to ``program``; the message lists what the schedule accepts."""
        if not options:
            return
        problem = validate(self.name, self.accepts, self.options, program, options,
                           lambda: {name: schedule.options for name, schedule in SCHEDULES.items()
                                    if name != self.name})
        if problem:
            raise OptionError(f"{problem}; its options are: {', '.join(self.options) or 'none'}"
                              f" (la.SCHEDULES[{self.name!r}].describe_options() explains them)")

    def estimate(self, program: Program, options: dict) -> Cost:
        """The multiply-adds a run with ``options`` will spend (one sweep without a rule)."""
        cost = self.cost(program, options) if self.cost is not None else None
        return cost if cost is not None else one_sweep(program, options)


def _keywords(run: Callable) -> dict[str, object]:
    """``run``'s keyword parameters after the program, with their defaults."""
    parameters = list(inspect.signature(run).parameters.values())[1:]
    return {p.name: (None if p.default is inspect.Parameter.empty else p.default)
            for p in parameters}


SCHEDULES: dict[str, Schedule] = {}


def register_schedule(schedule: Schedule) -> Schedule:
    """Make a schedule available to `solve` by its name.

    A second registration of a name is an error unless it comes from the same function (a
    module imported twice, as doctest collection does), which replaces the first.
    """
    known = SCHEDULES.get(schedule.name)
    if known is not None and _origin(known.run) != _origin(schedule.run):
        raise ValueError(f"schedule {schedule.name!r} is already registered")
    SCHEDULES[schedule.name] = schedule
    return schedule


def choice_problem(option: str, value, choices: tuple[str, ...], otherwise: str = "") -> str | None:
    """Why ``option=value`` is not one of ``choices`` (for a schedule's ``refuses``), or None."""
    if value in choices:
        return None
    return (f"{option}={value!r} is unknown; use one of {', '.join(map(repr, choices))}"
            + (f" or {otherwise}" if otherwise else ""))


def _origin(function) -> tuple[str, str]:
    return getattr(function, "__module__", ""), getattr(function, "__qualname__", "")


def get_schedule(method: str | Schedule) -> Schedule:
    """The schedule called ``method`` (or ``method`` itself when it is a `Schedule`)."""
    if isinstance(method, Schedule):
        return method
    try:
        return SCHEDULES[method]
    except (KeyError, TypeError):
        valid = ", ".join(repr(name) for name in SCHEDULES)
        raise UnknownMethodError(f"unknown method {method!r}; valid methods are: {valid}") from None


def solve(program: Program, method: str | Schedule = "reverse", *, track_memory: bool = False,
          budget: float = DEFAULT_BUDGET, time_limit: float | None = None,
          **options) -> Solution:
    """Solve the KKT system ``A^T lam = e_N`` of ``program`` with the schedule ``method``.

    Parameters
    ----------
    program : Program
        The program (graph and point) whose multipliers are wanted.
    method : str or Schedule
        A registered schedule name (see ``la.SCHEDULES``) or a `Schedule`.
    track_memory : bool
        Record the peak memory allocated during the solve, beyond what was allocated before
        it (slower: every allocation is traced).
    budget : float
        The most multiply-adds the schedule may be expected to spend (its estimate, made
        before it starts); default 10**9. Work within 10 sweeps is always allowed;
        ``math.inf`` switches the check off (`lagrange_ad.schedules.budget`).
    time_limit : float, optional
        Seconds after which an iterating schedule stops with `BudgetError`.
    **options
        Passed to the schedule; each is checked against its declaration first.

    Returns
    -------
    Solution
        Also when an iterative schedule stopped at its cap (``converged=False``); callers
        that need an answer pass it through `require_converged`.

    Raises
    ------
    UnknownMethodError
        For a name that is not registered.
    OptionError
        For an option the schedule does not accept, of the wrong type, out of range or
        inapplicable to the program; the message lists the schedule's options.
    MethodNotApplicableError
        When the schedule cannot handle this program; the message says why.
    BudgetError
        When its estimated cost exceeds ``budget``, or it ran past ``time_limit``.
    NonFiniteError
        When a multiplier is NaN or infinite; names the node whose local derivative caused it.

    Notes
    -----
    Setting ``grad_v L = 0`` for ``L = v_N - sum_i lam_i (v_i - p_i(v_Pa(i)))`` gives
    ``lam_j = [j = N] + sum_{i : j in Pa(i)} lam_i d p_i / d v_j``, that is ``A^T lam = e_N``.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> program = la.Program(la.trace(lambda x: la.exp(la.sin(x)), 1.0))
    >>> float(la.solve(program, "reverse").gradient[0])  # cos(1) exp(sin(1))
    1.25338...
    """
    if not isinstance(program, Program):
        raise LagrangeADError(f"solve needs a Program; got {type(program).__name__} "
                              f"(wrap a graph as la.Program(graph))")
    schedule = get_schedule(method)
    budget, seconds = check_budget(budget), check_time_limit(time_limit)
    schedule.check_options(program, options)
    program.require_scalar_output()
    if schedule.refuses is not None:
        reason = schedule.refuses(program, options)
        if reason:
            raise MethodNotApplicableError(f"method {schedule.name!r} cannot solve this "
                                           f"program: {reason}")
    # one sweep, the charge of a schedule without a cost rule (or whose rule answers None),
    # is always within the budget: it is not even counted
    cost = schedule.cost(program, options) if schedule.cost is not None else None
    reason = cost is not None and over_budget(schedule.name, cost, program, budget)
    if reason:
        raise BudgetError(reason)
    # a caller that is already tracing keeps its trace; only the peak is reset
    tracing_before = tracemalloc.is_tracing()
    if track_memory:
        tracemalloc.reset_peak() if tracing_before else tracemalloc.start()
        baseline = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    try:
        with limited_time(schedule.name, seconds):
            outcome = schedule.run(program, **options)
    finally:
        wall = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - baseline if track_memory else None
        if track_memory and not tracing_before:
            tracemalloc.stop()
    multipliers = outcome.multipliers
    if not isinstance(multipliers, NodeVector):
        multipliers = NodeVector(program.graph, multipliers, copy=False)
    bad = multipliers.first_nonfinite()
    if bad is not None:
        raise NonFiniteError(describe_nonfinite(program, bad, schedule.name))
    return Solution(
        method=schedule.name,
        multipliers=multipliers,
        gradient=tuple(multipliers[i] for i in program.graph.inputs),
        iterations=int(outcome.iterations),
        converged=bool(outcome.converged),
        residuals=np.array(outcome.residuals, dtype=np.float64),
        stats=SolveStats(int(outcome.multiply_adds), wall, peak, dict(outcome.extra)),
        message=outcome.message,
    )


def describe_nonfinite(program: Program, node: int, method: str) -> str:
    """Why multipliers came out NaN or infinite: the first node with a non-finite partial."""
    culprit = program.nonfinite_partial()
    if culprit is not None:
        return f"{culprit} (method {method!r})"
    return (f"method {method!r} produced a non-finite multiplier at node "
            f"{program.graph.describe(node)} although every local derivative is finite: the "
            f"products overflowed or the iteration diverged")


def require_converged(solution: Solution, what: str = "the gradient",
                      residual_name: str = "||e_N - A^T lam||") -> Solution:
    """``solution`` itself when its schedule converged; else raise `ConvergenceError`.

    Every function that hands derivatives to a caller (`la.grad`, `la.verify`) calls this, so
    that an iteration stopped at its cap never passes for an answer; `solve` itself returns
    unconverged solutions, for those who study the iteration.

    Parameters
    ----------
    solution : Solution
    what : str
        What the caller was going to return, for the message.
    residual_name : str
        How the message names the residual: that of the system the solution solved.

    Returns
    -------
    Solution

    Raises
    ------
    ConvergenceError
        Naming the schedule, its iterations and last KKT residual, and what to try instead.

    Examples
    --------
    >>> import lagrange_ad as la
    >>> program = la.Program(la.trace(lambda x: la.sin(la.sin(la.sin(x))), 1.0))
    >>> require_converged(la.solve(program, "jacobi", maxiter=1))
    Traceback (most recent call last):
    ...
    lagrange_ad.errors.ConvergenceError: method 'jacobi' did not converge...
    """
    if solution.converged:
        return solution
    raise ConvergenceError(
        f"method {solution.method!r} did not converge, so {what} would be wrong: it stopped "
        f"after {solution.iterations} iteration(s) with residual {residual_name} = "
        f"{solution.kkt_residual:.3g} ({' '.join(solution.message.split()) or 'no message'}); "
        f"{_advice(solution.method)}",
        residuals=solution.residuals, iterations=solution.iterations, schedule=solution.method)


def _advice(method: str) -> str:
    """What to try when ``method`` stopped short: its own cap and tolerance options by name."""
    options = SCHEDULES[method].options if method in SCHEDULES else ()
    tries = [f"raise {name}" for name in ("maxiter", "steps") if name in options]
    tries += [f"loosen {name}" for name in ("tol", "rtol") if name in options]
    tries.append("use method='reverse' (exact in one sweep on a DAG)")
    return "try to " + ", ".join(tries[:-1]) + (" or " if len(tries) > 1 else "") + tries[-1]
