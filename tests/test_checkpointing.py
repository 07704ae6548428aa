"""Binomial (revolve) reversal schedules and the checkpointed reverse sweep."""

from functools import cache

import numpy as np
import pytest
from zoo import traced

import lagrange_ad as la
from lagrange_ad.errors import OptionError
from lagrange_ad.schedules.checkpointing import (
    CheckpointError,
    checkpointed_sweep,
    optimal_forward_steps,
    revolve_schedule,
)


@cache
def brute_force(steps, snaps):
    """Fewest forward steps over every split: advance m, store, reverse the rest, then the head."""
    if steps <= 1:
        return 0
    if snaps == 1:
        return sum(range(steps))
    return min(m + brute_force(steps - m, snaps - 1) + brute_force(m, snaps)
               for m in range(1, steps))


def simulate(plan):
    """Run a plan on an abstract state; check each action is legal and return (turns, advances)."""
    slots = {0: 0}
    current, turns, advanced = 0, [], 0
    for action in plan.actions:
        if action.kind == "advance":
            assert action.step > current, "advance moves forward"
            advanced += action.step - current
            current = action.step
        elif action.kind == "takeshot":
            assert action.step == current and 1 <= action.slot <= plan.checkpoints
            slots[action.slot] = current
        elif action.kind == "restore":
            assert slots.get(action.slot) == action.step, "restore a state that is stored"
            current = action.step
        else:
            assert action.kind == ("firsturn" if not turns else "youturn")
            assert current == action.step - 1, "a turn starts from the state before its step"
            turns.append(action.step)
    return turns, advanced


def test_closed_form_matches_brute_force_and_the_plans():
    for steps in range(0, 41):
        for checkpoints in range(0, 5):
            expected = brute_force(steps, checkpoints + 1)
            assert optimal_forward_steps(steps, checkpoints) == expected, (steps, checkpoints)
            plan = revolve_schedule(steps, checkpoints)
            turns, advanced = simulate(plan)
            assert turns == list(range(steps, 0, -1))
            assert plan.forward_steps == advanced == expected


def test_known_values_of_the_binomial_count():
    # no stored state: restart from the inputs before every step, T (T - 1) / 2
    assert optimal_forward_steps(1000, 0) == 499500
    # enough checkpoints for every state: one forward pass up to the last step
    assert optimal_forward_steps(10, 9) == 9
    # t(l, s) = r l - C(s + r, s + 1), r the smallest with C(s + r, s) >= l
    assert optimal_forward_steps(10, 2) == 2 * 10 - 5  # s = 3, r = 2: C(5, 3) = 10, C(5, 4) = 5
    assert optimal_forward_steps(1000, 1) == 28820


CHAIN_LENGTH = 1000


@pytest.fixture(scope="module")
def chain():
    b = la.GraphBuilder()
    x = b.input(name="x")
    b.add_many("sin", np.r_[x, -np.ones(CHAIN_LENGTH - 1, int)])
    program = la.Program(b.build(), 0.3)
    return program, la.solve(program, "reverse").multipliers.flat


def test_chain_of_a_thousand_nodes(chain):
    program, reference = chain
    recomputations = []
    for k in (1, 2, 5, 10, 30):
        solution = la.solve(program, "reverse", checkpoints=k)
        extra = solution.stats.extra
        np.testing.assert_allclose(solution.multipliers.flat, reference, rtol=1e-12, atol=1e-12)
        assert extra["steps"] == CHAIN_LENGTH and extra["checkpoints"] == k
        assert extra["recomputations"] == optimal_forward_steps(CHAIN_LENGTH, k)
        assert extra["recomputations"] == extra["optimal_recomputations"]
        assert extra["evaluations"] == CHAIN_LENGTH + extra["recomputations"]
        # k checkpoints, the current state and the value of the step being reversed
        assert extra["peak_stored_values"] <= k + 2
        assert solution.kkt_residual <= 1e-12
        recomputations.append(extra["recomputations"])
    assert recomputations == [28820, 12155, 5284, 3545, 2439]
    assert all(a > b for a, b in zip(recomputations, recomputations[1:]))


def test_no_checkpoint_recomputes_from_the_input_every_step():
    b = la.GraphBuilder()
    b.add_many("tanh", np.r_[b.input(), -np.ones(39, int)])
    program = la.Program(b.build(), 0.7)
    solution = la.solve(program, "reverse", checkpoints=0)
    assert solution.stats.extra["recomputations"] == 40 * 39 // 2
    assert solution.stats.extra["peak_stored_values"] <= 2
    np.testing.assert_allclose(solution.gradient, la.solve(program).gradient, rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_general_dags_keep_live_sets_and_match_reverse(seed):
    program = la.examples.random_dag(200, window=15, seed=seed).program()
    reference = la.solve(program, "reverse").multipliers.flat
    steps = len(program.graph) - program.graph.n_inputs
    for k in (0, 3, 12):
        solution = la.solve(program, "reverse", checkpoints=k)
        np.testing.assert_allclose(solution.multipliers.flat, reference, rtol=1e-12, atol=1e-12)
        assert solution.stats.extra["recomputations"] == optimal_forward_steps(steps, k)


@pytest.mark.parametrize("seed", range(4))
def test_array_graphs_match_reverse(seed):
    graph, _, _ = traced(seed, array=True, n_nodes=15)
    program = la.Program(graph)
    reference = la.solve(program, "reverse").multipliers.flat
    for k in (0, 2, 6):
        solution = la.solve(program, "reverse", checkpoints=k)
        np.testing.assert_allclose(solution.multipliers.flat, reference, rtol=1e-12, atol=1e-12)
        rules = la.solve(program, "reverse", via="rules")
        assert solution.stats.multiply_adds == rules.stats.multiply_adds


def test_default_checkpoints_are_logarithmic(chain):
    program, reference = chain
    outcome = checkpointed_sweep(program)
    assert outcome.extra["checkpoints"] == 10  # ceil(log2(1001))
    np.testing.assert_allclose(outcome.multipliers, reference, rtol=1e-12, atol=1e-12)


def test_a_graph_without_steps():
    program = la.Program(la.trace(lambda x: x, 2.0))
    solution = la.solve(program, "reverse", checkpoints=1)
    assert solution.stats.extra["steps"] == 0 and float(solution.gradient[0]) == 1.0


def test_bad_counts_and_cycles_are_refused():
    program = la.examples.lecture().program()
    for bad in (-1, 1.5, True, "2"):
        with pytest.raises(OptionError, match=rf"checkpoints={bad!r}: expected an int"):
            la.solve(program, "reverse", checkpoints=bad)
        with pytest.raises(CheckpointError, match="steps"):
            revolve_schedule(bad, 2)
    b = la.GraphBuilder()
    x = b.input()
    v = b.declare()
    b.define(v, "mul", b.add("tanh", b.add("mul", x, v)), x)
    cyclic = la.Program(b.build(output=b.add("sin", v)), 0.3)
    with pytest.raises(la.MethodNotApplicableError, match="cycle"):
        la.solve(cyclic, "reverse", checkpoints=2)
