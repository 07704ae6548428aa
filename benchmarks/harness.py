"""Timing, table formatting and machine information.

A measurement is one warm-up call followed by up to ``repeat`` timed calls (fewer once the
timed calls exceed a time budget, but never fewer than two unless a single call already
exceeds it); the garbage collector is paused inside each timed call so that a collection
triggered by an earlier system is not billed to the next one. Calls whose ratio is a target
can be timed alternately (`measure_alternating`), so that the machine's drift hits each
alike. Times are reported per node (per unit of work) as the median and the minimum over the
timed calls.
"""

from __future__ import annotations

import gc
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata

REFERENCE = "lagrange_ad"
BATCH = 2e-3  # seconds: calls shorter than this are timed in batches


class PeerMissing(Exception):
    """A peer system is not installed; its rows say "missing"."""


class NotAvailable(Exception):
    """A lagrange_ad feature a workload needs is not there yet; its rows say "not available"."""


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of each timed call, and the work units (nodes) per call."""

    seconds: tuple[float, ...]
    units: int

    @property
    def median(self) -> float:
        """Median seconds per unit."""
        return statistics.median(self.seconds) / self.units

    @property
    def best(self) -> float:
        """Minimum seconds per unit."""
        return min(self.seconds) / self.units

    @property
    def runs(self) -> int:
        return len(self.seconds)


def measure(run: Callable[..., object], units: int, repeat: int,
            setup: Callable[[], tuple] | None = None, budget: float = 20.0) -> Timing:
    """Time ``run(*setup())``: a warm-up call, then up to ``repeat`` timed samples.

    ``setup`` (untimed) makes fresh arguments before every call, for work that consumes its
    input. A call shorter than `BATCH` seconds is timed in batches of calls that together
    last about that long (as ``timeit`` does), so that the clock's resolution and the cost
    of reading it do not dominate; a sample is then a batch's time over its calls. Samples
    stop early once their total exceeds ``budget`` seconds.
    """
    start = time.perf_counter()
    run(*(setup() if setup else ()))
    warm = time.perf_counter() - start
    calls = 1 if setup or warm >= BATCH else min(1000, int(BATCH / max(warm, 1e-7)) + 1)
    seconds: list[float] = []
    # one collection before the timed calls, none during them: a collection right before
    # every call would also evict caches and make small workloads look slow
    gc.collect()
    gc.disable()
    try:
        while len(seconds) < max(repeat, 1):
            args = setup() if setup else ()
            start = time.perf_counter()
            for _ in range(calls):
                run(*args)
            seconds.append((time.perf_counter() - start) / calls)
            if sum(seconds) * calls > budget and (len(seconds) >= 2 or seconds[0] > budget):
                break
    finally:
        gc.enable()
    return Timing(tuple(seconds), units)


def measure_alternating(runs: Sequence[Callable[[], object]], units: int, repeat: int,
                        budget: float = 20.0) -> list[Timing]:
    """Time several calls in turn, one sample of each per round, for ratios between them.

    On a shared machine the speed drifts over seconds; alternating gives every call the same
    share of fast and slow moments, where timing one after the other would not. Each call is
    made once to warm up; rounds stop at ``repeat`` or once their total exceeds ``budget``.
    """
    for run in runs:
        run()
    samples: list[list[float]] = [[] for _ in runs]
    gc.collect()
    gc.disable()
    try:
        for _ in range(max(repeat, 1)):
            for run, seconds in zip(runs, samples):
                start = time.perf_counter()
                run()
                seconds.append(time.perf_counter() - start)
            if sum(map(sum, samples)) > budget and len(samples[0]) >= 2:
                break
    finally:
        gc.enable()
    return [Timing(tuple(seconds), units) for seconds in samples]


def in_deep_thread(function: Callable[[], object], depth: int):
    """``function()`` in a thread with a large stack and a recursion limit above ``depth``.

    For peers whose graph walks are recursive (micrograd's topological sort).
    """
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc

    old_limit = sys.getrecursionlimit()
    old_stack = threading.stack_size()
    sys.setrecursionlimit(max(old_limit, 2 * depth + 10_000))
    threading.stack_size(1 << 29)
    try:
        worker = threading.Thread(target=target)
        worker.start()
        worker.join()
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


# ----------------------------------------------------------------- rows and tables


@dataclass(frozen=True)
class Row:
    """One system's line of a timing table: a timing, or a status saying why there is none."""

    system: str
    n: int | None = None
    timing: Timing | None = None
    status: str = "ok"
    target: str = ""


def failed(system: str, n: int | None, exc: BaseException) -> Row:
    """The row of a system that could not be timed, saying why (never a zero time)."""
    if isinstance(exc, PeerMissing):
        return Row(system, n, status="missing")
    if isinstance(exc, NotAvailable):
        return Row(system, n, status="not available")
    message = str(exc).splitlines()[0][:80] if str(exc) else ""
    where = f" at N={n}" if n is not None else ""
    return Row(system, n, status=f"fails: {type(exc).__name__}{where}"
               + (f" ({message})" if message else ""))


def timed_row(system: str, n: int, work: Callable[[], Timing], target=None) -> Row:
    """Run ``work`` and make its row; a failure becomes a row that says what failed.

    ``target(timing) -> str`` labels the row against a performance target.
    """
    try:
        timing = work()
    except Exception as exc:  # every failure is reported in the table, never hidden
        return failed(system, n, exc)
    return Row(system, n, timing, target=target(timing) if target else "")


def verdict(ok: bool, goal: str) -> str:
    return f"{'met' if ok else 'missed'} ({goal})"


def format_time(seconds: float) -> str:
    """A per-node time in ns, us or ms with three significant digits."""
    ns = seconds * 1e9
    for unit, scale in (("ns", 1.0), ("us", 1e3), ("ms", 1e6)):
        if ns < 1000 * scale or unit == "ms":
            return f"{ns / scale:.3g} {unit}"
    raise AssertionError("unreachable")


def format_count(n: int | None) -> str:
    if n is None:
        return ""
    exponent = len(str(n)) - 1
    return f"10^{exponent}" if n == 10**exponent and n >= 1000 else str(n)


@dataclass(frozen=True)
class Table:
    """A titled markdown table with notes under it."""

    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    notes: tuple[str, ...] = field(default=())

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.header) + " |",
                 "|" + "|".join("---" for _ in self.header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        lines += [""] + [f"{note}" for note in self.notes] + ([""] if self.notes else [])
        return "\n".join(lines)


def timing_table(title: str, rows: Sequence[Row], unit: str = "node",
                 notes: Sequence[str] = ()) -> Table:
    """Rows of systems with median and min time per unit and the ratio to the first timed row.

    The ratio is this row's median over the reference row's median (above 1: slower than
    lagrange_ad), per unit, so rows timed at different N compare per node.
    """
    reference = next((r for r in rows if r.timing is not None and r.system.startswith(REFERENCE)),
                     None)
    header = ("system", "N", "runs", f"median / {unit}", f"min / {unit}",
              f"ratio to {reference.system if reference else REFERENCE}", "target")
    lines = []
    for row in rows:
        if row.timing is None:
            lines.append((row.system, format_count(row.n), "", row.status, row.status, "",
                          row.target))
            continue
        ratio = f"{row.timing.median / reference.timing.median:.3g}x" if reference else ""
        lines.append((row.system, format_count(row.n), str(row.timing.runs),
                      format_time(row.timing.median), format_time(row.timing.best), ratio,
                      row.target))
    return Table(title, header, tuple(lines), tuple(notes))


# ----------------------------------------------------------------- the machine


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo where there is one, else from `platform`."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(distribution: str) -> str:
    """The installed version of a distribution, or "missing" (read without importing it)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "missing"


def machine_info(peers: Sequence[str]) -> Table:
    """CPU, cores, Python and the versions of the numeric stack and of every peer."""
    rows = [("CPU", cpu_model()), ("cores", str(os.cpu_count())),
            ("platform", platform.platform()),
            ("Python", platform.python_version())]
    rows += [(name, version(name)) for name in ("numpy", "scipy", "numba")]
    rows += [(f"peer {name}", version(name)) for name in peers]
    coretype = os.environ.get("OPENBLAS_CORETYPE")
    if coretype:
        rows.append(("OPENBLAS_CORETYPE", coretype))
    return Table("Machine", ("", ""), tuple(rows))
