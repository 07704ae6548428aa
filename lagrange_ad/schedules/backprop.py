"""The ``"reverse"`` schedule: backpropagation, as one of four plans with their own options.

Each plan is a different algorithm for the same multipliers, chosen from the program and the
options, and accepts only the options it reads:

``sweep``
    the node-by-node reverse sweep (`lagrange_ad.schedules.reverse`); ``via`` chooses its
    form: over the assembled J (``"jacobian"``), by VJP rules (``"rules"``), or ``"auto"``.
``levels`` (``blocks="levels"``)
    the sweep over topological levels, each level settled at once
    (`lagrange_ad.schedules.levels`).
``checkpoints`` (``checkpoints=k``)
    the sweep in bounded memory: k stored states, the other values recomputed on the binomial
    schedule (`lagrange_ad.schedules.checkpointing`).
``condensation`` (any graph with a cycle)
    back-substitution over the strongly connected components, each cycle's block solved by
    the implicit function theorem with ``inner``, ``tol`` and ``maxiter``
    (`lagrange_ad.schedules.condensation`).

Every plan accepts ``check`` (record the KKT residual) and ``gradient_only`` (only the input
multipliers are wanted; a plan may still compute the others). The options are declared
(`ACCEPTS`, see `lagrange_ad.schedules.options`): one that the chosen plan does not read is
refused with `OptionError` and the list of those it does, and so is a value out of range; a
plan that needs a DAG refuses a graph with a cycle (`MethodNotApplicableError`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..program.program import Program
from .budget import Cost
from .checkpointing import checkpointed_sweep, checkpointing_cost
from .condensation import INNER, condensation_cost, condensation_sweep
from .options import choice, flag, integer, real
from .registry import Outcome, Schedule, register_schedule
from .reverse import VIAS, reverse_sweep, sweep_form

BLOCKS = ("nodes", "levels")
COMMON = ("check", "gradient_only")


@dataclass(frozen=True)
class Plan:
    """One algorithm of the reverse schedule: the options it reads and how it runs.

    ``run(program, **options) -> (multipliers, multiply_adds, extra)``, with only the plan's
    own options passed (``check`` and ``gradient_only`` included).
    """

    name: str
    where: str
    options: tuple[str, ...]
    run: Callable


def _sweep(program: Program, *, via: str = "auto", blocks: str = "nodes",
           gradient_only: bool = False):
    lam, spent = reverse_sweep(program, sweep_form(program, via), gradient_only)
    return lam, spent, {}


def _levels(program: Program, *, blocks: str = "levels", gradient_only: bool = False):
    lam, spent = reverse_sweep(program, "levels", gradient_only)
    return lam, spent, {}


def _checkpoints(program: Program, *, checkpoints: int | None = None, blocks: str = "nodes",
                 gradient_only: bool = False):
    outcome = checkpointed_sweep(program, checkpoints=checkpoints, check=False)
    return outcome.multipliers, outcome.multiply_adds, outcome.extra


def _condensation(program: Program, *, inner: str = "fixed-point", tol: float = 1e-13,
                  maxiter: int = 10_000, blocks: str = "nodes", gradient_only: bool = False):
    lam, spent, cycles = condensation_sweep(program, inner=inner, tol=tol, maxiter=maxiter,
                                            gradient_only=gradient_only)
    return lam, spent, {"cycles": cycles}


PLANS = {
    "sweep": Plan("sweep", "the node-by-node sweep of a DAG", ("via", "blocks"), _sweep),
    "levels": Plan("levels", "the level sweep (blocks='levels')", ("blocks",), _levels),
    "checkpoints": Plan("checkpoints", "the checkpointed sweep (checkpoints=k)",
                        ("checkpoints", "blocks"), _checkpoints),
    "condensation": Plan("condensation", "the sweep over the condensation of a graph with "
                         "cycles", ("inner", "tol", "maxiter", "blocks"), _condensation),
}


def choose_plan(program: Program, options: dict) -> Plan:
    """The plan the options and the program ask for (see the module docstring)."""
    if not program.graph.is_acyclic:
        return PLANS["condensation"]
    if options.get("checkpoints") is not None:
        return PLANS["checkpoints"]
    return PLANS["levels" if options.get("blocks") == "levels" else "sweep"]


def _run(program: Program, *, via: str = "auto", blocks: str = "nodes",
         checkpoints: int | None = None, inner: str = "fixed-point", tol: float = 1e-13,
         maxiter: int = 10_000, check: bool = True, gradient_only: bool = False) -> Outcome:
    given = {"via": via, "blocks": blocks, "checkpoints": checkpoints, "inner": inner,
             "tol": tol, "maxiter": maxiter}
    plan = choose_plan(program, given)
    lam, spent, extra = plan.run(program, gradient_only=gradient_only,
                                 **{name: given[name] for name in plan.options})
    residuals = [program.kkt_residual(lam)] if check else []
    return Outcome(lam, iterations=1, converged=True, residuals=residuals, multiply_adds=spent,
                   extra={"plan": plan.name, **extra})


def _refuses(program: Program, options: dict) -> str | None:
    """Why the reverse schedule cannot solve ``program``: a cycle where a plan needs a DAG."""
    graph = program.graph
    if graph.is_acyclic:
        return None
    if options.get("blocks") == "levels":
        return f"blocks='levels' needs topological levels, but {graph._cycle_message()}"
    if options.get("checkpoints") is not None:
        return "checkpointing needs a DAG: the nodes of a cycle form no sequence of steps"
    return None


def _for_the_plan(name: str):
    """``applies`` of an option: None when the plan chosen by the options reads it."""

    def applies(program: Program, options: dict) -> str | None:
        if name in ("blocks", "checkpoints") and not program.graph.is_acyclic:
            return None  # a cycle is the program's refusal (`_refuses`), not the option's
        if options.get("checkpoints") is not None and options.get("blocks") == "levels":
            return "checkpoints go with the node-by-node sweep, not blocks='levels'"
        plan = choose_plan(program, options)
        if name in plan.options + COMMON:
            return None
        return f"{plan.where} accepts: {', '.join(plan.options + COMMON)}"

    return applies


def _gradient_only_applies(program: Program, options: dict) -> str | None:
    if options.get("gradient_only") and options.get("check", True):
        return ("gradient_only=True leaves the multipliers of nodes that depend on no input "
                "uncomputed, and the KKT residual needs all of them; pass check=False")
    return None


ACCEPTS = (
    choice("via", "auto", VIAS, "the node-by-node sweep over the assembled J ('jacobian'), by "
           "VJP rules ('rules'), or chosen by the graph ('auto')", applies=_for_the_plan("via")),
    choice("blocks", "nodes", BLOCKS, "'levels': settle each topological level at once",
           applies=_for_the_plan("blocks")),
    integer("checkpoints", None, "stored states of the binomial checkpointing schedule (None: "
            "every value kept)", low=0, none=True, applies=_for_the_plan("checkpoints")),
    choice("inner", "fixed-point", INNER, "the solver of each cycle's block (graphs with "
           "cycles)", applies=_for_the_plan("inner")),
    real("tol", 1e-13, "tolerance of an iterative inner solve (graphs with cycles)", low=0,
         applies=_for_the_plan("tol")),
    integer("maxiter", 10_000, "iteration cap of an iterative inner solve (graphs with cycles)",
            low=1, applies=_for_the_plan("maxiter")),
    flag("check", True, "record the KKT residual of the result"),
    flag("gradient_only", False, "only the input multipliers are wanted (the others may be "
         "left out; needs check=False)", applies=_gradient_only_applies),
)

def _cost(program: Program, options: dict) -> Cost | None:
    """The chosen plan's cost: with checkpoints the recomputations of the binomial schedule,
    on a graph with cycles the inner iterations (`condensation_cost`); None for one sweep
    (the sweep and level plans), which is always within the budget and is not counted."""
    plan = choose_plan(program, options)
    if plan.name == "checkpoints":
        return checkpointing_cost(program, options.get("checkpoints"))
    if plan.name == "condensation":
        return condensation_cost(program, options.get("inner", "fixed-point"),
                                 options.get("tol", 1e-13), options.get("maxiter", 10_000))
    return None


REVERSE = register_schedule(Schedule(
    name="reverse",
    run=_run,
    summary="backpropagation: one block sweep in reverse topological order",
    refuses=_refuses,
    accepts=ACCEPTS,
    cost=_cost,
))
