"""Checkpointed reverse sweep: backpropagation in bounded memory by recomputing values.

The reverse sweep settles ``lam_i`` in reverse topological order, and each step
``lam_Pa(i) += lam_i^T d p_i / d v_Pa(i)`` needs the values ``v_i`` and ``v_Pa(i)``. Storing
every value costs memory proportional to the graph; storing none costs a forward pass per
step. Between the two lies the binomial schedule (Griewank 1992; Griewank and Walther 2000,
"Algorithm 799: revolve"), which keeps ``s`` snapshots of the state and reverses ``l`` steps
with the fewest forward steps possible,

    t(l, s) = r l - C(s + r, s + 1),     where r is the smallest integer with C(s + r, s) >= l

(``C`` the binomial coefficient; ``r`` is the repetition number: no step is evaluated more
than ``r + 1`` times). The count excludes the one evaluation that each reverse step makes of
its own step. One of the ``s`` snapshots holds the initial state.

Steps and states. The steps are the non-source nodes in topological order, ``n_1 .. n_T``.
The state after step t is its live set: the values of ``n_1 .. n_t`` that a later step still
reads. Sources (inputs and constants) are the program's point and are always at hand, so the
initial state costs nothing to keep and ``checkpoints`` counts the stored states beyond it:
the schedule is the binomial one with ``s = checkpoints + 1``. On a chain (each step reads
only the previous one, besides sources) a state is one value and at most
``checkpoints + 2`` values are held at any time; on a general DAG a checkpoint holds a whole
live set, and the number of forward steps is still ``t(T, s)``.

The plan is a list of actions: ``advance`` to a step (evaluating the steps in between and
forgetting all but the live set), ``takeshot`` (store the current state in a slot),
``restore`` (resume from a slot; slot 0 is the initial state), and ``firsturn``/``youturn``
(evaluate one step from the state before it and apply its reverse step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import CheckpointError
from ..program.program import Program
from .budget import Cost, check_time
from .registry import Outcome

ACTIONS = ("advance", "takeshot", "restore", "firsturn", "youturn")



class Action(NamedTuple):
    """One action of a reversal plan.

    ``kind`` is one of `ACTIONS`. ``step`` is the step advanced to (advance), the step whose
    state is stored or resumed (takeshot, restore) or the step reversed (turns). ``slot`` is
    the snapshot slot of takeshot and restore (0 holds the initial state), else -1.
    """

    kind: str
    step: int
    slot: int = -1


@dataclass(frozen=True)
class ReversalPlan:
    """A binomial reversal schedule for ``steps`` steps and ``checkpoints`` stored states.

    Attributes
    ----------
    steps, checkpoints : int
    actions : tuple of Action
    forward_steps : int
        Steps evaluated by ``advance`` actions, the first forward pass included; the turns'
        own evaluations are not counted. Equals `optimal_forward_steps`.
    """

    steps: int
    checkpoints: int
    actions: tuple[Action, ...]
    forward_steps: int


def _checked_count(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or value < 0:
        raise CheckpointError(f"{name} must be a non-negative integer; got {value!r}")
    return int(value)


def _binomial_cost(steps: int, snaps: int) -> int:
    """``t(l, s)``: fewest forward steps to reverse ``l`` steps with ``s`` snapshots."""
    if steps <= 1:
        return 0
    if snaps == 1:
        # only the initial state: advance from it before every reverse step
        return steps * (steps - 1) // 2
    r = 0
    while math.comb(snaps + r, snaps) < steps:
        r += 1
    return r * steps - math.comb(snaps + r, snaps + 1)


def optimal_forward_steps(steps: int, checkpoints: int) -> int:
    """The binomial optimum: forward steps (recomputations) of the best reversal schedule.

    Parameters
    ----------
    steps : int
        The number of steps T to reverse.
    checkpoints : int
        Stored states beyond the initial one (snapshots ``s = checkpoints + 1``).

    Returns
    -------
    int
        ``t(T, s) = r T - C(s + r, s + 1)`` with r the smallest integer such that
        ``C(s + r, s) >= T``.

    Examples
    --------
    >>> optimal_forward_steps(1000, 0), optimal_forward_steps(1000, 1)
    (499500, 28820)
    """
    steps = _checked_count(steps, "steps")
    return _binomial_cost(steps, _checked_count(checkpoints, "checkpoints") + 1)


def _split(steps: int, snaps: int) -> int:
    """Where to place the next snapshot: an m minimizing ``m + t(m, s) + t(l - m, s - 1)``.

    The cost is convex in m (t is piecewise linear with increasing slopes), so the first m
    at which it stops decreasing is a minimizer; binary search finds it.
    """

    def cost(m: int) -> int:
        return m + _binomial_cost(m, snaps) + _binomial_cost(steps - m, snaps - 1)

    lo, hi = 1, steps - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cost(mid + 1) >= cost(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def revolve_schedule(steps: int, checkpoints: int) -> ReversalPlan:
    """The binomial reversal plan for a sequence of ``steps`` steps.

    Parameters
    ----------
    steps : int
        The number of steps T.
    checkpoints : int
        Stored states beyond the initial state, which is always at hand.

    Returns
    -------
    ReversalPlan
        Its actions reverse steps T, T-1, ..., 1 in that order with
        `optimal_forward_steps` forward steps and never more than ``checkpoints`` stored
        states.

    Notes
    -----
    To reverse steps ``a+1 .. b`` from the state at a with s snapshots (the one holding a
    included): advance to ``a + m``, store that state, reverse ``a+m+1 .. b`` with ``s - 1``
    snapshots, then reverse ``a+1 .. a+m`` with s. With one snapshot every reverse step
    restarts from a. The split m is chosen optimally, and the nested segments are kept on an
    explicit stack, not in recursive calls.

    Examples
    --------
    >>> plan = revolve_schedule(3, 1)
    >>> [(a.kind, a.step) for a in plan.actions]  # doctest: +NORMALIZE_WHITESPACE
    [('advance', 1), ('takeshot', 1), ('advance', 2), ('firsturn', 3), ('restore', 1),
     ('youturn', 2), ('restore', 0), ('youturn', 1)]
    >>> plan.forward_steps
    2
    """
    steps = _checked_count(steps, "steps")
    checkpoints = _checked_count(checkpoints, "checkpoints")
    snaps_total = checkpoints + 1
    actions: list[Action] = []
    forward_steps = 0
    current = 0

    def reach(start: int, slot: int, target: int) -> None:
        # a state can only be moved forward; resume from the segment's snapshot when past it
        nonlocal current, forward_steps
        if current > target:
            actions.append(Action("restore", start, slot))
            current = start
        if target > current:
            actions.append(Action("advance", target))
            forward_steps += target - current
            current = target

    # segments (a, b, s): reverse steps a+1..b from the state at a, held in slot total - s
    stack = [(0, steps, snaps_total)] if steps else []
    while stack:
        start, end, snaps = stack.pop()
        slot = snaps_total - snaps
        if end - start > 1 and snaps > 1:
            mid = start + _split(end - start, snaps)
            reach(start, slot, mid)
            actions.append(Action("takeshot", mid, slot + 1))
            stack.append((start, mid, snaps))
            stack.append((mid, end, snaps - 1))
            continue
        for step in range(end, start, -1):
            reach(start, slot, step - 1)
            actions.append(Action("firsturn" if step == steps else "youturn", step))
    return ReversalPlan(steps, checkpoints, tuple(actions), forward_steps)


# ----------------------------------------------------------------- the schedule


class _Sequence:
    """A DAG's non-source nodes as steps ``n_1 .. n_T``, and when each value dies."""

    def __init__(self, program: Program):
        graph = program.graph
        self.nodes = [i for i in graph.topological_order().tolist() if not program.is_source[i]]
        step_of = {n: t for t, n in enumerate(self.nodes, start=1)}
        # last_use[n]: the last step reading v_n; after it v_n leaves the live set
        self.last_use = dict.fromkeys(self.nodes, 0)
        for n in self.nodes:
            for j in graph.parents(n).tolist():
                if j in self.last_use:
                    self.last_use[j] = max(self.last_use[j], step_of[n])
        self.sources = {i: program.values[i] for i in range(len(graph)) if program.is_source[i]}


def default_checkpoints(steps: int) -> int:
    """``ceil(log2(T + 1))`` stored states for T steps (at least one): logarithmic memory,
    each step evaluated only a few times."""
    return max(1, math.ceil(math.log2(steps + 1)))


def checkpointing_cost(program: Program, checkpoints: int | None) -> Cost:
    """The estimated multiply-adds of `checkpointed_sweep`: one reverse sweep, plus the
    ``T + t(T, s)`` evaluations of steps (one per reverse step and the binomial optimum of
    recomputations), each charged the mean multiply-adds of a step."""
    graph, sweep = program.graph, program.total_multiply_adds
    steps = len(graph) - int(graph.is_source.sum())
    if checkpoints is None:
        checkpoints = default_checkpoints(steps)
    evaluations = steps + _binomial_cost(steps, checkpoints + 1)
    per_step = sweep / max(1, steps)
    return Cost(sweep + evaluations * per_step,
                f"one sweep of {sweep:,} partials + {evaluations:,} evaluations of steps "
                f"({steps:,} steps, {checkpoints} checkpoints) x {per_step:.3g} each")


def checkpointed_sweep(program: Program, *, checkpoints: int | None = None,
                       check: bool = True) -> Outcome:
    """The reverse sweep with ``checkpoints`` stored states, recomputing the other values.

    Parameters
    ----------
    program : Program
        An acyclic program; only its sources' values are read, every other value is
        recomputed from them with the primitives' evaluate rules.
    checkpoints : int, optional
        Stored states beyond the inputs (>= 0). By default ``ceil(log2(T + 1))`` for T steps.
    check : bool
        Record the KKT residual of the result.

    Returns
    -------
    Outcome
        The multipliers, equal to the plain reverse sweep's (the same VJPs in the same order
        on the same values). ``extra`` holds ``checkpoints``, ``steps`` (T), ``evaluations``,
        ``recomputations`` (evaluations beyond one per step, the binomial optimum),
        ``optimal_recomputations`` (the closed form) and ``peak_stored_values`` (node values
        held at once: checkpoints, the current state and the step being evaluated).

    Examples
    --------
    >>> import numpy as np, lagrange_ad as la
    >>> b = la.GraphBuilder()
    >>> _ = b.add_many("sin", np.r_[b.input(), -np.ones(99, int)])
    >>> solution = la.solve(la.Program(b.build(), 0.3), "reverse", checkpoints=3)
    >>> solution.stats.extra["recomputations"], solution.stats.extra["peak_stored_values"]
    (374, 5)
    """
    graph = program.graph
    seq = _Sequence(program)
    if checkpoints is None:
        checkpoints = default_checkpoints(len(seq.nodes))
    plan = revolve_schedule(len(seq.nodes), checkpoints)
    offsets, cost = graph.offsets, program.multiply_adds
    primitives, op = graph.primitives, graph.op

    working: dict[int, np.ndarray] = {}  # the live set at step `current`
    slots: list[dict[int, np.ndarray]] = [{} for _ in range(checkpoints + 1)]
    current, evaluations, spent, peak = 0, 0, 0, 0

    def evaluate(t: int) -> tuple[int, list[np.ndarray], np.ndarray]:
        nonlocal evaluations
        n = seq.nodes[t - 1]
        xs = [seq.sources[j] if j in seq.sources else working[j]
              for j in graph.parents(n).tolist()]
        # the point passed every domain and finiteness check in the first forward pass
        ans = primitives[op[n]].evaluate(*xs, **graph.params(n))
        evaluations += 1
        return n, xs, np.asarray(ans, dtype=np.float64).reshape(graph.shape(n))

    def stored(extra: int = 0) -> int:
        held = set().union(*slots)
        return len(held) + sum(1 for j in working if j not in held) + extra

    lam = program.rhs()
    for done, action in enumerate(plan.actions):
        check_time(done, unit="actions of the checkpointing plan")
        if action.kind == "advance":
            for t in range(current + 1, action.step + 1):
                n, _, ans = evaluate(t)
                if seq.last_use[n] > t:
                    working[n] = ans
                # the operands and the new value are held together before the operands die
                peak = max(peak, stored(extra=0 if n in working else 1))
                for j in graph.parents(n).tolist():
                    if seq.last_use.get(j) == t:
                        working.pop(j, None)
            current = action.step
        elif action.kind == "takeshot":
            slots[action.slot] = dict(working)
        elif action.kind == "restore":
            working = dict(slots[action.slot])
            current = action.step
        else:
            # the state is at step t - 1: evaluate n_t, then lam_Pa(n) += lam_n^T dp_n/dv_Pa(n)
            n, xs, ans = evaluate(action.step)
            peak = max(peak, stored(extra=1))
            g = lam[offsets[n]:offsets[n + 1]]
            if g.any():
                program.scatter_vjp(n, g, lam, ans=ans, operands=xs)
                spent += int(cost[n])
    steps = len(seq.nodes)
    extra = {
        "checkpoints": checkpoints,
        "steps": steps,
        "evaluations": evaluations,
        "recomputations": evaluations - steps,
        "optimal_recomputations": _binomial_cost(steps, checkpoints + 1),
        "peak_stored_values": peak,
    }
    residuals = [program.kkt_residual(lam)] if check else []
    return Outcome(lam, iterations=1, converged=True, residuals=residuals, multiply_adds=spent,
                   extra=extra)
