"""The reverse sweep: closed forms, KKT stationarity, finite differences and another AD library."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zoo import LagrangeOps, central_difference, random_function, random_point, traced

import lagrange_ad as la


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
    with pytest.raises(la.MethodNotApplicableError, match=r"gradient_only=True .* pass "
                                                         r"check=False"):
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
    assert first.depends_on_input is second.depends_on_input is graph.depends_on_input
    assert first.multiply_adds is second.multiply_adds
    assert first.is_source is graph.is_source
    data = next(i for i in range(len(graph)) if graph.shape(i) == DATA.shape)
    assert not graph.depends_on_input[data] and graph.is_source[data]


def test_program_keeps_read_only_float64_values_and_copies_the_rest():
    w, b = np.random.default_rng(4).standard_normal((4, 3)), np.linspace(-1, 1, 3)
    graph = la.trace(data_layer, w, b)
    frozen = w.copy()
    frozen.flags.writeable = False
    program = la.Program(graph, frozen, b)
    assert program.point[0] is frozen
    assert program.point[1] is not b and np.array_equal(program.point[1], b)


WIDE = np.random.default_rng(6).standard_normal((30, 40))


def wide_layer(w, b):
    # large enough that the sweep goes by VJP rules rather than an assembled J
    return la.sum(la.tanh(WIDE @ w + b) * 0.5) + la.sum(la.exp(w) * w)


def wide_point(seed=7):
    rng = np.random.default_rng(seed)
    return 0.1 * rng.standard_normal((40, 30)), rng.standard_normal(30)


def test_keep_gradient_keeps_only_the_values_the_sweep_reads():
    point = wide_point()
    full = la.Program.from_function(wide_layer, *point)
    lean = la.Program.from_function(wide_layer, *point, keep="gradient")
    graph = lean.graph
    dropped = [i for i in range(len(graph)) if not graph.gradient_reads[i]]
    # WIDE @ w, its sum with b, the product by 0.5, the sum and exp(w) * w are read by no rule
    assert [graph.primitive(i).name for i in dropped] == ["matmul", "add", "mul", "sum", "mul",
                                                           "sum"]
    for i in range(len(graph)):
        if i in dropped:
            with pytest.raises(la.LagrangeADError, match=rf"v{i} was not computed: the program "
                                                         r"keeps only .* \(keep='gradient'\)"):
                lean.values[i]
        else:
            np.testing.assert_array_equal(lean.values[i], full.values[i])
    got = la.solve(lean, gradient_only=True, check=False).gradient
    for g, want in zip(got, la.solve(full).gradient):
        np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)
    with pytest.raises(la.LagrangeADError, match=r"keep='gradient'"):
        la.solve(lean, "forward")


def test_grad_keeps_only_what_its_sweep_reads_and_agrees_with_the_full_program():
    point = wide_point(8)
    for got, want in zip(la.grad(wide_layer)(*point),
                         la.solve(la.Program.from_function(wide_layer, *point)).gradient):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    # options beyond the shortcut's keep every value, as the sweep they ask for needs them
    for options in ({"blocks": "levels"}, {"via": "jacobian"}, {"checkpoints": 2}):
        for got, want in zip(la.grad(wide_layer, **options)(*point),
                             la.grad(wide_layer)(*point)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_the_forward_reuses_only_memory_nobody_else_holds():
    # b is a view of the kept tanh value a; b + 1 must not be written into it
    def viewed(w):
        a = la.tanh(WIDE @ w)
        b = a.reshape((a.shape[1], a.shape[0]))
        return la.sum(la.exp(b + 1.0)) + la.sum(a * a)

    w = wide_point()[0]
    full = la.Program.from_function(viewed, w)
    lean = la.Program.from_function(viewed, w, keep="gradient")
    tanh = next(i for i in range(len(full.graph)) if full.graph.primitive(i).name == "tanh")
    np.testing.assert_array_equal(lean.values[tanh], full.values[tanh])
    np.testing.assert_allclose(la.solve(lean, gradient_only=True, check=False).gradient[0],
                               la.solve(full).gradient[0], rtol=1e-13)


def test_an_overflow_in_place_is_reported_with_the_operands_it_overwrote():
    # exp writes into the memory of its operand (freed right after): the report still shows
    # that operand, from the loop that keeps every value
    def overflowing(w):
        return la.sum(la.exp(WIDE @ w + 800.0) * 0.5)

    with pytest.raises(la.NonFiniteError, match=r"exp\(v4\).*: exp produced infinity from "
                                                 r"operands array of shape \(30, 30\) \(min 7"):
        la.Program.from_function(overflowing, np.ones((40, 30)), keep="gradient")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10**6), n_nodes=st.integers(4, 30))
def test_the_lean_gradient_equals_the_sweep_over_j_on_random_array_functions(seed, n_nodes):
    # la.grad keeps only what the rules read and reuses freed memory in place; the sweep over
    # the assembled J of the program that keeps every value is an independent path
    recipe, point = random_function(seed, n_nodes, array=True), random_point(seed, array=True)

    def f(x, y, z):
        return recipe(LagrangeOps, x, y, z)

    reference = la.solve(la.Program.from_function(f, *point), via="jacobian").gradient
    for got, want in zip(la.grad(f)(*point), reference):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    for got, want in zip(la.grad(la.trace(f, *point))(*point), reference):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_keep_gradient_leaves_graphs_swept_over_j_whole():
    # scalar graphs, and graphs mostly of scalar nodes, sweep over the assembled J
    lecture = la.examples.lecture().graph
    assert la.Program(lecture, keep="gradient").values.complete
    mostly_scalar = la.trace(lambda x, y: la.sin(x) * y + la.sum(la.stack([x, y])), 1.0, 2.0)
    assert la.Program(mostly_scalar, keep="gradient").values.complete
    assert not la.Program(la.trace(data_layer, np.ones((4, 3)), np.ones(3)),
                          keep="gradient").values.complete
    with pytest.raises(la.LagrangeADError, match=r"keep='values' is unknown; use one of: "
                                                 r"'all', 'gradient'"):
        la.Program(lecture, keep="values")


def test_a_nonfinite_gradient_is_traced_to_its_node_with_values_dropped():
    # sqrt'(0) is infinite: the multiplier check fails, and the search for the culprit
    # evaluates the values that the lean program did not keep
    def root_layer(w):
        return la.sum(la.sqrt(la.tanh(WIDE @ w) ** 2.0))

    with pytest.raises(la.NonFiniteError, match=r"sqrt .* is not finite"):
        la.grad(root_layer)(np.zeros((40, 30)))


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
    ({"via": "dense"}, r"via='dense' is unknown; use one of 'auto', 'jacobian', 'rules'"),
    ({"blocks": "rows"}, r"blocks='rows' is unknown; use one of 'nodes', 'levels'"),
])
def test_unknown_choices_are_refused_by_name(options, pattern):
    program = la.examples.lecture().program()
    with pytest.raises(la.MethodNotApplicableError, match=pattern):
        la.solve(program, **options)
