"""Every schedule estimates its cost before it starts; what exceeds the budget is refused."""

import math

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.errors import BudgetError, OptionError
from lagrange_ad.schedules.budget import DEFAULT_BUDGET, SWEEPS_ALLOWED
from lagrange_ad.schedules.krylov import krylov_cap


def chain(n):
    """The README's chain of n sines (n + 1 nodes with the input x), built without tracing."""
    builder = la.GraphBuilder()
    x = builder.input(name="x")
    builder.add_many("sin", np.r_[x, -np.ones(n - 1, int)])
    return la.Program(builder.build(), 0.3)


@pytest.fixture(scope="module")
def million():
    return chain(10**6)


# schedules that must not run on a chain of a million nodes, and the count in the estimate
EXPENSIVE = {
    "forward": "1,000,001 tangent sweeps",
    "gauss-seidel": "1,000,002 sweeps",
    "jacobi": "1,000,002 sweeps",
    "gmres": f"{krylov_cap(10**6 + 1):,} iterations",
    "bicgstab": f"{krylov_cap(10**6 + 1):,} iterations",
    "lsqr": f"{krylov_cap(10**6 + 1):,} iterations",
    "dual-descent": f"{2 * 10**6 + 2:,} steps",
}


def test_the_expensive_schedules_are_refused_on_a_million_nodes(million):
    for name, count in EXPENSIVE.items():
        cost = la.SCHEDULES[name].estimate(million, {})
        assert cost.multiply_adds > 100 * DEFAULT_BUDGET and count in cost.how, (name, cost)
        with pytest.raises(BudgetError, match=rf"method '{name}' would cost about .* "
                                              rf"multiply-adds \({count}"):
            la.solve(million, name)
    for name in ("reverse", "spsolve"):
        assert la.SCHEDULES[name].estimate(million, {}).multiply_adds \
            <= SWEEPS_ALLOWED * million.total_multiply_adds


def test_compare_explains_every_row_it_does_not_run(million):
    methods = ["reverse"] + list(EXPENSIVE)
    comparison = la.compare(million, methods, track_memory=False)
    assert comparison["reverse"].status == "solved"
    for name in EXPENSIVE:
        row = comparison[name]
        assert row.status == "over budget" and row.wall_time is None
        assert "would cost about" in row.note and "pass budget=" in row.note
    assert comparison.budget == DEFAULT_BUDGET
    # the answer the table is about: the value and the reference's gradient
    np.testing.assert_allclose(comparison.gradient, la.grad(million.graph)(0.3), rtol=1e-12)
    assert comparison.value == float(million.output_value)


def test_default_comparison_says_what_it_left_out_and_why(million):
    comparison = la.compare(million, options={"spsolve": {"check": False}})
    statuses = {row.label: row.status for row in comparison.rows}
    assert statuses["reverse"] == statuses["spsolve"] == "solved"
    assert all(statuses[name] == "over budget" for name in EXPENSIVE)
    left_out = dict(comparison.left_out)
    assert set(left_out) == {"cvxpy", "nlp", "paths", "unrolled"}
    assert "max_size" in left_out["cvxpy"] and "max_paths" in left_out["paths"]
    assert "not tracked" in comparison.memory_note
    assert all(row.peak_memory is None for row in comparison.rows)


def test_verify_skips_what_is_over_budget():
    report = la.verify(chain(10**5))
    assert report.ok
    for method in ("gmres", "forward"):
        (check,) = [c for c in report.checks if c.name == f"agrees with {method}"]
        assert check.skipped and "would cost about" in check.detail


def test_a_larger_budget_lets_a_schedule_run():
    program = chain(300)
    nnz = program.total_multiply_adds
    with pytest.raises(BudgetError, match=r"301 tangent sweeps \(one per entry\) x 300 "
                                          r"partials"):
        la.solve(program, "forward", budget=1000)
    solution = la.solve(program, "forward", budget=301 * nnz)
    assert solution.stats.multiply_adds <= 301 * nnz
    assert la.solve(program, "forward", budget=math.inf).converged
    # la.grad and la.compare take the budget too
    with pytest.raises(BudgetError):
        la.grad(program.graph, method="forward", budget=1000)(0.3)
    assert la.compare(program, ["forward"], budget=1000)["forward"].status == "over budget"


def test_a_few_sweeps_are_never_refused():
    program = chain(300)
    for name in ("reverse", "spsolve"):
        assert la.solve(program, name, budget=1).converged
    # gauss-seidel in reverse order: backpropagation, known in advance to take 2 sweeps
    assert la.solve(program, "gauss-seidel", order="reverse", budget=1).converged


@pytest.mark.parametrize("keyword, value", [
    ("budget", 0), ("budget", -5.0), ("budget", "lots"), ("budget", float("nan")),
    ("budget", True), ("time_limit", 0), ("time_limit", -1.0), ("time_limit", "soon"),
])
def test_budget_and_time_limit_are_checked(keyword, value):
    with pytest.raises(OptionError, match=f"{keyword}="):
        la.solve(chain(10), "reverse", **{keyword: value})


@pytest.mark.parametrize("method", ["gmres", "bicgstab", "lsqr", "dual-descent", "jacobi",
                                    "gauss-seidel"])
def test_the_time_limit_stops_a_long_iteration(method):
    with pytest.raises(BudgetError, match=rf"'{method}' stopped at its time limit of 1e-09 s"):
        la.solve(chain(50), method, time_limit=1e-9)
    comparison = la.compare(chain(50), [method], time_limit=1e-9, track_memory=False)
    assert comparison[method].status == "over budget"


def zoo():
    return [la.examples.lecture().program(), la.examples.random_dag(n=60, seed=3).program(),
            chain(40), la.examples.mlp().program(), la.examples.fixed_cos().program(),
            la.examples.jacobi_solve().program()]


@pytest.mark.parametrize("index", range(6))
def test_estimates_bound_the_work_actually_done(index):
    program = zoo()[index]
    for name, schedule in la.SCHEDULES.items():
        if schedule.cost is None:
            continue  # charged one sweep; their size is bounded by their own options
        try:
            solution = la.solve(program, name, budget=math.inf)
        except la.MethodNotApplicableError:
            continue
        estimate = schedule.estimate(program, {}).multiply_adds
        assert solution.stats.multiply_adds <= estimate, (name, solution.stats, estimate)


def test_krylov_caps_are_finite_and_stated():
    assert krylov_cap(10) == 1000 and krylov_cap(10**6) == 2 * 10**6
    program = chain(1999)  # 2,000 entries
    cost = la.SCHEDULES["gmres"].estimate(program, {"restart": 10})
    # 4,000 iterations: 400 restart cycles of 10
    assert cost.how.startswith("4,000 iterations")
    cost = la.SCHEDULES["gmres"].estimate(program, {"restart": 10, "maxiter": 3})
    assert cost.how.startswith("30 iterations")
