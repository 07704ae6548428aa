"""The reverse schedule's cost rule for its plans, and its time limit inside inner iterations."""

import math
import time

import numpy as np
import pytest
from zoo import random_cyclic_graph

import lagrange_ad as la
from lagrange_ad.errors import BudgetError
from lagrange_ad.schedules.checkpointing import checkpointing_cost, optimal_forward_steps
from lagrange_ad.schedules.condensation import condensation_cost
from lagrange_ad.schedules.registry import get_schedule


def chain(n: int) -> la.Program:
    builder = la.GraphBuilder()
    builder.add_many("sin", np.r_[builder.input(name="x"), -np.ones(n - 1, np.int64)])
    return la.Program(builder.build(), 0.3)


def slow_cycle(rate: float = 1 - 1e-7) -> la.Program:
    """``h = rate h + x``: Newton's forward solve ends at once, the adjoint fixed-point
    iteration contracts by ``rate`` per step."""
    b = la.GraphBuilder()
    x = b.input(name="x")
    h = b.declare(initial=0.5 / (1 - rate))
    b.define(h, "add", b.add("mul", b.const(rate), h), x)
    b.add("mul", h, b.const(1.0))
    return la.Program(b.build(), 0.5, fixed_point={"method": "newton"})


def test_checkpointing_is_charged_its_binomial_recomputations():
    program = chain(400)
    steps = len(program.graph) - int(program.graph.is_source.sum())
    for k in (0, 1, 5):
        cost = checkpointing_cost(program, k)
        evaluations = steps + optimal_forward_steps(steps, k)
        sweep = program.total_multiply_adds
        assert cost.multiply_adds == pytest.approx(sweep + evaluations * sweep / steps)
        # the evaluations the run makes are those charged
        extra = la.solve(program, "reverse", checkpoints=k, check=False,
                         budget=math.inf).stats.extra
        assert extra["evaluations"] == evaluations
    assert get_schedule("reverse").estimate(program, {"checkpoints": 0}).multiply_adds > \
        get_schedule("reverse").estimate(program, {"checkpoints": 5}).multiply_adds


def test_checkpointing_without_checkpoints_is_refused_over_the_budget():
    program = chain(3000)  # checkpoints=0: about 4.5 million recomputed steps
    with pytest.raises(BudgetError, match="evaluations of steps.*use more checkpoints"):
        la.solve(program, "reverse", checkpoints=0, budget=10**5)
    solution = la.solve(program, "reverse", checkpoints=12, budget=10**5)
    np.testing.assert_allclose(solution.gradient, la.solve(program, "reverse").gradient,
                               rtol=1e-12)


def test_the_plain_sweep_is_charged_one_sweep():
    program = chain(100)
    cost = get_schedule("reverse").estimate(program, {})
    assert cost.multiply_adds == program.total_multiply_adds


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("inner", ["fixed-point", "gmres"])
def test_inner_iterations_are_charged_from_the_forward_rate(seed, inner):
    program = la.Program(random_cyclic_graph(seed))
    sweep = program.total_multiply_adds
    direct = condensation_cost(program, "direct").multiply_adds
    charged = condensation_cost(program, inner, 1e-13, 10**9).multiply_adds
    assert sweep < direct < charged < sweep + 10**4 * (direct - sweep)
    # the estimate bounds what the run spends
    solution = la.solve(program, "reverse", inner=inner, maxiter=10**9)
    assert solution.converged and solution.stats.multiply_adds <= charged
    assert condensation_cost(program, inner, 1e-13, 5).multiply_adds == \
        pytest.approx(sweep + 5 * (direct - sweep))


def test_inner_iterations_without_a_forward_rate_are_charged_the_cap():
    program = slow_cycle()  # solved forward by Newton: no contraction rate seen
    sweep = program.total_multiply_adds
    direct = condensation_cost(program, "direct").multiply_adds
    assert condensation_cost(program, "fixed-point", 1e-13, 1000).multiply_adds == \
        pytest.approx(sweep + 1000 * (direct - sweep))
    with pytest.raises(BudgetError, match="inner iterations"):
        la.solve(program, "reverse", inner="fixed-point", maxiter=10**9)


def test_the_time_limit_stops_a_long_inner_iteration():
    program = slow_cycle()
    start = time.perf_counter()
    with pytest.raises(BudgetError, match="time limit"):
        la.solve(program, "reverse", inner="fixed-point", tol=1e-15, maxiter=10**8,
                 budget=math.inf, time_limit=0.2)
    assert time.perf_counter() - start < 3.0
    # the direct inner solve needs no iteration: 1 / (1 - rate) at x
    solution = la.solve(program, "reverse", inner="direct")
    np.testing.assert_allclose(solution.gradient[0], 1e7, rtol=1e-6)
