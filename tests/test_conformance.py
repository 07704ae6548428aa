"""Conformance table: every program of the zoo crossed with every registered schedule.

In the spirit of a solver conformance suite, each program has a known answer (closed form or
an independent computation) and each schedule must reproduce the reverse sweep's multipliers
to its stated tolerance, or refuse with a declared reason. A newly registered schedule is
crossed with the whole zoo the moment it exists.
"""

import numpy as np
import pytest

import lagrange_ad as la

ZOO = {
    "lecture": lambda: la.examples.lecture(),
    "domke": lambda: la.examples.domke(),
    "fully_connected": lambda: la.examples.fully_connected(n=8),
    "mlp": lambda: la.examples.mlp(),
    "random_dag": lambda: la.examples.random_dag(n=150, seed=4),
    "hmm": lambda: la.examples.hmm(),
    "fixed_cos": lambda: la.examples.fixed_cos(),
    "pagerank": lambda: la.examples.pagerank(),
    "equilibrium": lambda: la.examples.equilibrium(),
}

# relative agreement with the reverse sweep: exact methods to 1e-10, iterative ones to the
# accuracy their default tolerances give
TOLERANCE = {
    "reverse": 1e-12, "forward": 1e-10, "spsolve": 1e-10, "paths": 1e-10,
    "gauss-seidel": 1e-9, "jacobi": 1e-9, "gmres": 1e-9, "bicgstab": 1e-9, "lsqr": 1e-7,
    "dual-descent": 1e-8, "cvxpy": 1e-6, "nlp": 1e-7, "unrolled": 1e-6,
}

# (program, method) -> the words the refusal must contain
REFUSALS = {
    ("fixed_cos", "forward"): "cycle", ("pagerank", "forward"): "cycle",
    ("equilibrium", "forward"): "cycle",
    ("fixed_cos", "paths"): "cycle", ("pagerank", "paths"): "cycle",
    ("equilibrium", "paths"): "cycle",
    ("fixed_cos", "gauss-seidel"): "cycle", ("pagerank", "gauss-seidel"): "cycle",
    ("equilibrium", "gauss-seidel"): "cycle",
    ("mlp", "nlp"): "max_size",
}
for acyclic in ("lecture", "domke", "fully_connected", "mlp", "random_dag", "hmm"):
    REFUSALS[(acyclic, "unrolled")] = "no cycle"

OPTIONS = {"unrolled": {"steps": 200}, "paths": {"max_paths": 10**5}}


@pytest.fixture(scope="module")
def programs():
    built = {}
    for name, factory in ZOO.items():
        example = factory()
        built[name] = (example, example.program())
    return built


def test_the_zoo_has_known_answers(programs):
    for name, (example, program) in programs.items():
        solution = la.solve(program)
        if example.gradient is not None:
            for got, expected in zip(solution.gradient, example.gradient):
                scale = max(1.0, float(np.max(np.abs(expected))))
                assert np.max(np.abs(got - expected)) / scale < 1e-9, name


@pytest.mark.parametrize("method", list(la.SCHEDULES))
@pytest.mark.parametrize("name", list(ZOO))
def test_every_method_on_every_program(programs, name, method):
    example, program = programs[name]
    reference = la.solve(program).multipliers.flat
    declared = REFUSALS.get((name, method), "")
    try:
        solution = la.solve(program, method, **OPTIONS.get(method, {}))
    except la.MethodNotApplicableError as refusal:
        assert declared != "" and (declared is None or declared in str(refusal)), (
            f"{method} refused {name} without a declared reason: {refusal}")
        return
    assert declared in ("", None), f"{method} was expected to refuse {name} ({declared})"
    assert solution.converged, solution.message
    scale = max(1.0, float(np.max(np.abs(reference))))
    error = float(np.max(np.abs(solution.multipliers.flat - reference))) / scale
    assert error <= TOLERANCE[method], f"{method} on {name}: {error:.3g}"
    if program.graph.is_acyclic:
        # on a cycle the output's own multiplier also collects what flows back around it
        assert solution.multipliers[program.graph.output] == pytest.approx(1.0, abs=1e-6)
