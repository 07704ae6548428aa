"""Non-convergence is an error wherever derivatives are handed back, never a silent answer."""

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.schedules.registry import require_converged


def lecture(x, y, z):
    return z + la.sin(x**2 + y * la.exp(z))


def test_the_silent_jacobi_gradient_raises():
    with pytest.raises(la.ConvergenceError) as info:
        la.grad(lecture, method="jacobi", maxiter=2)(2.0, -1.0, 0.0)
    error = info.value
    assert error.schedule == "jacobi" and error.iterations == 2
    # the residual after two Jacobi sweeps: the missing path products are not small
    assert error.residual > 0.5 and error.residual == error.residuals[-1]
    text = str(error)
    assert "'jacobi' did not converge" in text and "raise maxiter" in text
    assert "loosen tol" in text and "method='reverse'" in text


def test_solve_still_returns_the_unconverged_solution():
    program = la.Program(la.trace(lecture, 2.0, -1.0, 0.0))
    solution = la.solve(program, "jacobi", maxiter=2)
    assert not solution.converged and solution.iterations == 2
    with pytest.raises(la.ConvergenceError, match="the multipliers"):
        require_converged(solution, "the multipliers")


def test_a_converged_solution_passes_through():
    program = la.Program(la.trace(lecture, 2.0, -1.0, 0.0))
    solution = la.solve(program, "jacobi")
    assert require_converged(solution) is solution
    np.testing.assert_allclose(la.grad(lecture, method="jacobi")(2.0, -1.0, 0.0),
                               [-3.96, -0.99, 1.99], atol=5e-3)


def chain(n=30):
    """A deep scalar chain: every iteration count below its depth falls short."""
    return la.trace(lambda x: _nested_sin(x, n), 0.7)


def _nested_sin(x, n):
    for _ in range(n):
        x = la.sin(x) * 1.1
    return x


def cyclic():
    return la.examples.fixed_cos().graph


# every iterative schedule with an iteration cap (or unrolled step count) too small to converge
CAPPED = [
    ("jacobi", {"maxiter": 2}, chain),
    ("gauss-seidel", {"maxiter": 2}, chain),
    ("gauss-seidel", {"order": "random", "maxiter": 1}, chain),
    ("gmres", {"maxiter": 1, "restart": 2}, chain),
    ("bicgstab", {"maxiter": 1}, chain),
    ("lsqr", {"maxiter": 1}, chain),
    ("dual-descent", {"maxiter": 1}, chain),
    ("dual-descent", {"algorithm": "gradient", "maxiter": 2}, chain),
    ("nlp", {"start": "perturbed", "maxiter": 1}, chain),
    ("unrolled", {"steps": 1}, cyclic),
    ("jacobi", {"maxiter": 2}, cyclic),
]
ITERATIVE = {"maxiter", "steps"}


@pytest.mark.parametrize("method, options, factory", CAPPED,
                         ids=[f"{m}-{'-'.join(map(str, o.values()))}" for m, o, _ in CAPPED])
def test_a_cap_too_small_raises_in_grad(method, options, factory):
    graph = factory()
    point = point_of(graph)
    solution = la.solve(la.Program(graph, *point), method, **options)
    assert not solution.converged, solution.message
    with pytest.raises(la.ConvergenceError) as info:
        la.grad(graph, method=method, **options)(*point)
    assert info.value.schedule == method
    assert info.value.iterations == solution.iterations
    assert f"'{method}' did not converge" in str(info.value)


def point_of(graph):
    return [np.asarray(v) for v in la.Program(graph).point]


def test_every_capped_schedule_is_in_the_table():
    capped = {name for name, schedule in la.SCHEDULES.items()
              if ITERATIVE & set(schedule.options) and name != "reverse"}
    assert capped <= {method for method, _, _ in CAPPED}


def test_compare_shows_not_converged_never_solved():
    program = la.Program(la.trace(lecture, 2.0, -1.0, 0.0))
    comparison = la.compare(program, [("capped", "jacobi", {"maxiter": 2}), "jacobi"],
                            track_memory=False)
    assert comparison["capped"].status == "not converged"
    assert comparison["capped"].converged is False
    assert comparison["capped"].kkt_residual > 0.5
    assert comparison["jacobi"].status == "solved"


CAPPED_JACOBI = la.Schedule("capped-jacobi", lambda program: la.SCHEDULES["jacobi"].run(
    program, maxiter=2), "two Jacobi sweeps, unregistered")


def test_verify_refuses_an_unconverged_reference_and_fails_an_unconverged_row():
    program = la.Program(la.trace(lecture, 2.0, -1.0, 0.0))
    with pytest.raises(la.ConvergenceError, match="the multipliers to verify"):
        la.verify(program, methods=(), reference=CAPPED_JACOBI)
    report = la.verify(program, methods=[("capped", "jacobi", {"maxiter": 2})])
    (check,) = [c for c in report.checks if c.name == "agrees with capped"]
    assert not check.ok and "did not converge" in check.detail
