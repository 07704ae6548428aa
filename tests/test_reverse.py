"""The reverse sweep: closed forms, KKT stationarity, finite differences and another AD library."""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zoo import LagrangeOps, central_difference, random_function, random_point, traced

import lagrange_ad as la
from lagrange_ad.accel import dispatch
from lagrange_ad.accel.dispatch import accelerator_for, accelerators, use_reference
from lagrange_ad.accel.sweeps import COMPILED
from lagrange_ad.errors import OptionError
from lagrange_ad.schedules.reverse import FORMS, reverse_sweep


def test_lecture_example_closed_form():
    example = la.examples.lecture()
    program = example.program()
    solution = la.solve(program)
    assert float(program.output_value) == pytest.approx(0.14112000805986721, rel=1e-12)
    assert float(program.output_value) == pytest.approx(example.value, rel=1e-12)
    np.testing.assert_allclose(solution.gradient, example.gradient, rtol=1e-12)
    np.testing.assert_allclose(np.round(solution.gradient, 2), [-3.96, -0.99, 1.99])
    assert solution.multipliers[program.graph.output] == 1.0
    assert solution.iterations == 1 and solution.converged
    assert solution.kkt_residual == 0.0


def test_domke_example_closed_form():
    for x in (-1.0, 0.0, 0.5):
        example = la.examples.domke(x)
        solution = la.solve(example.program())
        np.testing.assert_allclose(solution.gradient, example.gradient, rtol=1e-12)


def test_grad_shortcut_returns_the_solution_gradient():
    g = la.grad(la.examples.lecture_function)(2.0, -1.0, 0.0)
    np.testing.assert_allclose(g, la.examples.lecture().gradient, rtol=1e-12)
    assert all(isinstance(d, np.ndarray) and d.shape == () for d in g)


def test_gradient_is_shaped_like_the_inputs():
    g = la.grad(lambda w, x: la.sum(la.tanh(w @ x)))(np.ones((2, 3)), np.arange(3.0))
    assert g[0].shape == (2, 3) and g[1].shape == (3,)
    np.testing.assert_allclose(g[0], np.outer(1 - np.tanh(np.ones((2, 3)) @ np.arange(3.0)) ** 2,
                                               np.arange(3.0)))


def test_multipliers_count_every_use_of_a_node():
    # f = x * x * x: one node used three times
    g = la.grad(lambda x: x * x * x)(1.7)
    assert float(g[0]) == pytest.approx(3 * 1.7**2, rel=1e-14)


def test_multiply_adds_count_the_local_partials():
    program = la.examples.lecture().program()
    solution = la.solve(program)
    assert solution.stats.multiply_adds == program.local_jacobian().nnz == 9
    assert solution.stats.wall_time > 0


# ----------------------------------------------------------------- tensor graphs


DATA = np.random.default_rng(3).standard_normal((5, 4))
WEIGHTS = np.linspace(0.5, 1.5, 3)


def data_layer(w, b):
    # X @ W with X data: the multiplier of X is one product the gradient does not need; the
    # weights' multiplier comes with the product's rule (mul has no per-operand rule)
    return la.sum(la.tanh(DATA @ w + b) ** 2.0 * WEIGHTS) + la.sum(w * w)


def test_tensor_graphs_keep_multipliers_node_by_node_and_agree_with_j():
    w, b = np.random.default_rng(4).standard_normal((4, 3)), np.linspace(-1, 1, 3)
    program = la.Program(la.trace(data_layer, w, b))
    rules = la.solve(program, via="rules")
    jacobian = la.solve(program, via="jacobian")
    np.testing.assert_allclose(rules.multipliers.flat, jacobian.multipliers.flat,
                               rtol=1e-12, atol=1e-14)
    assert rules.kkt_residual <= 1e-12
    assert rules.stats.multiply_adds == program.multiply_adds.sum()


def test_gradient_only_skips_the_multipliers_of_data():
    w, b = np.random.default_rng(4).standard_normal((4, 3)), np.linspace(-1, 1, 3)
    program = la.Program(la.trace(data_layer, w, b))
    full = la.solve(program, via="rules")
    short = la.solve(program, via="rules", gradient_only=True, check=False)
    for got, want in zip(short.gradient, full.gradient):
        np.testing.assert_allclose(got, want, rtol=1e-14)
    data = next(i for i in range(len(program.graph)) if program.graph.shape(i) == DATA.shape)
    for node in (data, program.graph.output):
        with pytest.raises(la.LagrangeADError, match=rf"v{node} was not computed: the sweep "
                                                     r"was asked for the gradient only"):
            short.multipliers[node]
    with pytest.raises(la.LagrangeADError, match=r"was not computed"):
        _ = short.multipliers.flat
    # the product X @ W spends half its multiply-adds: only W's cotangent is formed; the
    # multiplication by WEIGHTS forms both cotangents and is paid in full
    product = DATA.shape[0] * DATA.shape[1] * w.shape[1]
    assert full.stats.multiply_adds - short.stats.multiply_adds == product
    with pytest.raises(OptionError, match=r"gradient_only=True .* pass check=False"):
        la.solve(program, gradient_only=True)


def test_grad_neither_copies_nor_changes_its_arguments():
    w, b = np.random.default_rng(4).standard_normal((4, 3)), np.linspace(-1, 1, 3)
    before = w.copy()
    gw, gb = la.grad(data_layer)(w, b)
    expected = la.solve(la.Program(la.trace(data_layer, w, b))).gradient
    np.testing.assert_allclose(gw, expected[0], rtol=1e-14)
    np.testing.assert_allclose(gb, expected[1], rtol=1e-14)
    assert w.flags.writeable and np.array_equal(w, before)
    assert not gw.flags.writeable  # read-only views of the multipliers
    w += 1.0  # the caller's array is still theirs to change


def test_grad_of_a_graph_differentiates_its_program_at_new_points():
    rng = np.random.default_rng(5)
    w, b = rng.standard_normal((4, 3)), np.linspace(-1, 1, 3)
    grad = la.grad(la.trace(data_layer, w, b))
    for _ in range(3):
        w, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
        for got, want in zip(grad(w, b), la.grad(data_layer)(w, b)):
            np.testing.assert_allclose(got, want, rtol=1e-14)
    # without a point, the one recorded by the trace
    graph = la.trace(data_layer, w, b)
    for got, want in zip(la.grad(graph)(), la.grad(data_layer)(w, b)):
        np.testing.assert_allclose(got, want, rtol=1e-14)


@pytest.mark.parametrize("point, error, pattern", [
    ((np.ones((4, 3)),), la.GraphError, r"2 input\(s\) but 1 value\(s\)"),
    ((np.ones((3, 4)), np.ones(3)), la.ShapeError, r"input v0 \(w\) has shape \(4, 3\)"),
    ((np.full((4, 3), np.nan), np.ones(3)), la.NonFiniteError, r"input v0 \(w\) contains NaN"),
])
def test_grad_of_a_graph_checks_the_point(point, error, pattern):
    grad = la.grad(la.trace(data_layer, np.ones((4, 3)), np.ones(3)))
    with pytest.raises(error, match=pattern):
        grad(*point)


def test_programs_of_one_graph_share_its_structure():
    w, b = np.random.default_rng(4).standard_normal((4, 3)), np.linspace(-1, 1, 3)
    graph = la.trace(data_layer, w, b)
    first, second = la.Program(graph), la.Program(graph, w + 1.0, b)
    assert first.depends_on_input is second.depends_on_input
    assert first.multiply_adds is second.multiply_adds
    assert first.is_source is graph.is_source
    data = next(i for i in range(len(graph)) if graph.shape(i) == DATA.shape)
    assert not first.depends_on_input[data] and graph.is_source[data]


def test_program_keeps_read_only_float64_values_and_copies_the_rest():
    w, b = np.random.default_rng(4).standard_normal((4, 3)), np.linspace(-1, 1, 3)
    graph = la.trace(data_layer, w, b)
    frozen = w.copy()
    frozen.flags.writeable = False
    program = la.Program(graph, frozen, b)
    assert program.point[0] is frozen
    assert program.point[1] is not b and np.array_equal(program.point[1], b)


def check_stationary(graph, point, recipe):
    program = la.Program(graph)
    solution = la.solve(program)
    lam = solution.multipliers.flat
    scale = max(1.0, np.linalg.norm(lam))
    assert program.kkt_residual(solution) <= 1e-10 * scale
    rng = np.random.default_rng(0)
    for _ in range(3):
        direction = [rng.standard_normal(np.shape(x)) for x in point]
        fd = central_difference(lambda *a: float(recipe(np, *a)), point, direction)
        exact = sum(float(np.sum(g * d)) for g, d in zip(solution.gradient, direction))
        assert exact == pytest.approx(fd, rel=1e-6, abs=1e-7)
    return solution


class NumpyOps:
    pass


for _name in ("sin", "cos", "tanh", "exp", "sum", "mean", "transpose", "concatenate"):
    setattr(NumpyOps, _name, staticmethod(getattr(np, _name)))
NumpyOps.sigmoid = staticmethod(lambda x: 1 / (1 + np.exp(-x)))
NumpyOps.softmax = staticmethod(
    lambda x, axis=-1: np.exp(x) / np.sum(np.exp(x), axis, keepdims=True))
NumpyOps.log_softmax = staticmethod(
    lambda x, axis=-1: x - np.log(np.sum(np.exp(x), axis, keepdims=True)))
NumpyOps.logsumexp = staticmethod(lambda x, axis=None: np.log(np.sum(np.exp(x), axis)))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), array=st.booleans(), n_nodes=st.integers(3, 25))
def test_random_graphs_are_stationary_and_match_finite_differences(seed, array, n_nodes):
    recipe = random_function(seed, n_nodes, array)
    point = random_point(seed, array)
    graph = la.trace(lambda x, y, z: recipe(LagrangeOps, x, y, z), *point)
    check_stationary(graph, point, lambda ops, *a: recipe(NumpyOps, *a))


def test_random_scalar_dag_example_is_stationary():
    example = la.examples.random_dag(n=2000, seed=3)
    program = example.program()
    solution = la.solve(program)
    assert solution.kkt_residual <= 1e-10 * np.linalg.norm(solution.multipliers.flat)
    rng = np.random.default_rng(1)
    direction = rng.standard_normal(3)
    point = np.array(example.point)
    fd = (float(la.Program(example.graph, *(point + 1e-6 * direction)).output_value)
          - float(la.Program(example.graph, *(point - 1e-6 * direction)).output_value)) / 2e-6
    assert float(np.dot(solution.gradient, direction)) == pytest.approx(fd, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("array", [False, True])
def test_against_autograd(seed, array):
    autograd = pytest.importorskip("autograd")
    anp = pytest.importorskip("autograd.numpy")
    from autograd.scipy.special import logsumexp as ag_logsumexp

    class AutogradOps:
        sin, cos, tanh, exp, sum, mean = anp.sin, anp.cos, anp.tanh, anp.exp, anp.sum, anp.mean
        transpose, concatenate = anp.transpose, anp.concatenate
        sigmoid = staticmethod(lambda x: 1 / (1 + anp.exp(-x)))
        softmax = staticmethod(lambda x, axis=-1: anp.exp(x - ag_logsumexp(x, axis, keepdims=True)))
        log_softmax = staticmethod(lambda x, axis=-1: x - ag_logsumexp(x, axis, keepdims=True))
        logsumexp = staticmethod(lambda x, axis=None: ag_logsumexp(x, axis))

    graph, recipe, point = traced(seed, array, n_nodes=20)
    ours = la.solve(la.Program(graph)).gradient
    theirs = autograd.grad(lambda args: recipe(AutogradOps, *args))(list(point))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_million_node_chain():
    n = 10**6
    builder = la.GraphBuilder()
    x = builder.input(name="x")
    builder.add_many("sin", np.r_[x, -np.ones(n - 1, np.int64)])
    graph = builder.build()
    assert len(graph) == n + 1
    program = la.Program(graph, 0.3)
    solution = la.solve(program, check=False)
    # d/dx sin^(n)(x) = prod_k cos(sin^(k)(x)): compare with the values along the chain
    values = program.values.flat
    expected = np.prod(np.cos(values[:-1]))
    assert float(solution.gradient[0]) == pytest.approx(expected, rel=1e-9)


def test_traced_chain_of_a_million_nodes():
    def chain(x):
        for _ in range(10**6):
            x = la.sin(x)
        return x * 1.0

    graph = la.trace(chain, 0.3)
    assert len(graph) > 10**6
    g = la.solve(la.Program(graph), check=False).gradient[0]
    assert np.isfinite(g) and 0 < float(g) < 1


@pytest.mark.parametrize("options, pattern", [
    ({"via": "dense"}, r"via='dense' is unknown; expected one of 'auto', 'jacobian', 'rules'"),
    ({"blocks": "rows"}, r"blocks='rows' is unknown; expected one of 'nodes', 'levels'"),
])
def test_unknown_choices_are_refused_by_name(options, pattern):
    program = la.examples.lecture().program()
    with pytest.raises(OptionError, match=pattern):
        la.solve(program, **options)


# ----------------------------------------------------------------- reference loops and accelerators


def _acyclic_examples() -> dict[str, la.Program]:
    programs = {}
    for name, factory in la.examples.EXAMPLES.items():
        graph = factory().graph
        if graph.is_acyclic:
            programs[f"example-{name}"] = la.Program(graph)
    for seed in range(4):
        for array in (False, True):
            graph, _, _ = traced(seed, array, n_nodes=25)
            programs[f"traced-{seed}-{'array' if array else 'scalar'}"] = la.Program(graph)
    builder = la.GraphBuilder()
    builder.add_many("sin", np.r_[builder.input(name="x"), -np.ones(99, np.int64)])
    programs["chain-100"] = la.Program(builder.build(), 0.3)
    return programs


SWEEP_PROGRAMS = _acyclic_examples()


def assert_same_multipliers(got, want, rtol=1e-12):
    want = np.asarray(want)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(1.0, np.abs(want).max()))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("name", list(SWEEP_PROGRAMS))
def test_every_sweep_accelerator_agrees_with_the_reference_loop(name, form):
    program = SWEEP_PROGRAMS[name]
    with use_reference():
        reference, reference_spent = reverse_sweep(program, form)
    assert reference.complete
    served = [acc for acc in accelerators("sweep") if acc.serves(program, form, False)]
    if form == "rules" or COMPILED:
        assert served, f"no accelerator serves the {form} sweep"
    for accelerator in served:
        lam, spent = accelerator.run(program, form, False)
        assert_same_multipliers(lam.flat, reference.flat)
        assert spent == reference_spent, accelerator.name
    # the dispatched sweep is the first accelerator's, the reference loop under the switch
    assert_same_multipliers(reverse_sweep(program, form)[0].flat, reference.flat)


@pytest.mark.parametrize("name", list(SWEEP_PROGRAMS))
def test_the_gradient_only_accelerators_agree_on_the_gradient(name):
    program = SWEEP_PROGRAMS[name]
    with use_reference():
        reference, _ = reverse_sweep(program, "rules", gradient_only=True)
    for form in FORMS:
        for accelerator in accelerators("sweep"):
            if accelerator.serves(program, form, True):
                lam, _ = accelerator.run(program, form, True)
                for i in program.graph.inputs:
                    assert_same_multipliers(lam[i], reference[i])


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), array=st.booleans(), n_nodes=st.integers(3, 20))
def test_reference_and_dispatched_sweeps_agree_on_random_functions(seed, array, n_nodes):
    program = la.Program(traced(seed, array, n_nodes)[0])
    for form in FORMS:
        with use_reference():
            want, want_spent = reverse_sweep(program, form)
        got, spent = reverse_sweep(program, form)
        assert_same_multipliers(got.flat, want.flat)
        assert spent == want_spent


def test_the_reference_loops_are_the_lecture_loops():
    # the lecture example by hand: lam_N = 1 and each node's multipliers from its children
    program = la.examples.lecture().program()
    with use_reference():
        assert accelerator_for("sweep", program, "partials", False) is None
        for form in FORMS:
            lam, spent = reverse_sweep(program, form)
            assert_same_multipliers(lam.flat, la.solve(program).multipliers.flat, rtol=1e-15)
            assert spent == 9
        solution = la.solve(program)
    assert solution.kkt_residual == 0.0
    np.testing.assert_allclose(solution.gradient, la.examples.lecture().gradient, rtol=1e-12)


def test_the_environment_switch_forces_the_reference_sweep(monkeypatch):
    program = SWEEP_PROGRAMS["traced-1-array"]
    accelerated = la.solve(program, gradient_only=True, check=False)
    with pytest.raises(la.LagrangeADError, match="not computed"):
        _ = accelerated.multipliers.flat  # the accelerator formed the gradient alone
    monkeypatch.setattr(dispatch, "ENVIRONMENT_FORCES_REFERENCE", True)  # as if set at import
    assert accelerator_for("sweep", program, "rules", True) is None
    reference = la.solve(program, gradient_only=True, check=False)
    assert reference.multipliers.complete  # the plain loop forms every multiplier
    for got, want in zip(reference.gradient, accelerated.gradient):
        assert_same_multipliers(got, want)


# ----------------------------------------------------------------- plans and their options


def test_each_plan_is_chosen_by_its_options():
    program = la.examples.lecture().program()
    cyclic = la.examples.fixed_cos().program()
    assert la.solve(program).stats.extra["plan"] == "sweep"
    assert la.solve(program, blocks="levels").stats.extra["plan"] == "levels"
    assert la.solve(program, checkpoints=1).stats.extra["plan"] == "checkpoints"
    assert la.solve(cyclic).stats.extra["plan"] == "condensation"
    assert la.solve(cyclic, inner="direct", tol=0.0, maxiter=5).stats.extra["plan"] \
        == "condensation"


@pytest.mark.parametrize("cyclic, options, pattern", [
    (False, {"inner": "bogus", "tol": -5}, r"option inner='bogus' is unknown"),
    (False, {"inner": "direct"}, r"option inner='direct' does not apply: the node-by-node "
                                 r"sweep of a DAG accepts: via, blocks, check, gradient_only"),
    (False, {"tol": 1e-8}, r"option tol=1e-08 does not apply"),
    (False, {"maxiter": 3}, r"option maxiter=3 does not apply"),
    (False, {"blocks": "levels", "via": "rules"}, r"option via='rules' does not apply: the "
                                                  r"level sweep .* accepts: blocks, check"),
    (False, {"checkpoints": 2, "blocks": "levels"}, r"checkpoints go with the node-by-node "
                                                    r"sweep, not blocks='levels'"),
    (False, {"checkpoints": 2, "via": "jacobian"}, r"option via='jacobian' does not apply: "
                                                   r"the checkpointed sweep"),
    (False, {"gradient_only": "yes", "check": False}, r"gradient_only='yes': expected True or "
                                                      r"False"),
    (False, {"check": 1}, r"check=1: expected True or False"),
    (True, {"via": "rules"}, r"option via='rules' does not apply: the sweep over the "
                             r"condensation .* accepts: inner, tol, maxiter"),
    (True, {"inner": "bogus"}, r"inner='bogus' is unknown; expected one of 'fixed-point'"),
    (True, {"tol": -5}, r"tol=-5: expected a finite number"),
    (True, {"tol": float("nan")}, r"tol=nan: expected a finite number"),
    (True, {"maxiter": 0}, r"maxiter=0: expected an int"),
    (True, {"maxiter": 2.5}, r"maxiter=2.5: expected an int"),
])
def test_options_that_do_not_apply_are_refused_with_what_does(cyclic, options, pattern):
    program = (la.examples.fixed_cos() if cyclic else la.examples.lecture()).program()
    with pytest.raises(OptionError, match=pattern):
        la.solve(program, "reverse", **options)


@pytest.mark.parametrize("options, pattern", [
    ({"blocks": "levels"}, r"blocks='levels' needs topological levels"),
    ({"checkpoints": 2}, r"checkpointing needs a DAG"),
])
def test_plans_that_need_a_dag_refuse_a_cycle(options, pattern):
    with pytest.raises(la.MethodNotApplicableError, match=pattern):
        la.solve(la.examples.fixed_cos().program(), "reverse", **options)


SWEEP_MODULES = ("reverse", "levels", "forward", "plans", "checkpointing")


@pytest.mark.parametrize("name", SWEEP_MODULES)
def test_the_reference_sweep_modules_hold_no_fast_path(name):
    # their fast paths are accelerators in accel/, chosen by the dispatcher
    text = (Path(la.__file__).parent / "schedules" / f"{name}.py").read_text()
    for marker in ("numba", "njit", "getrefcount", "shape_table", "accel.kernels",
                   "from ..accel.sweeps", "CotangentSweep", "all_finite"):
        assert marker not in text, f"schedules/{name}.py holds {marker!r}"
