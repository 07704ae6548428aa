"""Which schedules a comparison runs: methods and options expanded into labelled variants.

A method is a registered name, a `Schedule`, or a ``(label, name, options)`` variant, so one
schedule can appear several times with different options. By default every registered
schedule runs, except those whose ``refuses`` rule declines the program (listed with the
reason). Every variant's options are checked against its schedule's declaration before
anything runs, so that a typo is an error at once rather than a row later.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import LagrangeADError
from .program.program import Program
from .schedules import SCHEDULES, Schedule, get_schedule

__all__ = ["Method", "Variant", "check_options", "listed_variants", "method_variants"]

Method = str | Schedule | tuple[str, str | Schedule, Mapping[str, object]]
Variant = tuple[str, Schedule, dict]


def check_options(options) -> dict[str, dict]:
    """``options`` (method name -> options) as plain dicts, every name a registered schedule."""
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


def method_variants(program: Program, methods: Sequence[Method] | None,
                    options: dict[str, dict]) -> tuple[list[Variant], tuple[tuple[str, str], ...]]:
    """``(label, schedule, options)`` for every method to run, and ``(name, reason)`` for every
    schedule left out by default because it refuses the program.

    Every method's options are checked first: a typo is an error now, not a row later.
    """
    if methods is None:
        variants, left_out = [], []
        for name, schedule in SCHEDULES.items():
            opts = options.get(name, {})
            schedule.check_options(program, opts)
            reason = schedule.refuses(program, opts) if schedule.refuses is not None else None
            if reason:
                left_out.append((name, reason))
            else:
                variants.append((name, schedule, opts))
        return variants, tuple(left_out)
    variants = listed_variants(methods, options)
    for _, schedule, opts in variants:
        schedule.check_options(program, opts)
    return variants, ()


def listed_variants(methods, options: dict[str, dict]) -> list[Variant]:
    """The variants of an explicit list of methods, labels checked to be distinct."""
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
