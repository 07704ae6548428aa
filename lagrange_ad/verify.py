"""Checks that the multipliers of a program are its adjoints ``lam_i = d v_N / d v_i``.

`verify` solves ``A^T lam = e_N`` with the reverse sweep and gathers four kinds of evidence:

``kkt residual``
    ``||e_N - A^T lam||_2 / ||lam||_2``: the Lagrangian is stationary at ``lam``.
``agrees with <method>``
    ``max_i |lam_i - lam'_i| / max(1, ||lam||_inf)`` for the multipliers ``lam'`` of another
    schedule (a direct or Krylov solve, a conic solver, tangent sweeps).
``finite differences``
    for random unit directions ``d`` over the inputs, with ``g`` the gradient (the inputs'
    multipliers),

        | <g, d> - (f(x + h d) - f(x - h d)) / 2h |  /  ||g||_2        (||d||_2 = 1).

    The tolerance is ``rtol`` plus the rounding noise of the difference quotient,
    ``100 eps (|f(x + h d)| + |f(x - h d)|) / 2h / ||g||``: on a deep graph whose gradient is
    small against f (a chain of 10^5 sines: f ~ 5e-3, g ~ 6e-6) the quotient cannot be more
    accurate than that, however right g is.

``taylor remainder``
    ``r(h) = |f(x + h d) - f(x) - h <g, d>|`` is ``O(h^2)`` exactly when ``<g, d>`` is the
    directional derivative and ``O(h)`` otherwise. The observed order, the slope of
    ``log r`` against ``log h`` over ``h = 1e-1 .. 1e-4`` (a median-of-pairwise-slopes fit),
    must be at least ``min_order``.

The first two use the primitives' derivative rules (VJP, JVP and Jacobian entries), which build
J. A wrong rule that every schedule uses gives all of them the same wrong J: their multipliers
then agree with one another and solve ``A^T lam = e_N`` exactly, for the wrong A. Only the last
two evaluate f itself, through the primitives' evaluation rules alone, and so catch it; that is
why they are part of every verification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .compare import FAILED, NOT_CONVERGED, OVER_BUDGET, REFUSED, Method, compare
from .errors import LagrangeADError
from .program.program import Program
from .progress import Progress, progress_for
from .schedules import SCHEDULES, solve
from .schedules.budget import DEFAULT_BUDGET
from .schedules.registry import require_converged

EPS = float(np.finfo(np.float64).eps)
TAYLOR_STEPS = np.geomspace(1e-1, 1e-4, 7)
# a remainder within this many rounding errors of the values it is computed from is noise
NOISE = 100.0


@dataclass(frozen=True)
class Check:
    """One verification check: passed when ``error <= tolerance``.

    Attributes
    ----------
    name : str
        What was checked (``"kkt residual"``, ``"agrees with gmres"``, ``"finite differences"``).
    ok : bool
        Whether it passed (a skipped check does not fail the report).
    error, tolerance : float or None
        The measured error and the largest accepted; None for a skipped or broken check.
    detail : str
        What was measured, or why the check was skipped or could not run.
    skipped : bool
        True when the check did not run (a method not registered or refusing the program).
    """

    name: str
    ok: bool
    error: float | None
    tolerance: float | None
    detail: str
    skipped: bool = False

    def __str__(self) -> str:
        verdict = "SKIP" if self.skipped else "PASS" if self.ok else "FAIL"
        numbers = ""
        if self.error is not None:
            numbers = f"error {self.error:.3g} (tolerance {self.tolerance:.3g})"
        return f"{verdict}  {self.name}: " + "; ".join(p for p in (numbers, self.detail) if p)


@dataclass(frozen=True)
class VerificationReport:
    """The checks made by `verify`; ``ok`` when none failed."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Whether every check passed or was skipped."""
        return all(check.ok for check in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        """The checks that failed."""
        return tuple(check for check in self.checks if not check.ok)

    def __str__(self) -> str:
        ran = sum(not check.skipped for check in self.checks)
        if self.ok:
            head = f"verification passed: {ran} checks passed"
        else:
            names = ", ".join(check.name for check in self.failures)
            head = f"verification FAILED: {len(self.failures)} of {ran} checks failed ({names})"
        return "\n".join([head] + [f"  {check}" for check in self.checks])


def verify(program: Program, methods: Sequence[Method] = ("cvxpy", "gmres", "forward"),
           n_directions: int = 3, seed: int = 0, rtol: float = 1e-6, *,
           kkt_rtol: float = 1e-10, min_order: float = 1.9,
           reference: str = "reverse", budget: float = DEFAULT_BUDGET,
           time_limit: float | None = None,
           progress: bool | Callable[[int, int, str], object] | Progress | None = None,
           ) -> VerificationReport:
    """Check that the reverse-sweep multipliers of ``program`` are its adjoints.

    Parameters
    ----------
    program : Program
        The program at its point.
    methods : sequence
        Schedules (names or ``(label, name, options)`` variants) whose multipliers must agree
        with the reverse sweep; one not registered, refusing the program or over the budget is
        skipped with a note.
    n_directions : int
        Random input directions for the finite-difference and Taylor checks.
    seed : int
        Seeds the directions (a private generator: no global random state is touched).
    rtol : float
        Tolerance of the agreement and finite-difference checks.
    kkt_rtol : float
        Tolerance of ``||e_N - A^T lam|| / ||lam||``.
    min_order : float
        The smallest accepted order of the Taylor remainder (2 for a correct gradient).
    reference : str
        The schedule whose multipliers are verified.
    budget : float
        The most multiply-adds a method's cost estimate may reach (default 10**9); a method
        above it is skipped with its estimate (`lagrange_ad.schedules.budget`).
    time_limit : float, optional
        Seconds after which an iterating method stops; it is then skipped.
    progress : bool, callable or Progress, optional
        One line per check on stderr; None (default): only when stderr is a terminal
        (`lagrange_ad.progress`). A callable is called as ``progress(index, total, label)``.

    Returns
    -------
    VerificationReport
        ``report.ok`` tells whether every check passed; ``print(report)`` lists them.

    Raises
    ------
    ConvergenceError
        When the reference schedule stops at its cap: there are no multipliers to verify.

    Notes
    -----
    A derivative rule that is wrong but used consistently by every schedule passes the KKT and
    agreement checks; the finite-difference and Taylor checks, which evaluate ``f`` only, catch
    it (see the module docstring). Finite differences use the step ``h = eps^(1/3) max(1,
    ||x||_inf)`` along unit directions; ``f`` is evaluated as
    ``Program(graph, *perturbed_point).output_value``.

    Examples
    --------
    >>> from lagrange_ad import examples
    >>> from lagrange_ad.verify import verify
    >>> report = verify(examples.lecture().program(), methods=())
    >>> report.ok, [check.name for check in report.checks]
    (True, ['kkt residual', 'finite differences', 'taylor remainder'])
    """
    if not isinstance(program, Program):
        raise LagrangeADError(f"verify needs a Program; got {type(program).__name__} "
                              f"(wrap a graph as la.Program(graph))")
    if int(n_directions) < 1:
        raise LagrangeADError(f"n_directions must be at least 1; got {n_directions!r}")
    report = progress_for("verify", len(methods) + 3, progress)
    report.start(f"kkt residual of {reference!r}")
    solution = require_converged(solve(program, reference, budget=budget,
                                       time_limit=time_limit), "the multipliers to verify")
    lam = solution.multipliers.flat
    gradient = [np.asarray(g, dtype=np.float64) for g in solution.gradient]
    directions = random_directions(program.point, int(n_directions), seed)
    checks = [kkt_check(program, lam, kkt_rtol)]
    report.done(checks[-1].name, _verdict(checks[-1]))
    checks += agreement_checks(program, methods, reference, rtol, budget=budget,
                               time_limit=time_limit, progress=report)
    for name, check in (("finite differences", finite_difference_check),
                        ("taylor remainder", taylor_check)):
        report.start(name)
        checks.append(check(program, gradient, directions,
                            rtol if check is finite_difference_check else min_order))
        report.done(name, _verdict(checks[-1]))
    return VerificationReport(tuple(checks))


def _verdict(check: Check) -> str:
    return "skipped" if check.skipped else "passed" if check.ok else "FAILED"


def random_directions(point: Sequence[np.ndarray], count: int,
                      seed: int) -> list[list[np.ndarray]]:
    """``count`` directions of unit 2-norm over all inputs, each a list shaped like the point."""
    rng = np.random.default_rng(seed)
    directions = []
    for _ in range(count):
        d = [rng.standard_normal(np.shape(x)) for x in point]
        norm = np.sqrt(sum(float(np.sum(di * di)) for di in d))
        directions.append([di / norm for di in d])
    return directions


def kkt_check(program: Program, lam: np.ndarray, tolerance: float) -> Check:
    """``||e_N - A^T lam||_2 / ||lam||_2 <= tolerance``."""
    residual = program.kkt_residual(lam)
    error = residual / max(float(np.linalg.norm(lam)), np.finfo(np.float64).tiny)
    return Check("kkt residual", error <= tolerance, error, tolerance,
                 f"||e_N - A^T lam|| = {residual:.3g}, ||lam|| = {np.linalg.norm(lam):.3g}")


def agreement_checks(program: Program, methods: Sequence[Method], reference: str,
                     tolerance: float, *, budget: float = DEFAULT_BUDGET,
                     time_limit: float | None = None,
                     progress: Progress | None = None) -> list[Check]:
    """One check per method: the distance of its multipliers to the reference's.

    A method that is not registered, refuses the program or exceeds the budget is skipped
    with the reason.
    """
    checks, runnable = [], []
    progress = progress or Progress("verify", len(methods), enabled=False)
    for entry in methods:
        method = entry[1] if isinstance(entry, tuple) else entry
        label = entry[0] if isinstance(entry, tuple) else getattr(method, "name", method)
        if isinstance(method, str) and method not in SCHEDULES:
            progress.start(label)
            checks.append(Check(f"agrees with {label}", True, None, None,
                                f"skipped: {method!r} is not a registered schedule", True))
            progress.done(label, "skipped")
        else:
            runnable.append(entry)
    if not runnable:
        return checks
    comparison = compare(program, runnable, track_memory=False, reference=reference,
                         budget=budget, time_limit=time_limit, progress=progress)
    for row in comparison.rows:
        name = f"agrees with {row.label}"
        if row.status in (REFUSED, OVER_BUDGET):
            checks.append(Check(name, True, None, None, f"skipped: {row.note}", True))
        elif row.status == FAILED:
            checks.append(Check(name, False, None, tolerance, f"it failed: {row.note}"))
        elif row.status == NOT_CONVERGED:
            checks.append(Check(name, False, row.max_rel_diff, tolerance,
                                f"it did not converge (KKT residual {row.kkt_residual:.3g}): "
                                f"{row.note}"))
        else:
            checks.append(Check(name, row.max_rel_diff <= tolerance, row.max_rel_diff,
                                tolerance, f"its KKT residual {row.kkt_residual:.3g}"))
    return checks


def output_at(program: Program, point: Sequence[np.ndarray]) -> float:
    """``f(point)``: the output of the program's graph at another point."""
    return float(Program(program.graph, *point).output_value)


def _shifted(point, direction, h):
    return [x + h * d for x, d in zip(point, direction)]


def _dot(gradient, direction) -> float:
    return sum(float(np.sum(g * d)) for g, d in zip(gradient, direction))


def finite_difference_check(program: Program, gradient: list[np.ndarray],
                            directions: list[list[np.ndarray]], tolerance: float) -> Check:
    """``|<g, d> - (f(x + h d) - f(x - h d)) / 2h| / ||g||`` for each unit direction d."""
    point = program.point
    h = EPS ** (1 / 3) * max([1.0] + [float(np.max(np.abs(x), initial=0.0)) for x in point])
    scale = max(np.sqrt(_dot(gradient, gradient)), np.finfo(np.float64).tiny)
    errors, pairs, noises = [], [], []
    for d in directions:
        try:
            ahead = output_at(program, _shifted(point, d, h))
            behind = output_at(program, _shifted(point, d, -h))
            fd = (ahead - behind) / (2 * h)
            noises.append(NOISE * EPS * (abs(ahead) + abs(behind)) / (2 * h) / scale)
        except LagrangeADError as exc:
            return Check("finite differences", False, None, tolerance,
                         f"f cannot be evaluated within h = {h:.3g} of the point: {exc}")
        exact = _dot(gradient, d)
        errors.append(abs(exact - fd) / scale)
        pairs.append(f"{exact:.6g} vs {fd:.6g}")
    error, noise = max(errors), max(noises)
    detail = f"<g, d> vs central difference (h = {h:.2g}): {', '.join(pairs)}"
    if noise > 1e-3 * tolerance:
        detail += f"; tolerance {tolerance:.2g} plus the quotient's rounding noise {noise:.2g}"
    return Check("finite differences", error <= tolerance + noise, error, tolerance + noise,
                 detail)


def theil_sen_slope(x: np.ndarray, y: np.ndarray) -> float:
    """The median of the slopes between all pairs of points: a line fit robust to outliers."""
    i, j = np.triu_indices(x.size, k=1)
    return float(np.median((y[j] - y[i]) / (x[j] - x[i])))


def taylor_check(program: Program, gradient: list[np.ndarray],
                 directions: list[list[np.ndarray]], min_order: float) -> Check:
    """The worst observed order of ``|f(x + h d) - f(x) - h <g, d>|`` must reach ``min_order``.

    The order along each direction is the slope of ``log r`` against ``log h``, fitted by
    `theil_sen_slope` so that the largest steps, where the higher Taylor terms have not yet
    faded, cannot pull it down. Remainders at rounding level are left out of the fit.
    """
    name, tolerance = "taylor remainder", 2.0 - min_order
    f0 = float(program.output_value)
    orders, notes = [], []
    for k, d in enumerate(directions):
        slope = _dot(gradient, d)
        steps, remainders = [], []
        for h in TAYLOR_STEPS.tolist():
            try:
                fh = output_at(program, _shifted(program.point, d, h))
            except LagrangeADError:
                continue  # the step left the domain: the smaller ones still tell the order
            r = abs(fh - f0 - h * slope)
            if r > NOISE * EPS * (abs(fh) + abs(f0) + h * abs(slope)):
                steps.append(h)
                remainders.append(r)
        if len(steps) >= 2:
            orders.append(theil_sen_slope(np.log(steps), np.log(remainders)))
        else:
            notes.append(f"direction {k}: remainder at rounding level (f is linear along d)")
    if not orders:
        return Check(name, True, 0.0, tolerance, "; ".join(notes))
    error = max(0.0, 2.0 - min(orders))
    shown = ", ".join(f"{p:.2f}" for p in orders)
    detail = (f"observed orders {shown} over h = 1e-1..1e-4 (2 for a correct gradient, "
              f"1 for a wrong one); error = 2 - the smallest")
    return Check(name, error <= tolerance, error, tolerance, "; ".join([detail] + notes))
