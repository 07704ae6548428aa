"""What a schedule will cost, checked before it starts, and a time limit checked while it runs.

Cost. Every schedule estimates its work from the program and its options, in multiply-adds
(the unit of ``Solution.stats.multiply_adds``), before it starts: ``Schedule(..., cost=f)``
with ``f(program, options) -> Cost``. Where the number of iterations is not known in advance
the estimate uses the iteration cap, so it is an upper bound. A schedule without a cost rule
is charged one sweep, ``program.total_multiply_adds`` (the nonzeros of J).

Budget. `lagrange_ad.schedules.registry.solve` refuses, with `BudgetError` and the estimate in
the message, a run whose estimate exceeds both

* ``budget`` multiply-adds (default ``DEFAULT_BUDGET = 10**9``: about 1 to 20 seconds on a
  laptop core, from about 4 ns per multiply-add for the compiled sweeps to 10-20 ns for
  scipy's Krylov loops and numpy's blocks of tangent sweeps), and
* ``SWEEPS_ALLOWED = 10`` sweeps (``10 * program.total_multiply_adds``): work within a few
  sweeps of backpropagation costs about what building the program did, so it is never
  refused, however large the graph.

``budget=math.inf`` switches the check off; a larger ``budget`` lets a refused schedule run.
`la.solve`, `la.grad`, `la.compare` and `la.verify` all take ``budget``.

Time limit. With ``time_limit=seconds`` a schedule's iteration loop calls `check_time` once
per iteration (one clock read) and stops with `BudgetError` once the limit has passed. The
limit is held in a context variable that `solve` sets around the run, so a loop needs no extra
parameter: any long loop of a schedule calls ``check_time(iterations, residual)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from ..errors import BudgetError, OptionError
from ..program.program import Program

DEFAULT_BUDGET = 10**9
SWEEPS_ALLOWED = 10

# (deadline on the perf_counter clock, the limit in seconds, the schedule's name)
_DEADLINE: ContextVar[tuple[float, float, str] | None] = ContextVar("deadline", default=None)


@dataclass(frozen=True)
class Cost:
    """A schedule's estimated work.

    Attributes
    ----------
    multiply_adds : float
        The estimate (an upper bound where iterations are capped rather than known).
    how : str
        How it was counted, for the message of a refusal: ``"1,000 sweeps x 999 partials"``.
    """

    multiply_adds: float
    how: str


def one_sweep(program: Program, options: dict | None = None) -> Cost:
    """The cost of one pass over the local partials: ``program.total_multiply_adds``."""
    return Cost(float(program.total_multiply_adds),
                f"one sweep over {program.total_multiply_adds:,} local partials")


def per_iteration(iterations: int, work: float, what: str, unit: str = "iterations") -> Cost:
    """``iterations`` times ``work`` multiply-adds each; ``what`` names the work per iteration."""
    return Cost(float(iterations) * float(work), f"{iterations:,} {unit} x {what}")


def size_limit(default: int, what: str, advice: str):
    """A ``refuses(program, options)`` rule: the program's scalar entries over the option
    ``max_size`` (``default`` when not given), with ``what`` the variables are and ``advice``
    on what to do instead."""
    def refuses(program: Program, options: dict) -> str | None:
        max_size, size = options.get("max_size", default), program.graph.total_size
        if size <= max_size:
            return None
        return (f"{what} has {size} scalar variables, more than max_size={max_size}; "
                f"{advice}")
    return refuses


def check_budget(budget) -> float:
    """``budget`` as a float, or `OptionError` when it is not a number > 0 (inf allowed)."""
    if isinstance(budget, bool) or not isinstance(budget, (int, float)) or math.isnan(budget) \
            or budget <= 0:
        raise OptionError(f"budget={budget!r}: expected a number of multiply-adds > 0 "
                          f"(math.inf for no budget)")
    return float(budget)


def over_budget(method: str, cost: Cost, program: Program, budget: float) -> str | None:
    """Why ``cost`` is more than ``method`` may spend on ``program``, or None."""
    sweep = program.total_multiply_adds
    allowed = max(budget, SWEEPS_ALLOWED * sweep)
    if cost.multiply_adds <= allowed:
        return None
    needed = float(f"{cost.multiply_adds:.2g}") * 1.1
    return (f"method {method!r} would cost about {cost.multiply_adds:.3g} multiply-adds "
            f"({cost.how}), over its budget of {budget:.3g} (and over {SWEEPS_ALLOWED} sweeps "
            f"of {sweep:,}); pass budget={needed:.2g} to run it anyway, or {_instead(method)}")


def check_time_limit(seconds) -> float | None:
    """``seconds`` as a float, or `OptionError` unless it is None or a number > 0."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not seconds > 0:
        raise OptionError(f"time_limit={seconds!r}: expected a number of seconds > 0 or None")
    return float(seconds)


@contextmanager
def time_limit(method: str, seconds: float | None) -> Iterator[None]:
    """Within the block, `check_time` raises once ``seconds`` have passed (None: never)."""
    if seconds is None:
        yield
        return
    token = _DEADLINE.set((time.perf_counter() + seconds, seconds, method))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check_time(iterations: int, residual: float | None = None,
               unit: str = "iteration(s)") -> None:
    """Raise `BudgetError` when the running schedule has passed its time limit.

    Iteration loops call this once per iteration (``iterations`` so far, in ``unit``);
    without a time limit it only reads a context variable.
    """
    limit = _DEADLINE.get()
    if limit is None or time.perf_counter() <= limit[0]:
        return
    at = "" if residual is None else f" (KKT residual {residual:.3g})"
    raise BudgetError(f"method {limit[2]!r} stopped at its time limit of {limit[1]:g} s after "
                      f"{iterations:,} {unit}{at}; pass a larger time_limit, or "
                      f"{_instead(limit[2])}")


def _instead(method: str) -> str:
    """What to do instead of a run of ``method`` that costs too much."""
    if method == "reverse":
        return ("use more checkpoints, inner='direct' on a graph with cycles, or a smaller "
                "maxiter")
    return "use 'reverse' (one sweep)"
