"""The dispatcher: the one place where an accelerator replaces a reference loop.

Every core algorithm of the library exists once as a plain loop in a reference module
(forward propagation in ``program/values.py``, the reverse sweep in ``schedules/``, recording
in ``tracing/``). A faster way to do the same work is an :class:`Accelerator`: a named object
that declares the *task* it performs ("forward", "sweep", "record", ...), a predicate
``serves(*subject)`` saying which subjects (graphs, programs, ...) it handles, and the callable
``run`` that does the work. The reference module asks :func:`accelerator_for` once, and runs
the accelerator if one is returned, else its own loop.

The rule for choosing
---------------------
``accelerator_for(task, *subject)`` returns

1. ``None`` when the reference path is forced: the environment variable
   ``LAGRANGE_AD_REFERENCE`` was ``"1"`` when the library was imported, or the call happens
   inside ``with use_reference():``;
2. otherwise the first accelerator of that task, in registration order, whose
   ``serves(*subject)`` is true;
3. otherwise ``None`` (no accelerator serves the subject: the reference loop runs).

Priority is the order of the modules in `MODULES` (each registers its accelerators when
imported), then registration order within a module: list and register the most specialized
accelerator of a task first. The modules are imported on the first query, so importing a
reference module never imports a compiler; an accelerator module joins the library by adding
its name to `MODULES`. An accelerator must return what the reference loop returns (the agreement
tests compare them to 1e-12 relative), so forcing the reference path changes speed and memory,
never results.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

__all__ = [
    "Accelerator",
    "accelerator_for",
    "accelerators",
    "reference_only",
    "register_accelerator",
    "use_reference",
]

ENVIRONMENT_VARIABLE = "LAGRANGE_AD_REFERENCE"
# read once, when the library is imported (a dictionary look-up of os.environ per call cost
# as much as the rest of the choice)
ENVIRONMENT_FORCES_REFERENCE = os.environ.get(ENVIRONMENT_VARIABLE, "") == "1"

# the modules that register accelerators, in priority order, imported on the first query
MODULES: tuple[str, ...] = (
    "lagrange_ad.accel.scalar_graphs",
    "lagrange_ad.accel.compiled",
    "lagrange_ad.accel.lean",
    "lagrange_ad.accel.sweeps",
    "lagrange_ad.accel.triangular",
    "lagrange_ad.accel.recording",
)


@dataclass(frozen=True)
class Accelerator:
    """A fast way to perform one task on the subjects it serves.

    Attributes
    ----------
    name : str
        Unique name, shown in error messages and listings.
    task : str
        What it does: "forward" (values of a graph), "sweep" (reverse sweep), "record" (fast
        tracing), ...
    serves : callable
        ``serves(*subject) -> bool``: whether this accelerator handles the subject. It must be
        cheap and must not raise for subjects it does not handle.
    run : callable
        The work itself; its signature is the task's (documented where the task is asked for).
    doc : str
        One sentence saying what is faster and for which subjects.
    """

    name: str
    task: str
    serves: Callable[..., bool]
    run: Callable
    doc: str


_REGISTRY: list[Accelerator] = []
_FORCED = threading.local()
_LOADED: list[bool] = []


def _load_modules() -> None:
    """Import the accelerator modules once (each registers its accelerators on import)."""
    if not _LOADED:
        _LOADED.append(True)
        for name in MODULES:
            importlib.import_module(name)


def _priority(acc: Accelerator) -> int:
    """The position of the accelerator's module in `MODULES` (others come after them)."""
    module = getattr(acc.run, "__module__", None)
    return MODULES.index(module) if module in MODULES else len(MODULES)


def register_accelerator(acc: Accelerator) -> Accelerator:
    """Add ``acc`` after the accelerators already registered for its task; return it.

    Registering again under a name already taken replaces that entry in place (so reloading
    a module does not duplicate it, and its priority is kept).
    """
    for index, known in enumerate(_REGISTRY):
        if known.name == acc.name:
            _REGISTRY[index] = acc
            return acc
    _REGISTRY.append(acc)
    # priority by module, whatever the order in which the modules happened to be imported
    _REGISTRY.sort(key=_priority)
    return acc


def accelerators(task: str | None = None) -> tuple[Accelerator, ...]:
    """The registered accelerators (of ``task`` when given), in priority order."""
    _load_modules()
    return tuple(acc for acc in _REGISTRY if task is None or acc.task == task)


def reference_only() -> bool:
    """True when the reference path is forced (environment variable or :func:`use_reference`)."""
    return ENVIRONMENT_FORCES_REFERENCE or getattr(_FORCED, "depth", 0) > 0


@contextlib.contextmanager
def use_reference() -> Iterator[None]:
    """Force the reference loops inside the ``with`` block (in this thread).

    Examples
    --------
    >>> import lagrange_ad as la
    >>> with la.use_reference():          # doctest: +SKIP
    ...     g = la.grad(f)(x)              # every value and multiplier by the plain loops
    """
    _FORCED.depth = getattr(_FORCED, "depth", 0) + 1
    try:
        yield
    finally:
        _FORCED.depth -= 1


def accelerator_for(task: str, *subject: object) -> Accelerator | None:
    """The accelerator to use for ``task`` on ``subject``, or None for the reference loop.

    See the module docstring for the rule.
    """
    if reference_only():
        return None
    _load_modules()
    for acc in _REGISTRY:
        if acc.task == task and acc.serves(*subject):
            return acc
    return None
