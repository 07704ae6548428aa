"""Sparse Hessians: the pattern read from the graph, the column colouring and the recovery.

Each case is a function written once over a numpy-like namespace, so the same code runs
under la.trace and under autograd; the sparse Hessian must equal the dense la.hessian and
autograd's to 1e-10, its pattern must hold every nonzero (and be exact where the case says
so), and it must take the stated number of Hessian-vector products.
"""

import importlib

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import scipy.sparse as sp
from zoo import LagrangeOps, random_function, random_point

import lagrange_ad as la
from lagrange_ad.colouring import column_colouring, recover, seed_matrix, star_colouring
from lagrange_ad.errors import BudgetError, OptionError, ShapeError
from lagrange_ad.program import hessian_pattern as hessian_pattern_module
from lagrange_ad.program.hessian_pattern import STRUCTURES, row_structure

RNG = np.random.default_rng(20261205)
# the module (la.hessian is the function of the same name)
hessian_module = importlib.import_module("lagrange_ad.hessian")


class La:
    sum, sin, cos, exp, logsumexp = la.sum, la.sin, la.cos, la.exp, la.logsumexp


class Ag:
    sum, sin, cos, exp = anp.sum, anp.sin, anp.cos, anp.exp

    @staticmethod
    def logsumexp(u):
        top = anp.max(u)
        return top + anp.log(anp.sum(anp.exp(u - top)))


def diagonal(ops, x):
    return ops.sum(ops.sin(x)) + ops.sum(x ** 4)


def chained_rosenbrock(ops, x):
    return ops.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2) + ops.sum((1.0 - x[:-1]) ** 2)


def blocks_of_five(ops, x):
    return ops.sum(ops.sum(x.reshape(40, 5), axis=1) ** 2) + ops.sum(ops.cos(x))


def arrowhead(ops, x):
    return ops.sum((x[:-1] * x[-1]) ** 2) + ops.sum(ops.exp(x))


def dense(ops, x):
    return ops.logsumexp(x) + ops.sum(x ** 2)


def band(n: int, width: int) -> np.ndarray:
    return np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= width


def arrow(n: int) -> np.ndarray:
    pattern = np.eye(n, dtype=bool)
    pattern[-1, :] = pattern[:, -1] = True
    return pattern


# function, size of x, the exact pattern of H, and the products that the largest-first
# distance-2 and star colourings take
CASES = {
    "diagonal": (diagonal, 200, np.eye(200, dtype=bool), 1, 1),
    "chained_rosenbrock": (chained_rosenbrock, 200, band(200, 1), 3, 3),
    "blocks_of_five": (blocks_of_five, 200, np.kron(np.eye(40), np.ones((5, 5))) > 0, 5, 5),
    # the last column meets every row: no two columns are structurally orthogonal, while
    # each entry of the last row can be read from its column's side
    "arrowhead": (arrowhead, 30, arrow(30), 30, 2),
    "dense": (dense, 20, np.ones((20, 20), bool), 20, 20),
}


@pytest.mark.parametrize("colouring", ["distance-2", "star"])
@pytest.mark.parametrize("name", CASES)
def test_sparse_hessian_equals_dense_and_autograd_with_the_stated_products(name, colouring):
    f, n, exact, *products = CASES[name]
    x = RNG.uniform(0.2, 1.2, n)
    h, info = la.hessian(lambda x: f(La, x), sparsity="auto", colouring=colouring,
                         return_info=True)(x)
    assert isinstance(h, sp.csr_array) and h.shape == (n, n)
    assert info.products == products[colouring == "star"] and info.kind == colouring
    np.testing.assert_array_equal(info.pattern.toarray(), exact)
    dense_h = la.hessian(lambda x: f(La, x))(x)
    theirs = autograd.hessian(lambda x: f(Ag, x))(x)
    scale = max(1.0, np.abs(theirs).max())
    np.testing.assert_allclose(h.toarray(), dense_h, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(h.toarray(), theirs, rtol=0, atol=1e-10 * scale)


def test_several_arguments_give_one_matrix_over_all_their_entries():
    def f(ops, x, y):
        return ops.sum(x * y) + ops.sum(ops.sin(x)) + ops.sum(y[1:] * y[:-1] ** 2)

    x, y = RNG.uniform(0.2, 1.2, 30), RNG.uniform(0.2, 1.2, 30)
    h, info = la.hessian(lambda x, y: f(La, x, y), sparsity="auto", return_info=True)(x, y)
    theirs = autograd.hessian(lambda v: f(Ag, v[:30], v[30:]))(np.concatenate([x, y]))
    np.testing.assert_allclose(h.toarray(), theirs, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(info.pattern.toarray(), theirs != 0)
    blocks = la.hessian(lambda x, y: f(La, x, y))(x, y)
    np.testing.assert_allclose(h.toarray(), np.block([list(row) for row in blocks]),
                               rtol=0, atol=1e-10)
    assert info.products < 60


def test_bilinear_rows_pair_different_operands_only():
    # sum(x * y): H pairs x_k with y_k and nothing else, so one product recovers it
    h, info = la.hessian(lambda x, y: la.sum(x * y), sparsity="auto",
                         return_info=True)(np.ones(8), np.ones(8))
    exact = np.kron(np.array([[0, 1], [1, 0]]), np.eye(8))
    np.testing.assert_array_equal(info.pattern.toarray(), exact > 0)
    np.testing.assert_array_equal(h.toarray(), exact)
    assert info.products == 1


def test_matrix_products_give_a_pattern_holding_every_nonzero():
    def f(ops, a, b):
        return ops.sum(ops.sin(a.reshape(3, 4) @ b.reshape(4, 2))) + ops.sum(a[:2] * b[:2])

    a, b = RNG.standard_normal(12), RNG.standard_normal(8)
    h, info = la.hessian(lambda a, b: f(La, a, b), sparsity="auto", return_info=True)(a, b)
    theirs = autograd.hessian(lambda v: f(Ag, v[:12], v[12:]))(np.concatenate([a, b]))
    assert not np.any((theirs != 0) & ~info.pattern.toarray())
    np.testing.assert_allclose(h.toarray(), theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("array", [False, True])
def test_random_functions_hold_every_nonzero_and_agree(seed, array):
    recipe, point = random_function(seed, 10, array), random_point(seed, array)
    f = lambda x, y, z: recipe(LagrangeOps, x, y, z)  # noqa: E731
    h, info = la.hessian(f, sparsity="auto", return_info=True)(*point)
    blocks = la.hessian(f)(*point)
    dense_h = np.block([[np.reshape(b, (np.size(u), np.size(w))) for b, w in zip(row, point)]
                        for row, u in zip(blocks, point)])
    assert not np.any((dense_h != 0) & ~info.pattern.toarray())
    np.testing.assert_allclose(h.toarray(), dense_h, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", ["fixed_cos", "jacobi_solve", "hmm", "crf", "logistic"])
def test_examples_with_and_without_cycles_agree_with_the_dense_hessian(name):
    example = la.examples.get(name)
    point = example.point
    h = la.hessian(example.graph, sparsity="auto")(*point)
    blocks = la.hessian(example.graph)(*point)
    if len(point) == 1:
        n = np.size(point[0])
        dense_h = np.reshape(blocks, (n, n))
    else:
        dense_h = np.block([[np.reshape(b, (np.size(u), np.size(w)))
                             for b, w in zip(row, point)] for row, u in zip(blocks, point)])
    np.testing.assert_allclose(h.toarray(), dense_h, rtol=0,
                               atol=1e-10 * max(1.0, np.abs(dense_h).max()))


def test_a_given_pattern_is_made_symmetric_and_used():
    x = RNG.uniform(0.2, 1.2, 50)
    f = lambda x: chained_rosenbrock(La, x)  # noqa: E731
    upper = np.triu(band(50, 1))
    expected = la.hessian(f)(x)
    for given in (upper, sp.csr_matrix(upper), sp.coo_array(band(50, 1).astype(float))):
        h, info = la.hessian(f, sparsity=given, return_info=True)(x)
        assert info.products == 3
        np.testing.assert_allclose(h.toarray(), expected, rtol=0, atol=1e-10)


def test_unknown_sparsity_and_wrong_shapes_are_refused_by_name():
    f = lambda x: la.sum(x ** 3)  # noqa: E731
    with pytest.raises(OptionError, match="sparsity='auto'"):
        la.hessian(f, sparsity="diagonal")
    with pytest.raises(ShapeError, match="square"):
        la.hessian(f, sparsity=np.ones((3, 4), bool))
    with pytest.raises(OptionError, match="'distance-2', 'star'"):
        la.hessian(f, sparsity="auto", colouring="greedy")
    with pytest.raises(ShapeError, match="over the 5 input entries"):
        la.hessian(f, sparsity=np.eye(4, dtype=bool))(np.ones(5))


def test_a_graph_and_the_dense_path_report_their_products():
    x = RNG.uniform(0.2, 1.2, 12)
    graph = la.trace(lambda x: chained_rosenbrock(La, x), x)
    h, info = la.hessian(graph, sparsity="auto", return_info=True)(x)
    dense_h, dense_info = la.hessian(graph, return_info=True)(x)
    assert info.products == 3 and dense_info.products == 12
    np.testing.assert_array_equal(la.hessian_pattern(graph)(x).toarray(), band(12, 1))
    np.testing.assert_allclose(h.toarray(), dense_h, rtol=0, atol=1e-10)


def test_all_products_share_one_first_order_solve(monkeypatch):
    calls = []
    real_solve = hessian_module.solve

    def counting(program, *args, **kwargs):
        calls.append(type(program).__name__)
        return real_solve(program, *args, **kwargs)

    monkeypatch.setattr(hessian_module, "solve", counting)
    x = RNG.uniform(0.2, 1.2, 40)
    h, info = la.hessian(lambda x: chained_rosenbrock(La, x), sparsity="auto",
                         return_info=True)(x)
    assert info.products == 3 and calls == ["Program"]
    # a schedule other than the reverse sweep solves the second system once per colour
    calls.clear()
    la.hessian(lambda x: chained_rosenbrock(La, x), method="spsolve", sparsity="auto")(x)
    assert calls == ["Program"] + ["SecondSystem"] * 3


def test_every_row_has_a_structure_and_multilinear_rows_have_cross_terms_only():
    assert {row_structure(p) for p in la.PRIMITIVES.values()} <= set(STRUCTURES)
    for name in ("mul", "matmul", "dot", "einsum"):
        assert row_structure(la.PRIMITIVES[name]) == "multilinear"
    assert row_structure(la.PRIMITIVES["sin"]) == "elementwise"
    assert row_structure(la.PRIMITIVES["getitem"]) == "linear"
    assert row_structure(la.PRIMITIVES["logsumexp"]) == "general"


@pytest.mark.parametrize("seed", range(5))
def test_colours_are_structurally_orthogonal_and_recover_the_matrix(seed):
    rng = np.random.default_rng(seed)
    m = sp.random_array((60, 60), density=0.05, rng=rng).toarray()
    m = m + m.T + np.diag(rng.standard_normal(60))
    pattern = m != 0
    colours = column_colouring(pattern)
    for c in range(colours.max() + 1):
        assert pattern[:, colours == c].sum(axis=1).max() <= 1
    recovered = recover(pattern, colours, m @ seed_matrix(colours))
    np.testing.assert_array_equal(recovered.toarray(), m)


@pytest.mark.parametrize("seed", range(5))
def test_star_colours_read_every_entry_from_one_side_and_recover_the_matrix(seed):
    rng = np.random.default_rng(seed)
    m = sp.random_array((60, 60), density=rng.uniform(0.02, 0.1), rng=rng).toarray()
    m = m + m.T
    m[np.arange(0, 60, 2), np.arange(0, 60, 2)] = 1.0 + rng.random(30)
    pattern = m != 0
    colours = star_colouring(pattern)
    full = pattern | np.diag(pattern.any(axis=0))
    members = np.array([[np.sum(full[i] & (colours == c)) for c in range(colours.max() + 1)]
                        for i in range(60)])
    for i, j in zip(*np.nonzero(full)):
        assert colours[i] != colours[j] or i == j
        assert members[i, colours[j]] == 1 or members[j, colours[i]] == 1
    recovered = recover(pattern, colours, m @ seed_matrix(colours), "star")
    np.testing.assert_array_equal(recovered.toarray(), m)
    assert colours.max() <= column_colouring(pattern).max()


@pytest.mark.parametrize("seed", range(4))
def test_colouring_is_networkx_greedy_largest_first(seed):
    nx = pytest.importorskip("networkx")
    rng = np.random.default_rng(seed)
    # seed 3: an arrowhead, whose full row takes the shortcut past C = P^T P
    pattern = sp.random_array((40, 40), density=0.08, rng=rng).toarray() != 0 if seed < 3 \
        else arrow(40)
    pattern |= pattern.T
    pattern[np.arange(40), np.arange(40)] = True  # no empty column, which we leave uncoloured
    intersections = (pattern.astype(int).T @ pattern.astype(int)) > 0
    graph = nx.Graph()
    graph.add_nodes_from(range(40))
    graph.add_edges_from((j, k) for j, k in zip(*np.nonzero(np.triu(intersections, 1))))
    theirs = nx.greedy_color(graph, strategy="largest_first")
    ours = column_colouring(pattern)
    assert ours.max() + 1 == max(theirs.values()) + 1
    assert ours.tolist() == [theirs[j] for j in range(40)]


def test_second_derivatives_that_vanish_at_the_point_stay_in_the_pattern():
    # d^2/dx^2 sum(x^3) = 6x is zero at 0, and the matrix product of zeros still pairs a, b
    np.testing.assert_array_equal(
        la.hessian_pattern(lambda x: la.sum(x ** 3))(np.zeros(5)).toarray(), np.eye(5))
    pattern = la.hessian_pattern(lambda a, b: la.sum(a @ b))(np.zeros((2, 3)), np.zeros((3, 2)))
    theirs = autograd.hessian(lambda v: anp.sum(v[:6].reshape(2, 3) @ v[6:].reshape(3, 2)))(
        np.ones(12))
    assert not np.any((theirs != 0) & ~pattern.toarray())
    assert not np.any(pattern.toarray()[:6, :6]) and not np.any(pattern.toarray()[6:, 6:])


def test_a_linear_function_takes_no_product():
    h, info = la.hessian(lambda x: la.sum(3.0 * x), sparsity="auto",
                         return_info=True)(np.ones(6))
    assert info.products == 0 and h.nnz == 0 and h.shape == (6, 6)
    # an argument f is linear in needs no product either
    h, info = la.hessian(lambda x, y: la.sum(x) + la.sum(la.sin(y)), sparsity="auto",
                         return_info=True)(np.ones(3), np.ones(2))
    assert info.products == 1
    np.testing.assert_allclose(h.toarray(), np.diag([0, 0, 0] + [-np.sin(1.0)] * 2),
                               rtol=0, atol=1e-15)
    assert info.colours[:3].tolist() == [-1, -1, -1]


def test_piecewise_linear_rows_keep_the_entries_of_their_piece():
    # max along rows picks x[0] and x[2] here; the pattern and H keep those entries alone
    f = lambda x: la.sum(la.max(x.reshape(2, 2), axis=1) ** 3)  # noqa: E731
    x = np.array([3.0, 1.0, 2.0, 0.5])
    h, info = la.hessian(f, sparsity="auto", return_info=True)(x)
    np.testing.assert_array_equal(info.pattern.toarray(), np.diag([1, 0, 1, 0]) > 0)
    np.testing.assert_allclose(h.toarray(), np.diag([18.0, 0, 12.0, 0]), rtol=1e-14)  # 6 max
    assert info.products == 1


def test_a_pattern_past_its_budget_is_refused_by_name(monkeypatch):
    monkeypatch.setattr(hessian_pattern_module, "PATTERN_ENTRIES", 300)
    f = lambda x: la.sum(la.softmax(x) * x)  # noqa: E731
    with pytest.raises(BudgetError, match="softmax.*'general' row.*sparsity=None"):
        la.hessian_pattern(f)(np.ones(20))
    assert la.hessian_pattern(f)(np.ones(10)).nnz == 100
