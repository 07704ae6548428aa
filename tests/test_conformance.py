"""Conformance table: every program of the zoo crossed with every registered schedule.

Each program has answers that do not come from the reverse sweep:

- its multipliers, by a dense numpy solve of ``(I - J)^T lam = e_N`` with J from central
  differences of every node's ``evaluate`` rule (`zoo.dense_multipliers`);
- for the named examples, its gradient: a closed form, a brute-force enumeration or numpy
  formulas (the example's ``gradient``, see `la.examples`), checked here against the first.

Every schedule must reproduce them to its stated tolerance, or refuse with a declared reason,
or report a declared non-convergence. A newly registered schedule is crossed with the whole
zoo the moment it exists, and fails until its tolerance is declared in `TOLERANCE`.
"""

import numpy as np
import pytest
from zoo import coupled_layers, dense_multipliers, random_cyclic_graph, small_cycle, traced

import lagrange_ad as la


def _program(graph, *point):
    # the cyclic ones with a forward fixed point solved to rounding, so that the closed
    # forms (exact fixed points) apply to 1e-12
    options = {} if graph.is_acyclic else {"fixed_point": {"tol": 1e-15}}
    return la.Program(graph, *point, **options)


def _example(name, **options):
    def build():
        example = la.examples.get(name, **options)
        return _program(example.graph), example.gradient
    return build


ZOO = {
    "lecture": _example("lecture"),
    "domke": _example("domke"),
    "fully_connected": _example("fully_connected", n=6),
    "mlp": _example("mlp", widths=(3, 4, 2), batch=3),
    "random_dag": _example("random_dag", n=40, window=10, seed=4),
    "hmm": _example("hmm", length=3, states=2, symbols=3),
    "pcfg": _example("pcfg", length=3, nonterminals=2, terminals=2),
    "loglinear": _example("loglinear", classes=3, features=4, observations=4),
    "transformer": _example("transformer", tokens=3, width=4, heads=2, hidden=4),
    "crf": _example("crf", length=3, states=2),
    "gaussian_process": _example("gaussian_process", points=4),
    "logistic": _example("logistic", observations=8, features=3),
    "fixed_cos": _example("fixed_cos"),
    "jacobi_solve": _example("jacobi_solve", n=3),
    "pagerank": _example("pagerank", n=4),
    "equilibrium": _example("equilibrium", n=4, m=2),
    "random_function": lambda: (_program(traced(3)[0]), None),
    "random_array_function": lambda: (_program(traced(5, array=True, n_nodes=8)[0]), None),
    "random_cycles": lambda: (_program(random_cyclic_graph(1, n_cycles=2, n_nodes=6)), None),
    "small_cycle": lambda: (_program(small_cycle(), 0.7), None),
    "coupled_layers": lambda: (_program(coupled_layers()), None),
}
CYCLIC = ("fixed_cos", "jacobi_solve", "pagerank", "equilibrium", "random_cycles", "small_cycle",
          "coupled_layers")

# relative agreement with the references: exact methods to 1e-10, iterative ones to the
# accuracy their default tolerances give
TOLERANCE = {
    "reverse": 1e-10, "forward": 1e-10, "spsolve": 1e-10, "paths": 1e-10,
    "gauss-seidel": 1e-9, "jacobi": 1e-9, "gmres": 1e-9, "bicgstab": 1e-9, "lsqr": 1e-7,
    "dual-descent": 1e-8, "cvxpy": 1e-6, "nlp": 1e-7, "unrolled": 1e-6,
}
# the dense reference's J comes from central differences: multipliers agree to this
DIFFERENCES = 1e-8

# (program, method) -> the words the refusal must contain
REFUSALS = {(name, method): "cycle" for name in CYCLIC
            for method in ("forward", "paths", "gauss-seidel")}
REFUSALS |= {(name, "unrolled"): "no cycle" for name in ZOO if name not in CYCLIC}
# the transformer block has 681 scalar variables and about 1.7e9 paths to its output
REFUSALS |= {("transformer", "nlp"): "max_size", ("transformer", "paths"): "max_paths"}

# (program, method) -> the words of the message of a declared non-convergence
NONCONVERGENCE: dict = {
    # A^T of the transformer block spans many scales: lsqr's default cap stops short of 1e-9
    ("transformer", "lsqr"): "iteration cap",
    ("transformer", "dual-descent"): "did NOT meet",
}

OPTIONS = {"unrolled": {"steps": 200}, "paths": {"max_paths": 10**5}}


@pytest.fixture(scope="module")
def zoo():
    built = {}
    for name, factory in ZOO.items():
        program, gradient = factory()
        built[name] = (program, gradient, dense_multipliers(program))
    return built


def relative_error(got, expected) -> float:
    got, expected = np.ravel(got), np.ravel(expected)
    return float(np.max(np.abs(got - expected), initial=0.0)
                 / max(1.0, float(np.max(np.abs(expected), initial=0.0))))


def input_part(program, flat):
    graph = program.graph
    return [flat[graph.offsets[i]:graph.offsets[i + 1]] for i in range(graph.n_inputs)]


@pytest.mark.parametrize("name", list(ZOO))
def test_the_two_references_agree(zoo, name):
    # the closed form (or enumeration, or numpy formula) and the dense solve over a J by
    # finite differences are computed independently; each vouches for the other
    program, gradient, multipliers = zoo[name]
    assert program.graph.is_acyclic == (name not in CYCLIC)
    if gradient is None:
        return
    for got, expected in zip(input_part(program, multipliers), gradient):
        assert relative_error(got, expected) <= DIFFERENCES, name


@pytest.mark.parametrize("method", list(la.SCHEDULES))
@pytest.mark.parametrize("name", list(ZOO))
def test_every_method_on_every_program(zoo, name, method):
    program, gradient, multipliers = zoo[name]
    assert method in TOLERANCE, f"declare the tolerance of the new schedule {method!r}"
    declared = REFUSALS.get((name, method))
    try:
        solution = la.solve(program, method, **OPTIONS.get(method, {}))
    except la.MethodNotApplicableError as refusal:
        assert declared is not None, f"{method} refused {name} without a declared reason: " \
                                     f"{refusal}"
        assert declared in str(refusal)
        return
    assert declared is None, f"{method} was expected to refuse {name} ({declared})"
    if (name, method) in NONCONVERGENCE:
        assert not solution.converged and NONCONVERGENCE[name, method] in solution.message
        return
    assert solution.converged, solution.message
    tolerance = TOLERANCE[method]
    error = relative_error(solution.multipliers.flat, multipliers)
    assert error <= max(tolerance, DIFFERENCES), f"{method} on {name}: {error:.3g}"
    if gradient is not None:
        for got, expected in zip(solution.gradient, gradient):
            error = relative_error(got, expected)
            assert error <= tolerance, f"{method} on {name}: gradient off by {error:.3g}"


@pytest.mark.parametrize("name", list(ZOO))
def test_the_reference_path_agrees_with_the_accelerators(zoo, name):
    # forcing the reference loops (forward propagation, the reverse sweep, la.grad's plan)
    # changes speed and memory, never results
    from lagrange_ad.accel.dispatch import use_reference

    program = zoo[name][0]
    options = {} if program.graph.is_acyclic else {"fixed_point": {"tol": 1e-15}}
    grad = la.grad(program.graph)
    accelerated = la.solve(program).multipliers.flat, grad(*program.point)
    with use_reference():
        plain = la.Program(program.graph, *program.point, **options)
        reference = la.solve(plain).multipliers.flat, grad(*program.point)
    assert relative_error(plain.values.flat, program.values.flat) <= 1e-12
    assert relative_error(accelerated[0], reference[0]) <= 1e-12
    for got, expected in zip(accelerated[1], reference[1]):
        assert relative_error(got, expected) <= 1e-12
