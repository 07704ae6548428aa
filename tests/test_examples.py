"""The named examples: every registered one against its known answer, and the meaning of the
multipliers of the models (posterior marginals, expected rule counts, observed minus expected
features, path counts)."""

import itertools

import numpy as np
import pytest
from zoo import central_difference

import lagrange_ad as la
from lagrange_ad.examples.models import _mlp_backprop
from lagrange_ad.schedules.paths import count_paths


def assert_relative(actual, expected, rtol):
    """Entrywise agreement to ``rtol`` relative to the largest entry of ``expected``.

    Relative to the array's scale, so exact zeros (unused rules, unseen symbols) are allowed
    rounding noise of that size rather than none at all.
    """
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape
    scale = float(np.max(np.abs(expected), initial=0.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def program_of(example):
    """The example's program; cyclic ones with a forward fixed point solved to 1e-15.

    The default stopping tolerance (1e-12) bounds the error of the fixed point, and on
    pagerank the damping gradient mu . (M r - 1/n) cancels, amplifying it to about 1e-8.
    """
    if example.graph.is_acyclic:
        return example.program()
    return la.Program(example.graph, fixed_point={"tol": 1e-15})


def nodes_of(graph, op, shape):
    """The nodes of primitive ``op`` and value shape ``shape``, in node order."""
    return [i for i in range(len(graph))
            if graph.op_names[graph.op[i]] == op and graph.shape(i) == shape]


# ------------------------------------------------------------------- every registered example


@pytest.mark.parametrize("name", list(la.examples.EXAMPLES))
def test_registered_example_matches_its_known_answer(name):
    factory = la.examples.EXAMPLES[name]
    assert (factory.__doc__ or "").strip().splitlines()[0], "the CLI lists the first line"
    example = la.examples.get(name)
    assert isinstance(example, la.examples.Example)
    assert example.name == name and example.summary
    program = program_of(example)
    solution = la.solve(program)
    assert solution.converged
    assert len(solution.gradient) == example.graph.n_inputs
    for g, x in zip(solution.gradient, example.point):
        assert g.shape == x.shape
    if example.value is not None:
        assert float(program.output_value) == pytest.approx(example.value, rel=1e-10)
    if example.gradient is not None:
        assert len(example.gradient) == len(solution.gradient)
        for g, expected in zip(solution.gradient, example.gradient):
            assert_relative(g, expected, 1e-9)


@pytest.mark.parametrize("name", list(la.examples.EXAMPLES))
def test_registered_example_is_deterministic(name):
    first, second = la.examples.get(name), la.examples.get(name)
    for x, y in zip(first.point, second.point):
        np.testing.assert_array_equal(x, y)
    assert str(first.graph) == str(second.graph)


def test_unknown_example_names_the_known_ones():
    with pytest.raises(la.LagrangeADError, match="unknown example 'hmmm'.*hmm"):
        la.examples.get("hmmm")


@pytest.mark.parametrize("name, options, message", [
    ("fully_connected", {"n": 1}, "n >= 2 nodes; got n=1"),
    ("mlp", {"widths": (3,)}, "an input and an output width"),
    ("mlp", {"widths": (3, 0, 2)}, r"widths\[1\] must be at least 1; got 0"),
    ("hmm", {"length": 0}, "length must be at least 1"),
    ("hmm", {"length": 20, "states": 4}, "enumerates 1099511627776 structures"),
    ("pcfg", {"length": 9}, "choose smaller sizes"),
    ("loglinear", {"classes": 0}, "classes must be at least 1"),
])
def test_bad_sizes_are_refused_with_a_message(name, options, message):
    with pytest.raises(la.LagrangeADError, match=f"{name}.*{message}"):
        la.examples.get(name, **options)


# ------------------------------------------------------------------------- fully connected


@pytest.mark.parametrize("n", [2, 3, 6, 10])
def test_fully_connected_has_two_to_the_n_minus_two_paths(n):
    example = la.examples.fully_connected(n=n, x=0.3)
    program = example.program()
    assert example.data["paths"] == 2 ** (n - 2)
    assert count_paths(program)[0] == 2 ** (n - 2)
    solution = la.solve(program)
    assert float(program.output_value) == pytest.approx(example.value, rel=1e-12)
    assert_relative(solution.gradient[0], example.gradient[0], 1e-12)
    by_paths = la.solve(program, "paths")
    assert by_paths.stats.extra["paths"] == example.data["all_paths"] == 2**n + 2 ** (n - 2) - 1
    assert_relative(by_paths.gradient[0], example.gradient[0], 1e-12)


def test_fully_connected_derivative_matches_finite_differences():
    example = la.examples.fully_connected(n=7, x=-0.4)

    def value(x):
        return la.examples.fully_connected(n=7, x=x).value

    fd = central_difference(value, [np.array(-0.4)], [np.array(1.0)], h=1e-6)
    assert float(example.gradient[0]) == pytest.approx(float(fd), rel=1e-7)


# ------------------------------------------------------------------------------------- mlp


@pytest.mark.parametrize("widths, batch, seed", [
    ((4, 8, 8, 3), 5, 0), ((3, 2), 4, 1), ((2, 5, 4, 6, 3), 7, 2),
])
def test_mlp_gradient_equals_numpy_backprop(widths, batch, seed):
    example = la.examples.mlp(widths=widths, batch=batch, seed=seed)
    onehot = np.eye(widths[-1])[example.data["labels"]]
    loss, grads = _mlp_backprop(list(example.point), example.data["X"], onehot)
    solution = la.solve(example.program())
    assert float(example.program().output_value) == pytest.approx(loss, rel=1e-12)
    assert len(solution.gradient) == 2 * (len(widths) - 1)
    for g, expected, x in zip(solution.gradient, grads, example.point):
        assert g.shape == x.shape
        assert_relative(g, expected, 1e-12)


def test_mlp_backprop_matches_finite_differences():
    example = la.examples.mlp(widths=(3, 4, 2), batch=3, seed=5)
    onehot = np.eye(2)[example.data["labels"]]
    rng = np.random.default_rng(0)
    direction = [rng.standard_normal(x.shape) for x in example.point]

    def loss(*params):
        return _mlp_backprop(list(params), example.data["X"], onehot)[0]

    _, grads = _mlp_backprop(list(example.point), example.data["X"], onehot)
    predicted = sum(float(np.sum(g * d)) for g, d in zip(grads, direction))
    assert predicted == pytest.approx(central_difference(loss, example.point, direction), rel=1e-7)


# ------------------------------------------------------------------------------------- hmm


@pytest.mark.parametrize("options", [{}, {"length": 6, "states": 2, "symbols": 3, "seed": 3},
                                     {"length": 1, "states": 4, "symbols": 2, "seed": 1}])
def test_hmm_gradient_is_the_posterior_marginals(options):
    example = la.examples.hmm(**options)
    unary = example.data["marginals"]["unary"]
    pairwise = example.data["marginals"]["pairwise"]
    length, states = unary.shape
    # marginals are distributions per position and consistent with each other
    np.testing.assert_allclose(unary.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(pairwise.sum(axis=(1, 2)), 1.0, rtol=1e-12)
    np.testing.assert_allclose(pairwise.sum(axis=2), unary[:-1], atol=1e-14)
    np.testing.assert_allclose(pairwise.sum(axis=1), unary[1:], atol=1e-14)

    program = example.program()
    solution = la.solve(program)
    g_init, g_trans, g_emit = solution.gradient
    assert_relative(g_init, unary[0], 1e-12)
    assert_relative(g_trans, pairwise.sum(axis=0), 1e-12)
    observations = example.data["observations"]
    for w in range(g_emit.shape[1]):
        assert_relative(g_emit[:, w], unary[observations == w].sum(axis=0), 1e-12)
    assert float(g_emit.sum()) == pytest.approx(length, rel=1e-12)
    assert float(program.output_value) < 0.0  # a log-probability of a sequence

    # forward-backward inside the KKT solution: the multipliers of the unary node
    # u_t = emit[:, x_t] are p(z_t | x), those of alpha_{t-1}[a] + trans[a, b] are pairwise
    (u_node,) = nodes_of(program.graph, "getitem", (length, states))
    assert_relative(solution.multipliers[u_node], unary, 1e-12)
    pair_nodes = nodes_of(program.graph, "add", (states, states))
    assert len(pair_nodes) == length - 1
    for t, node in enumerate(pair_nodes):
        assert_relative(solution.multipliers[node], pairwise[t], 1e-12)


def test_hmm_brute_force_value_is_the_likelihood():
    example = la.examples.hmm(length=3, states=2, symbols=2, seed=4)
    init, trans, emit = (np.exp(x) for x in example.point)
    x = example.data["observations"]
    likelihood = sum(init[a] * emit[a, x[0]] * trans[a, b] * emit[b, x[1]] * trans[b, c]
                     * emit[c, x[2]] for a, b, c in itertools.product(range(2), repeat=3))
    assert example.value == pytest.approx(np.log(likelihood), rel=1e-13)


# ------------------------------------------------------------------------------------ pcfg


@pytest.mark.parametrize("options", [{}, {"length": 3, "nonterminals": 2, "terminals": 2,
                                          "seed": 1}, {"length": 5, "nonterminals": 2}])
def test_pcfg_gradient_is_the_expected_rule_counts(options):
    example = la.examples.pcfg(**options)
    words = example.data["words"]
    length = len(words)
    solution = la.solve(example.program())
    g_binary, g_lexical = solution.gradient
    expected_binary, expected_lexical = example.gradient
    assert_relative(g_binary, expected_binary, 1e-10)
    assert_relative(g_lexical, expected_lexical, 1e-10)
    # every tree has length - 1 binary rules and one lexical rule per word
    assert float(g_binary.sum()) == pytest.approx(length - 1, rel=1e-12)
    np.testing.assert_allclose(g_lexical.sum(axis=0),
                               np.bincount(words, minlength=g_lexical.shape[1]), atol=1e-12)
    assert np.all(g_binary >= -1e-15) and np.all(g_lexical >= -1e-15)


def test_pcfg_two_words_by_hand():
    # with two words the only tree shape is S -> B C, B -> w0, C -> w1
    example = la.examples.pcfg(length=2, nonterminals=2, terminals=3, seed=7)
    binary, lexical = example.point
    w0, w1 = example.data["words"]
    terms = binary[0] + lexical[:, w0][:, None] + lexical[:, w1][None, :]
    posterior = np.exp(terms - np.log(np.exp(terms).sum()))
    assert example.value == pytest.approx(float(np.log(np.exp(terms).sum())), rel=1e-13)
    g_binary, g_lexical = la.solve(example.program()).gradient
    assert_relative(g_binary[0], posterior, 1e-12)
    assert_relative(g_binary[1], np.zeros((2, 2)), 1e-12)
    # the left word is tagged B with probability sum_C posterior[B, C], the right one C
    expected_lexical = np.zeros_like(g_lexical)
    expected_lexical[:, w0] += posterior.sum(axis=1)
    expected_lexical[:, w1] += posterior.sum(axis=0)
    assert_relative(g_lexical, expected_lexical, 1e-12)


def test_pcfg_one_word_is_one_lexical_rule():
    example = la.examples.pcfg(length=1, nonterminals=3, terminals=2, seed=2)
    (w,) = example.data["words"]
    assert example.value == pytest.approx(float(example.point[1][0, w]), rel=1e-14)
    g_binary, g_lexical = la.solve(example.program()).gradient
    expected = np.zeros_like(g_lexical)
    expected[0, w] = 1.0
    np.testing.assert_array_equal(g_lexical, expected)
    np.testing.assert_array_equal(g_binary, 0.0)


# ------------------------------------------------------------------------------- loglinear


@pytest.mark.parametrize("options", [{}, {"classes": 2, "features": 3, "observations": 9,
                                          "seed": 4}])
def test_loglinear_gradient_is_observed_minus_expected(options):
    example = la.examples.loglinear(**options)
    phi, labels = example.data["features"], example.data["labels"]
    (theta,) = example.point
    observed = np.zeros_like(theta)
    expected = np.zeros_like(theta)
    log_likelihood = 0.0
    for f, y in zip(phi, labels):
        scores = [float(theta @ f[c]) for c in range(len(f))]
        z = sum(np.exp(s) for s in scores)
        observed += f[y]
        expected += sum(np.exp(s) / z * f[c] for c, s in enumerate(scores))
        log_likelihood += scores[y] - np.log(z)
    assert example.value == pytest.approx(log_likelihood, rel=1e-12)
    assert_relative(example.data["observed"], observed, 1e-12)
    assert_relative(example.data["expected"], expected, 1e-12)
    (g,) = la.solve(example.program()).gradient
    assert_relative(g, observed - expected, 1e-12)
