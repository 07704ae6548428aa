"""Schedules side by side: one row per way of solving ``A^T lam = e_N`` for one program.

Every schedule returns multipliers ``lam`` of the same program. `compare` runs several and, for
each, recomputes two numbers that the schedule did not report itself:

    res  = ||e_N - A^T lam||_2                                      (Program.kkt_residual)
    diff = max_i |lam_i - lam_ref_i| / max(1, ||lam_ref||_inf)      (lam_ref: the reverse sweep)

``diff`` runs over every scalar entry of every node. Dividing by ``max(1, ||lam_ref||_inf)``
makes it a relative error when the adjoints are large and an absolute one when they are all
below 1 (the output's own multiplier is 1, so on a DAG ``||lam_ref||_inf >= 1`` anyway).
A schedule's own claims (its residual history, its ``converged`` flag, its message) are shown
beside these numbers, not instead of them.

Nothing runs that would exceed its budget: each schedule estimates its cost before it starts
(`lagrange_ad.schedules.budget`), and a row whose estimate is above ``budget`` shows
``"over budget"`` with the estimate and how to raise the budget, so that a comparison of
every schedule on a graph of a million nodes ends in seconds. Peak memory comes from a
second, traced run. Tracing every allocation slows Python code by 1.5x to 20x (GMRES on a
chain of 2,000 nodes: 6 s untraced, over 100 s traced), so by default it is made only on
graphs of at most ``MEMORY_TRACKING_LIMIT`` entries and only for methods whose first run took
at most ``MEMORY_TRACKING_SECONDS``; ``Comparison.memory_note`` says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .accel.kernels import warm_up
from .errors import (
    BudgetError,
    ConvergenceError,
    LagrangeADError,
    MethodNotApplicableError,
    OrderError,
    ShapeError,
)
from .hessian import REFUSALS, SECOND_ADJOINT_METHODS, SecondOrder
from .program.program import Program
from .program.second_order import SecondSystem, right_hand_sides
from .progress import Progress, progress_for
from .report import plots, tables
from .report.formatting import duration as _time
from .schedules import Schedule, get_schedule, solve
from .schedules.budget import DEFAULT_BUDGET
from .schedules.solution import Solution
from .variants import Method, check_options, method_variants

SOLVED, NOT_CONVERGED, REFUSED, FAILED = "solved", "not converged", "refused", "failed"
OVER_BUDGET = "over budget"
STATUSES = (SOLVED, NOT_CONVERGED, REFUSED, OVER_BUDGET, FAILED)
# by default, peak memory is tracked up to this many scalar entries, for methods whose first
# run took at most this many seconds (see the module docstring)
MEMORY_TRACKING_LIMIT = 10_000
MEMORY_TRACKING_SECONDS = 0.25
NORMALIZATION = "max_i |lam_i - lam_ref_i| / max(1, ||lam_ref||_inf)"

@dataclass(frozen=True)
class ComparisonRow:
    """One schedule's run: its costs, the recomputed residual and the distance to the reference.

    Attributes
    ----------
    label : str
        The row's name (the method name, or the label of a ``(label, name, options)`` variant).
    method : str
        The schedule's registered name.
    status : str
        ``"solved"``, ``"not converged"`` (it returned multipliers but missed its tolerance:
        the numbers are shown, and are not an answer), ``"refused"`` (the schedule said it
        cannot handle the program), ``"over budget"`` (its cost estimate exceeds the budget;
        the note gives the estimate) or ``"failed"`` (it raised a `LagrangeADError`, e.g.
        `ConvergenceError`).
    iterations, multiply_adds : int or None
        As reported by the schedule; None when it did not solve.
    wall_time : float or None
        Seconds spent in the schedule (measured without memory tracing).
    peak_memory : int or None
        Peak bytes allocated during a traced second solve (None unless memory was tracked).
    kkt_residual : float or None
        ``||e_N - A^T lam||_2`` recomputed from the multipliers.
    max_rel_diff : float or None
        ``max_i |lam_i - lam_ref_i| / max(1, ||lam_ref||_inf)``; None without a reference.
    converged : bool or None
        The schedule's own verdict.
    note : str
        The schedule's message, or the reason it refused or failed.
    """

    label: str
    method: str
    status: str
    iterations: int | None = None
    multiply_adds: int | None = None
    wall_time: float | None = None
    peak_memory: int | None = None
    kkt_residual: float | None = None
    max_rel_diff: float | None = None
    converged: bool | None = None
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """The rows of `compare`, with the solutions they came from.

    Attributes
    ----------
    rows : tuple of ComparisonRow
        In the order the methods were given (registry order by default).
    reference : str
        The schedule whose multipliers ``lam_ref`` the differences are measured against.
    reference_note : str
        Empty when the reference solved; otherwise why ``max_rel_diff`` is missing.
    program_summary : str
        What was solved (the graph's size).
    solutions : mapping of str to Solution
        ``solutions[label]`` for every row that returned multipliers (solved or not converged).
    value : float or None
        The output ``v_N`` of the program at its point.
    gradient : tuple of ndarray or None
        The reference's gradient (the input multipliers); with ``order=2`` its second-order
        multipliers at the inputs, the Hessian-vector product ``H d``. None when the reference
        did not solve.
    memory_note : str
        Whether peak memory was tracked, and if not why (for the table's header).
    budget : float
        The budget in multiply-adds that each schedule's estimate was checked against.
    left_out : tuple of (str, str)
        With the default methods, each registered schedule that was not run because it
        refuses the program, and why (a cycle it cannot handle, a size above its limit).
    order : int
        1: the rows solve ``A^T lam = e_N``; 2: the second adjoint system ``A^T mu = W t``.
    direction : tuple of ndarray or None
        With ``order=2``, the direction ``d`` of ``A t = E d`` (one array per input).
    """

    rows: tuple[ComparisonRow, ...]
    reference: str
    reference_note: str
    program_summary: str
    solutions: Mapping[str, Solution] = field(repr=False, compare=False)
    value: float | None = None
    gradient: tuple[np.ndarray, ...] | None = field(default=None, repr=False, compare=False)
    memory_note: str = ""
    budget: float = DEFAULT_BUDGET
    left_out: tuple[tuple[str, str], ...] = ()
    order: int = 1
    direction: tuple[np.ndarray, ...] | None = field(default=None, repr=False, compare=False)

    def __getitem__(self, label: str) -> ComparisonRow:
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(f"no row {label!r}; rows are: {', '.join(r.label for r in self.rows)}")

    def __str__(self) -> str:
        return tables.text(self)

    def to_markdown(self) -> str:
        """The table in GitHub markdown, with the caption above it."""
        return tables.markdown(self)

    def to_dict(self, multipliers: bool = False) -> dict:
        """Plain data: metadata, value, gradient and one dict per row (None where absent).

        ``multipliers=True`` adds the reference's multipliers of every node.
        """
        return tables.as_dict(self, multipliers)

    def to_json(self, indent: int | None = 2, multipliers: bool = False) -> str:
        """`to_dict` as strict JSON (missing and non-finite numbers are null)."""
        return tables.as_json(self, indent, multipliers)

    def to_pandas(self):
        """The rows as a `pandas.DataFrame` indexed by label (needs pandas)."""
        return tables.frame(self)

    def plot(self, ax=None, floor: float = 1e-18):
        """Each solved method's KKT residual per iteration on a log scale (needs matplotlib).

        See `lagrange_ad.report.plots.residuals`; returns the matplotlib Axes.
        """
        return plots.residuals(self, ax, floor)


@dataclass(frozen=True)
class Attempt:
    """The result of trying one schedule: a solution, or the reason there is none."""

    status: str
    solution: Solution | None
    note: str
    iterations: int | None = None


def attempt(program: Program, method: str | Schedule, options: Mapping[str, object],
            track_memory: bool = False, budget: float = DEFAULT_BUDGET,
            time_limit: float | None = None) -> Attempt:
    """Run ``solve`` and turn a refusal or a `LagrangeADError` into a status and a reason."""
    try:
        solution = solve(program, method, track_memory=track_memory, budget=budget,
                         time_limit=time_limit, **options)
    except BudgetError as exc:
        return Attempt(OVER_BUDGET, None, str(exc))
    except MethodNotApplicableError as exc:
        return Attempt(REFUSED, None, str(exc))
    except ConvergenceError as exc:
        return Attempt(FAILED, None, str(exc), exc.iterations)
    except LagrangeADError as exc:
        return Attempt(FAILED, None, f"{type(exc).__name__}: {exc}")
    return Attempt(SOLVED if solution.converged else NOT_CONVERGED, solution, solution.message)


def max_relative_difference(lam: np.ndarray, lam_ref: np.ndarray) -> float:
    """``max_i |lam_i - lam_ref_i| / max(1, ||lam_ref||_inf)`` over flat multiplier vectors."""
    if lam.size == 0:
        return 0.0
    return float(np.max(np.abs(lam - lam_ref)) / max(1.0, float(np.max(np.abs(lam_ref)))))


def compare(program: Program, methods: Sequence[Method] | None = None,
            options: Mapping[str, Mapping[str, object]] | None = None,
            progress: bool | Callable[[int, int, str], object] | Progress | None = None,
            track_memory: bool | None = None, reference: str = "reverse", *,
            budget: float = DEFAULT_BUDGET, time_limit: float | None = None,
            order: int = 1, direction: Sequence | None = None) -> Comparison:
    """Solve ``A^T lam = e_N`` with several schedules and tabulate costs, residuals and agreement.

    Parameters
    ----------
    program : Program
        The program whose multipliers are wanted.
    methods : sequence, optional
        Each entry a registered name, a `Schedule`, or a ``(label, name, options)`` variant, so
        one schedule can appear several times with different options. By default every
        registered schedule whose ``refuses`` rule accepts the program, in registry order.
    options : mapping, optional
        Method name -> options passed to it; a variant's own options are applied on top.
        Every option is checked against its schedule's declaration before anything runs.
    progress : bool, callable or Progress, optional
        None (default): one line per method on stderr when stderr is a terminal
        (`lagrange_ad.progress`); True or False: always or never. A callable is called as
        ``progress(index, total, label)`` after method ``index`` (from 1) of ``total`` ends.
    track_memory : bool, optional
        Also solve each method a second time under `tracemalloc` to record its peak allocated
        memory. Times always come from the untraced solve, since tracing slows Python code
        by different factors in different schedules. None (default): only on programs of at
        most ``MEMORY_TRACKING_LIMIT`` (10,000) scalar entries, for methods whose untraced
        run took at most ``MEMORY_TRACKING_SECONDS`` (0.25 s).
    reference : str
        The schedule whose multipliers the differences are measured against.
    budget : float
        The most multiply-adds a schedule's estimate may reach (default 10**9); a schedule
        above it is not run and its row says ``"over budget"`` with the estimate.
    time_limit : float, optional
        Seconds after which an iterating schedule stops; its row says ``"over budget"``.
    order : {1, 2}
        1 (default): the first adjoint system ``A^T lam = e_N``. 2: every row solves the
        second adjoint system of the program along ``direction``,

            A t = E d,    w = W t,    A^T mu = w,    W = sum_i lam_i Hess p_i,

        with ``lam`` from the reference; its solutions hold ``mu`` at every node (the
        multipliers of a `SecondSystem`), the residual is ``||w - A^T mu||_2``, the
        difference is measured against the reference's ``mu`` and ``gradient`` is ``H d``.
        Schedules that cannot take the right-hand side ``w`` are refused rows with the reason.
    direction : sequence of ndarray, optional
        With ``order=2``, ``d``: one array per input shaped like it. By default a random
        direction, standard normal entries from ``numpy.random.default_rng(0)``, so that
        the table is reproducible.

    Returns
    -------
    Comparison
        Methods that refuse the program, exceed the budget or raise a `LagrangeADError`
        appear as rows with the reason instead of numbers.

    Raises
    ------
    UnknownMethodError
        For a method name that is not registered.
    OptionError
        For an option that its schedule does not accept.
    OrderError
        For an order other than 1 or 2.
    ShapeError
        For a direction that does not match the inputs.
    LagrangeADError
        For a malformed method entry or a repeated label.

    Notes
    -----
    For each solved row the KKT residual ``||e_N - A^T lam||_2`` is recomputed with
    `Program.kkt_residual`, and ``max_i |lam_i - lam_ref_i| / max(1, ||lam_ref||_inf)``
    measures the distance to the reference multipliers.

    Examples
    --------
    >>> from lagrange_ad import examples
    >>> from lagrange_ad.compare import compare
    >>> comparison = compare(examples.lecture().program(), ["reverse"])
    >>> row = comparison["reverse"]
    >>> row.status, row.iterations, row.multiply_adds, row.kkt_residual, row.max_rel_diff
    ('solved', 1, 9, 0.0, 0.0)
    """
    if not isinstance(program, Program):
        raise LagrangeADError(f"compare needs a Program; got {type(program).__name__} "
                              f"(wrap a graph as la.Program(graph))")
    program.require_scalar_output()
    order = _check_order(order)
    options = check_options(options)
    variants, left_out = method_variants(program, methods, options)
    if order == 2:
        system, direction = second_system(program, direction, reference)
    else:
        system, direction = program, None
    report = progress_for("compare", len(variants), progress)  # its clock starts here
    traced_within, memory_note = _memory_tracking(program, track_memory)
    limits = {"budget": budget, "time_limit": time_limit}
    # solved first and untimed: it also fills the program's caches, so that the first row's
    # time is not charged for them
    warm_up()  # compiled sweeps load once here, not inside the first timed method
    ref = attempt(system, reference, _second_options(reference, {}, order), **limits)
    lam_ref = None if ref.solution is None else ref.solution.multipliers.flat
    rows, solutions = [], {}
    for label, schedule, opts in variants:
        report.start(label)
        if order == 2 and schedule.name not in SECOND_ADJOINT_METHODS:
            outcome, peak = Attempt(REFUSED, None, _second_refusal(schedule.name)), None
        else:
            opts = _second_options(schedule, opts, order)
            outcome, peak = attempt(system, schedule, opts, **limits), None
        if outcome.solution is not None:
            solutions[label] = outcome.solution
            if outcome.solution.stats.wall_time <= traced_within:
                # a second, traced run: tracemalloc slows Python code unevenly (1.5x to 20x
                # here), so the times come from the untraced run
                traced = attempt(system, schedule, opts, track_memory=True,
                                 **limits).solution
                peak = traced.stats.peak_memory if traced is not None else None
        rows.append(_row(system, label, schedule.name, outcome, lam_ref, peak))
        report.done(label, _status_line(outcome))
    return Comparison(
        rows=tuple(rows),
        reference=getattr(reference, "name", reference),
        reference_note="" if ref.solution else f"{reference!r} did not solve: {ref.note}",
        program_summary=(f"{len(program.graph)} nodes, {program.graph.total_size} entries, "
                         + (f"depth {program.graph.depth}" if program.graph.is_acyclic
                            else "cyclic")),
        solutions=MappingProxyType(solutions),
        value=float(np.asarray(program.output_value).reshape(())),
        gradient=None if ref.solution is None else ref.solution.gradient,
        memory_note=memory_note,
        budget=float(budget),
        left_out=left_out,
        order=order,
        direction=direction,
    )


def _check_order(order) -> int:
    """``order`` as 1 or 2, else `OrderError`."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order not in (1, 2):
        raise OrderError(f"order must be 1 (A^T lam = e_N) or 2 (the second adjoint system "
                         f"A^T mu = W t); got {order!r}")
    return int(order)


def default_direction(program: Program) -> tuple[np.ndarray, ...]:
    """A reproducible direction: standard normal entries from ``default_rng(0)``, per input."""
    rng = np.random.default_rng(0)
    graph = program.graph
    return tuple(rng.standard_normal(graph.shape(i)) for i in range(graph.n_inputs))


def second_system(program: Program, direction: Sequence | None = None,
                  method: str = "reverse") -> tuple[SecondSystem, tuple[np.ndarray, ...]]:
    """The second adjoint system of ``program`` along ``direction`` and the direction used.

    ``lam`` comes from ``method`` (it must converge); then ``A t = E d`` and ``w = W t`` as in
    `lagrange_ad.hessian.SecondOrder`, and the `SecondSystem` has ``w`` as its right-hand side.
    """
    direction = default_direction(program) if direction is None else tuple(
        np.asarray(d, dtype=np.float64) for d in direction)
    graph = program.graph
    if len(direction) != graph.n_inputs:
        raise ShapeError(f"a direction needs one array per input ({graph.n_inputs}); got "
                         f"{len(direction)}")
    for i, d in enumerate(direction):
        if d.shape != graph.shape(i):
            raise ShapeError(f"the direction of input {graph.name(i)} has shape {d.shape}; "
                             f"expected {graph.shape(i)}")
    first = SecondOrder(program, method)
    w = right_hand_sides(program, first.multipliers, direction, first.form, first._solves)
    return SecondSystem(program, w), direction


def _second_options(method, options: Mapping[str, object], order: int) -> dict:
    """With order 2, the schedule reads the right-hand side w: no gradient-only plan and no
    first-order check, unless the options say otherwise."""
    if order == 1:
        return dict(options)
    schedule = get_schedule(method)
    return {**{k: False for k in ("check", "gradient_only") if k in schedule.options},
            **options}


def _second_refusal(name: str) -> str:
    why = REFUSALS.get(name, "it is not known to take a general right-hand side")
    return f"{name!r} cannot solve the second adjoint system A^T mu = W t: {why}"


def _memory_tracking(program: Program, track_memory: bool | None) -> tuple[float, str]:
    """Up to which untraced time a method gets a second, traced run; and the note why."""
    entries = program.graph.total_size
    if track_memory is None:
        if entries > MEMORY_TRACKING_LIMIT:
            return -1.0, (f"peak memory not tracked: {entries:,} entries, above "
                          f"{MEMORY_TRACKING_LIMIT:,}, where tracing every allocation would "
                          f"take most of the time (pass track_memory=True to track it)")
        return MEMORY_TRACKING_SECONDS, (
            f"peak memory from a second run under tracemalloc, for methods whose first run "
            f"took at most {MEMORY_TRACKING_SECONDS:g} s (pass track_memory=True for all)")
    if track_memory:
        return math.inf, "peak memory from a second run of each method under tracemalloc"
    return -1.0, "peak memory not tracked (track_memory=False)"


def _status_line(outcome: Attempt) -> str:
    """The status of a row for the progress line, with its time when it ran."""
    if outcome.solution is None:
        return outcome.status
    return f"{outcome.status} in {_time(outcome.solution.stats.wall_time)}"


def _row(program: Program, label: str, name: str, outcome: Attempt,
         lam_ref: np.ndarray | None, peak_memory: int | None) -> ComparisonRow:
    solution = outcome.solution
    if solution is None:
        converged = False if outcome.status == FAILED else None
        return ComparisonRow(label, name, outcome.status, iterations=outcome.iterations,
                             converged=converged, note=outcome.note)
    lam = solution.multipliers.flat
    return ComparisonRow(
        label=label, method=name, status=outcome.status,
        iterations=solution.iterations,
        multiply_adds=solution.stats.multiply_adds,
        wall_time=solution.stats.wall_time,
        peak_memory=peak_memory,
        kkt_residual=program.kkt_residual(lam),
        max_rel_diff=None if lam_ref is None else max_relative_difference(lam, lam_ref),
        converged=solution.converged,
        note=outcome.note,
    )
