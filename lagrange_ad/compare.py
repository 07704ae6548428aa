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
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .accel.kernels import warm_up
from .errors import ConvergenceError, LagrangeADError, MethodNotApplicableError
from .program.program import Program
from .report import plots, tables
from .report.formatting import duration as _time
from .schedules import SCHEDULES, Schedule, get_schedule, solve
from .schedules.solution import Solution

SOLVED, NOT_CONVERGED, REFUSED, FAILED = "solved", "not converged", "refused", "failed"
NORMALIZATION = "max_i |lam_i - lam_ref_i| / max(1, ||lam_ref||_inf)"

Method = str | Schedule | tuple[str, str | Schedule, Mapping[str, object]]


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
        cannot handle the program) or ``"failed"`` (it raised a `LagrangeADError`, e.g.
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
        ``solutions[label]`` for every row that solved.
    """

    rows: tuple[ComparisonRow, ...]
    reference: str
    reference_note: str
    program_summary: str
    solutions: Mapping[str, Solution] = field(repr=False, compare=False)

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
            track_memory: bool = False) -> Attempt:
    """Run ``solve`` and turn a refusal or a `LagrangeADError` into a status and a reason."""
    try:
        solution = solve(program, method, track_memory=track_memory, **options)
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
            progress: bool | Callable[[int, int, str], object] = False,
            track_memory: bool = True, reference: str = "reverse") -> Comparison:
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
    progress : bool or callable
        True prints one line per method to stderr as it finishes (label, status, time). A
        callable is called as ``progress(index, total, label)`` after method ``index``
        (counting from 1) of ``total`` has finished.
    track_memory : bool
        Also solve each method a second time under `tracemalloc` to record its peak allocated
        memory. Times always come from the untraced solve, since tracing slows Python code
        by different factors in different schedules.
    reference : str
        The schedule whose multipliers the differences are measured against.

    Returns
    -------
    Comparison
        Methods that refuse the program or raise a `LagrangeADError` appear as rows with the
        reason instead of numbers.

    Raises
    ------
    UnknownMethodError
        For a method name that is not registered.
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
    options = _check_options(options)
    variants = _variants(program, methods, options)
    report = _progress_reporter(progress)
    # solved first and untimed: it also fills the program's caches, so that the first row's
    # time is not charged for them
    warm_up()  # compiled sweeps load once here, not inside the first timed method
    ref = attempt(program, reference, {})
    lam_ref = None if ref.solution is None else ref.solution.multipliers.flat
    rows, solutions = [], {}
    for index, (label, schedule, opts) in enumerate(variants, start=1):
        outcome, peak = attempt(program, schedule, opts), None
        if outcome.solution is not None:
            solutions[label] = outcome.solution
            if track_memory:
                # a second, traced run: tracemalloc slows Python code unevenly (1.5x to 10x
                # here), so the times come from the untraced run
                traced = attempt(program, schedule, opts, track_memory=True).solution
                peak = traced.stats.peak_memory if traced is not None else None
        rows.append(_row(program, label, schedule.name, outcome, lam_ref, peak))
        report(index, len(variants), label, outcome)
    return Comparison(
        rows=tuple(rows),
        reference=reference,
        reference_note="" if ref.solution else f"{reference!r} did not solve: {ref.note}",
        program_summary=(f"{len(program.graph)} nodes, {program.graph.total_size} entries, "
                         + (f"depth {program.graph.depth}" if program.graph.is_acyclic
                            else "cyclic")),
        solutions=MappingProxyType(solutions),
    )


def _check_options(options) -> dict[str, dict]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise LagrangeADError(f"options must map method names to dicts of options; got "
                              f"{type(options).__name__}")
    checked = {}
    for name, opts in options.items():
        get_schedule(name)  # an unknown name is a typo: say so now
        if not isinstance(opts, Mapping):
            raise LagrangeADError(f"options[{name!r}] must be a dict of options; got {opts!r}")
        checked[name] = dict(opts)
    return checked


def _variants(program: Program, methods, options) -> list[tuple[str, Schedule, dict]]:
    """``(label, schedule, options)`` for every method to run, labels checked to be distinct."""
    if methods is None:
        variants = []
        for name, schedule in SCHEDULES.items():
            opts = options.get(name, {})
            if schedule.refuses is None or not schedule.refuses(program, opts):
                variants.append((name, schedule, opts))
        return variants
    if isinstance(methods, (str, Schedule)):
        methods = [methods]
    variants, seen = [], set()
    for k, entry in enumerate(methods):
        if isinstance(entry, (str, Schedule)):
            schedule = get_schedule(entry)
            label, opts = schedule.name, options.get(schedule.name, {})
        elif isinstance(entry, tuple) and len(entry) == 3 and isinstance(entry[0], str) \
                and isinstance(entry[2], Mapping):
            label, schedule = entry[0], get_schedule(entry[1])
            opts = {**options.get(schedule.name, {}), **entry[2]}
        else:
            raise LagrangeADError(f"methods[{k}] must be a schedule name, a Schedule or a "
                                  f"(label, name, options) tuple; got {entry!r}")
        if label in seen:
            raise LagrangeADError(f"methods[{k}]: the label {label!r} is used twice; give "
                                  f"variants distinct labels")
        seen.add(label)
        variants.append((label, schedule, opts))
    return variants


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


def _progress_reporter(progress) -> Callable[[int, int, str, Attempt], None]:
    if callable(progress):
        return lambda index, total, label, outcome: progress(index, total, label)
    if progress is True:
        def report(index, total, label, outcome):
            spent = f" in {_time(outcome.solution.stats.wall_time)}" if outcome.solution else ""
            print(f"[{index}/{total}] {label}: {outcome.status}{spent}", file=sys.stderr,
                  flush=True)
        return report
    if progress is False or progress is None:
        return lambda index, total, label, outcome: None
    raise LagrangeADError(f"progress must be True, False or a callable "
                          f"progress(index, total, label); got {progress!r}")
