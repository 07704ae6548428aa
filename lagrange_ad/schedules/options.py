"""Declared options of a schedule: each one's type, default, range or choices, and meaning.

A schedule lists what it accepts as `Option` records, made with `real`, `integer`, `flag`,
`choice` or `value`, and registers them with ``Schedule(..., accepts=(...))``::

    TOL = real("tol", 1e-12, "stop when ||e_N - A^T lam|| <= tol * max(1, ||lam||)", low=0)
    MAXITER = integer("maxiter", None, "iteration cap (None: the size-derived default)", low=1,
                      none=True)
    register_schedule(Schedule("jacobi", _run, "...", accepts=(OMEGA, TOL, MAXITER)))

`lagrange_ad.schedules.registry.solve` then checks every option given, before the schedule
runs, and raises `OptionError` (listing what the schedule accepts) for

* a name the schedule does not declare (saying which other schedules take it, if any);
* a value of the wrong type, or outside its range or choices (a negative ``tol``, a
  ``maxiter`` of 0, an ``omega`` of 2, ...);
* an option that does not apply to this program or to the other options given, through the
  option's ``applies(program, options) -> reason | None`` (``inner`` on a graph without a
  cycle, ``seed`` without ``order="random"``).

The declared defaults must equal the defaults of the schedule's ``run`` keyword parameters and
the names must be the same (checked when the `Schedule` is made), so the declaration is the
documentation of ``run`` and cannot drift from it. A further check that needs the program
(a node order naming existing nodes, a preconditioner's shape) goes in the option's
``check(program, value) -> problem | None``; refusals that concern the program and not one
option stay in the schedule's ``refuses``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from ..program.program import Program

Applies = Callable[[Program, Mapping[str, object]], "str | None"]
Check = Callable[[Program, object], "str | None"]

KINDS = {"real": "a finite number", "int": "an int", "bool": "True or False",
         "str": "a string", "any": "a value"}


@dataclass(frozen=True)
class Option:
    """One option of a schedule.

    Attributes
    ----------
    name : str
        The keyword, as ``run`` spells it.
    default : object
        The value ``run`` uses when the option is not given.
    doc : str
        One line: what it does.
    kind : {"real", "int", "bool", "str", "any"}
        The type a value must have ("real" accepts any finite real number, ints included).
    low, high : float or None
        Bounds of a number, inclusive unless ``low_open`` / ``high_open``.
    choices : tuple
        The values a ``"str"`` option may take (and, with ``check``, what else it may be).
    none : bool
        Whether None is accepted (it then means "the default rule", stated in ``doc``).
    check : callable, optional
        ``check(program, value) -> problem or None`` for what the type cannot say.
    applies : callable, optional
        ``applies(program, options) -> reason or None``: why the option, when given, does not
        apply to this program or to these other options.
    """

    name: str
    default: object
    doc: str
    kind: str = "any"
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    none: bool = False
    check: Check | None = None
    applies: Applies | None = None

    def expected(self) -> str:
        """What a value must be, in words: ``"an int with maxiter >= 1, or None"``."""
        if self.choices:
            text = "one of " + ", ".join(map(repr, self.choices))
        else:
            text = KINDS[self.kind] + _range_text(self)
        return text + (", or None" if self.none else "")

    def problem(self, program: Program, value) -> str | None:
        """Why ``value`` is not acceptable for this option (type, range, choices), or None."""
        if value is None and self.none:
            return None
        if self.choices and self.check is None and isinstance(value, str) \
                and value not in self.choices:
            return f"{self.name}={_shown(value)} is unknown; expected {self.expected()}"
        if not _has_kind(self.kind, value) or not _in_range(self, value):
            return f"{self.name}={_shown(value)}: expected {self.expected()}"
        if self.check is not None:
            return self.check(program, value)
        return None

    def describe(self) -> str:
        """One line for listings: ``tol (a finite number >= 0, default 1e-12): ...``."""
        return f"{self.name} ({self.expected()}, default {self.default!r}): {self.doc}"


def real(name: str, default, doc: str, *, low: float | None = None, high: float | None = None,
         low_open: bool = False, high_open: bool = False, none: bool = False,
         applies: Applies | None = None) -> Option:
    """A finite real number, optionally bounded."""
    return Option(name, default, doc, "real", low, high, low_open, high_open, none=none,
                  applies=applies)


def integer(name: str, default, doc: str, *, low: int | None = None, high: int | None = None,
            none: bool = False, applies: Applies | None = None) -> Option:
    """An int (not a bool), optionally bounded."""
    return Option(name, default, doc, "int", low, high, none=none, applies=applies)


def flag(name: str, default: bool | None, doc: str, *, none: bool = False,
         applies: Applies | None = None) -> Option:
    """True or False (or None, with ``none``)."""
    return Option(name, default, doc, "bool", none=none, applies=applies)


def choice(name: str, default, choices: tuple[str, ...], doc: str, *, none: bool = False,
           check: Check | None = None, applies: Applies | None = None) -> Option:
    """One of some names; with ``check``, a value outside them is handed to ``check``."""
    return Option(name, default, doc, "any" if check else "str", choices=tuple(choices),
                  none=none, check=check, applies=applies)


def value(name: str, default, doc: str, check: Check, *, none: bool = False,
          applies: Applies | None = None) -> Option:
    """Any value that ``check(program, value)`` accepts."""
    return Option(name, default, doc, "any", none=none, check=check, applies=applies)


def only_with(option: str, wanted: str, default: str, reason: str) -> Applies:
    """``applies`` of an option read only when ``option`` (``default`` when not given) is the
    name ``wanted``; otherwise the option is refused for ``reason``."""
    def applies(program, options: dict) -> str | None:
        given = options.get(option, default)
        return None if isinstance(given, str) and given == wanted else reason
    return applies


def _has_kind(kind: str, value) -> bool:
    if kind == "bool":
        return isinstance(value, (bool, np.bool_))
    if isinstance(value, (bool, np.bool_)):
        return kind == "any"
    if kind == "int":
        return isinstance(value, Integral)
    if kind == "real":
        return isinstance(value, Real) and math.isfinite(value)
    if kind == "str":
        return isinstance(value, str)
    return True


def _in_range(option: Option, value) -> bool:
    if option.kind not in ("real", "int"):
        return True
    low_ok = option.low is None or (value > option.low if option.low_open
                                    else value >= option.low)
    high_ok = option.high is None or (value < option.high if option.high_open
                                      else value <= option.high)
    return bool(low_ok and high_ok)


def _range_text(option: Option) -> str:
    """`` with 0 < omega < 2``, `` with tol >= 0``, or nothing."""
    low, high, name = option.low, option.high, option.name
    below = "<" if option.low_open else "<="
    above = "<" if option.high_open else "<="
    if low is not None and high is not None:
        return f" with {low:g} {below} {name} {above} {high:g}"
    if low is not None:
        return f" with {name} {below.replace('<', '>')} {low:g}"
    if high is not None:
        return f" with {name} {above} {high:g}"
    return ""


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def listing(options: tuple[Option, ...]) -> str:
    """The options one per line, for error messages and docs."""
    return "\n".join(f"  {option.describe()}" for option in options) or "  (none)"


def validate(method: str, accepts: tuple[Option, ...] | None, names: tuple[str, ...],
             program: Program, options: Mapping[str, object],
             others: Callable[[], Mapping[str, tuple[str, ...]]]) -> str | None:
    """Why ``options`` are not acceptable to the schedule ``method``, or None.

    The caller adds the list of what the schedule accepts.

    ``accepts`` are its declared options (None: only the names ``names`` are known, from the
    signature of its ``run``); ``others()`` maps every other schedule to its option names, to
    say where an unknown option belongs.
    """
    for name in options:
        if name not in names:
            owners = [other for other, theirs in others().items() if name in theirs]
            where = (f" ({name!r} is an option of {', '.join(map(repr, owners))})"
                     if owners else "")
            return f"method {method!r} has no option {name!r}{where}"
    if accepts is None:
        return None
    declared = {option.name: option for option in accepts}
    for name, given in options.items():
        problem = declared[name].problem(program, given)
        if problem:
            return f"method {method!r}: option {problem}"
    for name in options:
        applies = declared[name].applies
        reason = applies(program, options) if applies is not None else None
        if reason:
            return f"method {method!r}: option {name}={_shown(options[name])} does not apply: " \
                   f"{reason}"
    return None


def signature_mismatch(accepts: tuple[Option, ...], parameters: Mapping[str, object]) -> str | None:
    """Why declared options differ from ``run``'s keyword parameters (name -> default), or None."""
    declared = {option.name: option.default for option in accepts}
    if list(declared) != list(parameters):
        return (f"declares options {list(declared)} but run takes {list(parameters)} (same "
                f"names in the same order)")
    for name, default in declared.items():
        if not _same(default, parameters[name]):
            return f"declares {name}={default!r} but run's default is {parameters[name]!r}"
    return None


def _same(a, b) -> bool:
    return a is b or (type(a) is type(b) and a == b)
