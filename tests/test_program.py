"""The program at a point: values, constraints, Lagrangian, KKT residual, J and A = I - J."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator

import lagrange_ad as la
from lagrange_ad.errors import (
    DomainError,
    GraphError,
    LagrangeADError,
    NonFiniteError,
    NonScalarOutputError,
    ShapeError,
)
from lagrange_ad.program.vectors import all_finite

RNG = np.random.default_rng(11)


def lecture(x, y, z):
    return z + la.sin(x**2 + y * la.exp(z))


def network(W, x):
    # a repeated parent (x[0] * x[0]), broadcasting, a constant and two normalizers
    h = la.tanh(W @ x + np.array([0.1, -0.2]))
    return la.sum(h**2) + la.log_softmax(x)[1] + x[0] * x[0]


def mixed(a, b):
    m = la.maximum(a, b) * la.sigmoid(a - b)
    return la.mean(m) + la.logsumexp(la.concatenate([a.reshape(6), b])) * la.sqrt(b[0] ** 2 + 1)


def axes(a, b):
    # negative axes in transpose, stack, concatenate, softmax and mean
    t = la.transpose(a, (-1, 0))
    c = la.concatenate([t, la.stack([b, b * 2.0], axis=-1)], axis=-1)
    return la.sum(la.softmax(c, axis=-2) * np.arange(12.0).reshape(3, 4)) \
        + la.sum(la.mean(a, axis=-1) ** 2)


CASES = {
    "lecture": (lecture, (2.0, -1.0, 0.0)),
    "network": (network, (RNG.standard_normal((2, 3)), RNG.standard_normal(3))),
    "mixed": (mixed, (RNG.standard_normal((2, 3)), RNG.standard_normal(3))),
    "axes": (axes, (RNG.standard_normal((2, 3)), RNG.standard_normal(3))),
}


def numpy_value(name, *args):
    """The same functions written directly in numpy."""
    if name == "lecture":
        x, y, z = args
        return z + np.sin(x**2 + y * np.exp(z))
    if name == "network":
        W, x = args
        h = np.tanh(W @ x + np.array([0.1, -0.2]))
        log_softmax = x - np.log(np.sum(np.exp(x)))
        return np.sum(h**2) + log_softmax[1] + x[0] * x[0]
    a, b = args
    if name == "axes":
        c = np.concatenate([a.T, np.stack([b, 2.0 * b], axis=1)], axis=1)
        softmax = np.exp(c) / np.sum(np.exp(c), axis=0, keepdims=True)
        return np.sum(softmax * np.arange(12.0).reshape(3, 4)) + np.sum(np.mean(a, axis=1) ** 2)
    m = np.maximum(a, b) / (1 + np.exp(-(a - b)))
    lse = np.log(np.sum(np.exp(np.concatenate([a.ravel(), b]))))
    return np.mean(m) + lse * np.sqrt(b[0] ** 2 + 1)


def program_of(name):
    f, args = CASES[name]
    return la.Program(la.trace(f, *args))


def evaluate_node(graph, i, v):
    """p_i of the parents' entries of the flat vector v."""
    xs = [v[graph.offsets[j]:graph.offsets[j + 1]].reshape(graph.shape(j))
          for j in graph.parents(i).tolist()]
    return np.asarray(graph.primitive(i).evaluate(*xs, **graph.params(i)), np.float64)


def is_source(graph, i):
    return graph.op_names[graph.op[i]] in ("input", "const")


# ----------------------------------------------------------------- values


@pytest.mark.parametrize("name", CASES)
def test_values_equal_direct_evaluation(name):
    f, args = CASES[name]
    program = program_of(name)
    assert float(program.output_value) == pytest.approx(numpy_value(name, *args), rel=1e-14)
    graph = program.graph
    for i in range(len(graph)):
        assert program.values[i].shape == graph.shape(i)
        if not is_source(graph, i):
            np.testing.assert_array_equal(program.values[i],
                                          evaluate_node(graph, i, program.values.flat))
    for i, x in enumerate(args):
        np.testing.assert_array_equal(program.values[i], x)


def test_lecture_values_in_closed_form():
    program = program_of("lecture")
    np.testing.assert_allclose(program.values.flat,
                               [2, -1, 0, 4, 1, -1, 3, np.sin(3), np.sin(3)], rtol=1e-15)
    assert program.value(7) == np.sin(3.0)
    np.testing.assert_array_equal([o.item() for o in program.operands(5)], [-1.0, 1.0])


def test_values_are_read_only():
    program = program_of("network")
    with pytest.raises(ValueError, match="read-only"):
        program.values.flat[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        program.values[0][0, 0] = 1.0


@pytest.mark.parametrize("name", CASES)
def test_a_new_point_is_evaluated_on_the_same_graph(name):
    f, args = CASES[name]
    graph = la.trace(f, *args)
    new = tuple(np.asarray(x) * 0.7 + 0.1 for x in args)
    program = la.Program(graph, *new)
    assert program.graph is graph
    assert float(program.output_value) == pytest.approx(numpy_value(name, *new), rel=1e-14)
    np.testing.assert_allclose(program.values.flat, la.Program(la.trace(f, *new)).values.flat,
                               rtol=1e-15, atol=0)
    for p, x in zip(program.point, new):
        np.testing.assert_array_equal(p, x)
    for p, x in zip(graph.point, args):
        np.testing.assert_array_equal(p, x)
    np.testing.assert_array_equal(la.Program(graph).values.flat,
                                  la.Program(graph, *args).values.flat)


def test_a_builder_graph_needs_a_point():
    b = la.GraphBuilder()
    b.add("exp", b.input(name="x"))
    graph = b.build()
    with pytest.raises(GraphError, match=r"records no point: pass one value per input"):
        la.Program(graph)
    assert float(la.Program(graph, 1.0).output_value) == pytest.approx(np.e, rel=1e-15)


@pytest.mark.parametrize("point, error, pattern", [
    ((1.0,), GraphError, r"the graph has 2 input\(s\) but 1 value\(s\) were given"),
    ((1.0, 2.0, 3.0), GraphError, r"2 input\(s\) but 3 value\(s\)"),
    ((1.0, np.ones(3)), ShapeError, r"input v1 \(y\) has shape \(\) but the value given has "
                                    r"shape \(3,\)"),
    ((1.0, "a"), GraphError, r"input v1 \(y\): 'a' is not a number"),
    ((np.nan, 1.0), NonFiniteError, r"input v0 \(x\) contains NaN or infinity"),
    ((1.0, -np.inf), NonFiniteError, r"input v1 \(y\) contains NaN or infinity"),
])
def test_bad_points_are_refused(point, error, pattern):
    graph = la.trace(lambda x, y: x * y, 1.0, 2.0)
    with pytest.raises(error, match=pattern):
        la.Program(graph, *point)


def test_program_needs_a_graph():
    with pytest.raises(GraphError, match="Program needs a Graph"):
        la.Program(lecture, 1.0, 2.0, 3.0)


# ----------------------------------------------------------------- constraints and Lagrangian


@pytest.mark.parametrize("name", CASES)
def test_constraint_residuals_vanish_at_the_values(name):
    program = program_of(name)
    c = program.constraint_residuals()
    assert isinstance(c, la.NodeVector)
    np.testing.assert_array_equal(c.flat, 0.0)


def test_constraint_residuals_of_the_lecture_at_a_perturbed_point_in_closed_form():
    program = program_of("lecture")
    v = program.values.flat + RNG.uniform(-0.1, 0.1, 9)
    v0, v1, v2, v3, v4, v5, v6, v7, v8 = v
    expected = [v0 - 2, v1 + 1, v2 - 0, v3 - v0**2, v4 - np.exp(v2), v5 - v1 * v4,
                v6 - (v3 + v5), v7 - np.sin(v6), v8 - (v2 + v7)]
    np.testing.assert_allclose(program.constraint_residuals(v).flat, expected, rtol=1e-14,
                               atol=1e-15)


@pytest.mark.parametrize("name", CASES)
def test_constraint_residuals_are_v_minus_p_of_v(name):
    program = program_of(name)
    graph = program.graph
    v = program.values.flat + 1e-2 * RNG.standard_normal(graph.total_size)
    c = program.constraint_residuals(v)
    for i in range(len(graph)):
        block = v[graph.offsets[i]:graph.offsets[i + 1]].reshape(graph.shape(i))
        if i < graph.n_inputs:
            expected = block - program.point[i]
        elif is_source(graph, i):
            expected = block - graph.params(i)["value"]
        else:
            expected = block - evaluate_node(graph, i, v)
        np.testing.assert_allclose(c[i], expected, rtol=1e-13, atol=1e-15)
    # a mapping of node blocks is accepted as well as a flat vector
    blocks = {i: v[graph.offsets[i]:graph.offsets[i + 1]] for i in range(len(graph))}
    np.testing.assert_array_equal(program.constraint_residuals(blocks).flat, c.flat)


@pytest.mark.parametrize("name", CASES)
def test_lagrangian_equals_the_objective_at_the_values(name):
    program = program_of(name)
    for _ in range(3):
        lam = RNG.standard_normal(program.graph.total_size)
        assert program.lagrangian(lam) == float(program.output_value)


@pytest.mark.parametrize("name", CASES)
def test_lagrangian_gradient_matches_finite_differences(name):
    program = program_of(name)
    n = program.graph.total_size
    v = program.values.flat
    h = 1e-6
    for _ in range(3):
        lam, d = RNG.standard_normal(n), RNG.standard_normal(n)
        fd = (program.lagrangian(lam, v + h * d) - program.lagrangian(lam, v - h * d)) / (2 * h)
        exact = float(program.lagrangian_gradient(lam).flat @ d)
        assert exact == pytest.approx(fd, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize("name", CASES)
def test_lagrangian_gradient_is_e_n_minus_a_transpose_lam(name):
    program = program_of(name)
    lam = RNG.standard_normal(program.graph.total_size)
    A = program.kkt_matrix().toarray()
    np.testing.assert_allclose(program.lagrangian_gradient(lam).flat, program.rhs() - A.T @ lam,
                               rtol=1e-12, atol=1e-12)
    assert program.kkt_residual(lam) == pytest.approx(
        np.linalg.norm(program.rhs() - A.T @ lam), rel=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_kkt_residual_vanishes_exactly_at_the_adjoints(name):
    program = program_of(name)
    solution = la.solve(program)
    lam = solution.multipliers.flat
    assert program.kkt_residual(solution) <= 1e-12 * max(1.0, np.linalg.norm(lam))
    assert program.kkt_residual(solution.multipliers) == program.kkt_residual(lam)
    for k in (0, program.graph.output, program.graph.total_size // 2):
        wrong = lam.copy()
        wrong[k] += 0.1
        assert program.kkt_residual(wrong) > 1e-3
    assert program.kkt_residual(np.zeros_like(lam)) == pytest.approx(1.0, rel=1e-15)


def test_kkt_residual_checks_the_length_of_lam():
    program = program_of("lecture")
    with pytest.raises(GraphError, match=r"expected a flat vector of 9 entries"):
        program.kkt_residual(np.ones(3))


# ----------------------------------------------------------------- J and A = I - J


def finite_difference_jacobian(program, h=1e-6):
    """d p_i / d v_j by central differences, entry by entry (small graphs only)."""
    graph = program.graph
    n = graph.total_size
    v = program.values.flat
    J = np.zeros((n, n))
    for i in range(len(graph)):
        if is_source(graph, i):
            continue
        rows = slice(graph.offsets[i], graph.offsets[i + 1])
        for j in set(graph.parents(i).tolist()):
            for col in range(graph.offsets[j], graph.offsets[j + 1]):
                plus, minus = v.copy(), v.copy()
                plus[col] += h
                minus[col] -= h
                J[rows, col] = np.ravel(evaluate_node(graph, i, plus)
                                        - evaluate_node(graph, i, minus)) / (2 * h)
    return J


@pytest.mark.parametrize("name", CASES)
def test_local_jacobian_matches_finite_differences(name):
    program = program_of(name)
    J = program.local_jacobian()
    assert sp.issparse(J) and J.shape == (program.graph.total_size,) * 2
    np.testing.assert_allclose(J.toarray(), finite_difference_jacobian(program), rtol=1e-6,
                               atol=1e-8)


def test_local_jacobian_of_the_lecture_in_closed_form():
    program = program_of("lecture")
    expected = np.zeros((9, 9))
    c = np.cos(3.0)
    for (i, j), value in {(3, 0): 4.0, (4, 2): 1.0, (5, 1): 1.0, (5, 4): -1.0, (6, 3): 1.0,
                          (6, 5): 1.0, (7, 6): c, (8, 2): 1.0, (8, 7): 1.0}.items():
        expected[i, j] = value
    np.testing.assert_allclose(program.local_jacobian().toarray(), expected, rtol=1e-15)
    np.testing.assert_array_equal(program.multiply_adds, [0, 0, 0, 1, 1, 2, 2, 1, 2])
    np.testing.assert_array_equal(program.is_source, [True] * 3 + [False] * 6)


def test_a_repeated_parent_adds_its_partials():
    program = la.Program(la.trace(lambda x: x * x, 3.0))
    assert program.local_jacobian().toarray()[1, 0] == 6.0


@pytest.mark.parametrize("name", CASES)
def test_kkt_matrix_is_identity_minus_j(name):
    program = program_of(name)
    A = program.kkt_matrix()
    assert sp.issparse(A)
    n = program.graph.total_size
    np.testing.assert_array_equal(A.toarray(), np.eye(n) - program.local_jacobian().toarray())
    # on a DAG, A is unit lower triangular in a topological order
    order = np.concatenate([np.arange(program.graph.offsets[i], program.graph.offsets[i + 1])
                            for i in program.graph.topological_order()])
    permuted = A.toarray()[np.ix_(order, order)]
    np.testing.assert_array_equal(np.triu(permuted, 1), 0.0)
    np.testing.assert_array_equal(np.diag(permuted), 1.0)


@pytest.mark.parametrize("name", CASES)
def test_kkt_operator_agrees_with_the_matrix_and_is_its_own_adjoint(name):
    program = program_of(name)
    n = program.graph.total_size
    A = program.kkt_matrix().toarray()
    op = program.kkt_operator()
    assert isinstance(op, LinearOperator) and op.shape == (n, n) and op.dtype == np.float64
    for _ in range(3):
        x, y = RNG.standard_normal(n), RNG.standard_normal(n)
        Ax, ATy = op.matvec(x), op.rmatvec(y)
        np.testing.assert_allclose(Ax, A @ x, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ATy, A.T @ y, rtol=1e-12, atol=1e-12)
        assert float(Ax @ y) == pytest.approx(float(x @ ATy), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(op @ x, Ax, rtol=1e-15)
        np.testing.assert_allclose(op.T @ y, ATy, rtol=1e-15)
    np.testing.assert_allclose(program.apply_jacobian(x), program.local_jacobian() @ x,
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(program.apply_jacobian_transpose(y),
                               program.local_jacobian().T @ y, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_the_adjoints_solve_the_kkt_system(name):
    program = program_of(name)
    lam = la.solve(program).multipliers.flat
    A = program.kkt_matrix().toarray()
    np.testing.assert_allclose(A.T @ lam, program.rhs(), atol=1e-12)
    np.testing.assert_allclose(lam, np.linalg.solve(A.T, program.rhs()), rtol=1e-10,
                               atol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_node_vjp_and_jvp_are_transposes(name):
    program = program_of(name)
    graph = program.graph
    for i in range(len(graph)):
        if is_source(graph, i):
            continue
        parents = graph.parents(i).tolist()
        ts = [RNG.standard_normal(graph.shape(j)) for j in parents]
        g = RNG.standard_normal(graph.shape(i))
        lhs = float(np.sum(g * program.node_jvp(i, ts)))
        rhs = sum(float(np.sum(ct * t)) for ct, t in zip(program.node_vjp(i, g), ts))
        assert lhs == pytest.approx(rhs, rel=1e-12, abs=1e-12)


def test_local_jacobian_refuses_to_grow_past_max_entries():
    program = program_of("network")
    with pytest.raises(LagrangeADError, match=r"more than max_entries=1; use the matrix-free"):
        program.local_jacobian(max_entries=1)


# ----------------------------------------------------------------- the right-hand side


def test_rhs_is_the_unit_vector_of_the_output():
    program = program_of("network")
    e = program.rhs()
    assert e.shape == (program.graph.total_size,)
    assert e[program.graph.offsets[program.graph.output]] == 1.0 and e.sum() == 1.0


def test_a_one_entry_array_output_has_a_rhs():
    program = la.Program(la.trace(lambda x: la.sum(x, axis=0, keepdims=True), np.ones(3)))
    assert program.graph.shape(program.graph.output) == (1,)
    assert program.rhs()[-1] == 1.0
    np.testing.assert_array_equal(la.solve(program).gradient[0], np.ones(3))


@pytest.mark.parametrize("call", [
    lambda p: p.rhs(),
    lambda p: p.kkt_residual(np.zeros(p.graph.total_size)),
    lambda p: p.lagrangian_gradient(np.zeros(p.graph.total_size)),
    lambda p: la.solve(p),
])
def test_a_vector_output_has_no_gradient(call):
    program = la.Program(la.trace(lambda x: la.sin(x), np.ones(3)))
    with pytest.raises(NonScalarOutputError, match=r"the output v1 has shape \(3,\); a gradient"):
        call(program)


def test_a_point_outside_the_domain_is_named_by_the_program():
    graph = la.trace(lambda x: la.log(x) + x, 1.0)
    with pytest.raises(DomainError, match=r"node v1 = log\(v0\): log needs positive arguments; "
                                          r"got -2.0"):
        la.Program(graph, -2.0)


# ----------------------------------------------------------------- broadcasting


def directional_derivative(f, args, directions, h=1e-6):
    plus = la.Program(la.trace(f, *[a + h * d for a, d in zip(args, directions)]))
    minus = la.Program(la.trace(f, *[a - h * d for a, d in zip(args, directions)]))
    return (float(plus.output_value) - float(minus.output_value)) / (2 * h)


def check_gradient_shapes_and_direction(f, a, b):
    """The gradient of f(a, b) is shaped like a and b and matches a central difference."""
    ga, gb = la.grad(f)(a, b)
    assert ga.shape == np.shape(a) and gb.shape == np.shape(b)
    da, db = RNG.standard_normal(np.shape(a)), RNG.standard_normal(np.shape(b))
    exact = float(np.sum(ga * da) + np.sum(gb * db))
    assert exact == pytest.approx(directional_derivative(f, (a, b), (da, db)), rel=1e-6,
                                  abs=1e-8)


@pytest.mark.parametrize("op", ["add", "subtract", "multiply", "divide", "maximum", "minimum"])
@pytest.mark.parametrize("shapes", [((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3)),
                                    ((4, 1, 3), (2, 1)), ((3,), ())], ids=str)
def test_broadcasting_in_every_binary_op(op, shapes):
    a = RNG.uniform(-1, 1, shapes[0])
    b = RNG.uniform(1, 2, shapes[1])

    def f(x, y):
        return la.sum(la.sin(getattr(la, op)(x, y)) * 1.5)

    graph = la.trace(f, a, b)
    assert graph.shape(2) == np.broadcast_shapes(*shapes)
    check_gradient_shapes_and_direction(f, a, b)


@pytest.mark.parametrize("shapes", [((4, 2, 3), (3, 5)), ((3,), (2, 3, 4)), ((1, 2, 3), (4, 3, 2)),
                                    ((3,), (3,)), ((2, 3), (3,))], ids=str)
def test_broadcasting_in_matmul(shapes):
    a, b = RNG.standard_normal(shapes[0]), RNG.standard_normal(shapes[1])

    def f(x, y):
        return la.sum(la.tanh(x @ y))

    check_gradient_shapes_and_direction(f, a, b)


# ----------------------------------------------------------------- node vectors


def test_a_node_vector_of_blocks_reads_like_a_flat_one():
    graph = la.trace(lambda x, y: la.sum(x * y[0]), np.ones((2, 2)), np.arange(3.0))
    program = la.Program(graph)
    flat = la.NodeVector(graph, program.values.flat)
    blocks = la.NodeVector.from_blocks(graph, [program.values[i] for i in range(len(graph))])
    np.testing.assert_array_equal(blocks.flat, flat.flat)
    for i in range(len(graph)):
        np.testing.assert_array_equal(blocks[i], flat[i])
        assert blocks[i].shape == graph.shape(i) and not blocks[i].flags.writeable
    assert blocks.complete and blocks.first_nonfinite() is None


def test_a_node_vector_names_its_missing_and_non_finite_blocks():
    graph = la.trace(lambda x: la.sin(x) * 2.0, np.ones(2))
    holes = la.NodeVector.from_blocks(graph, [np.ones(2), None, np.inf, np.ones(2)],
                                      missing="skipped on purpose")
    assert not holes.complete and holes.first_nonfinite() == 2
    with pytest.raises(la.LagrangeADError, match="v1 was not computed: skipped on purpose"):
        holes[1]
    with pytest.raises(la.LagrangeADError, match=r"v1 \(and possibly more\) was not computed"):
        _ = holes.flat
    with pytest.raises(la.GraphError, match="has 4 blocks; got 3"):
        la.NodeVector.from_blocks(graph, [None] * 3)
    with pytest.raises(la.GraphError, match=r"block 0 has 3 entries, but node v0 has shape"):
        la.NodeVector.from_blocks(graph, [np.ones(3), None, None, None])


def test_all_finite_survives_a_sum_that_overflows():
    assert all_finite(np.array([1e308, 1e308, -1.0]))
    assert not all_finite(np.array([1e308, np.nan]))
    assert not all_finite(np.array([1.0, -np.inf]))
    assert all_finite(np.zeros(0)) and all_finite(2.5)


@pytest.mark.parametrize("layout", ["contiguous", "transposed", "float32"])
def test_all_finite_on_large_arrays(layout):
    # above 4096 entries the test is one sum (x . x for contiguous float64): it must see every
    # NaN and infinity, and fall back to the entries when only the sum overflows
    def arranged(x):
        return x.T if layout == "transposed" else x.astype(np.float32) \
            if layout == "float32" else x

    base = np.random.default_rng(0).standard_normal((100, 90))
    assert all_finite(arranged(base))
    assert all_finite(arranged(np.full((100, 90), 1e300 if layout != "float32" else 1e38)))
    for bad in (np.nan, np.inf, -np.inf):
        x = base.copy()
        x[57, 31] = bad
        assert not all_finite(arranged(x))


def test_a_node_using_one_parent_twice_has_one_entry_in_j():
    graph = la.trace(lambda x, y: la.sin(x * x) + y * x + y * y, 0.7, -1.2)
    program = la.Program(graph)
    jac = program.local_jacobian()
    dense = jac.toarray()
    for i in range(len(graph)):
        columns = jac.indices[jac.indptr[i]:jac.indptr[i + 1]]
        assert len(set(columns.tolist())) == len(columns)
    square = next(i for i in range(len(graph)) if graph.describe(i) == "v2 = v0 * v0")
    assert dense[square, 0] == pytest.approx(2 * 0.7, rel=1e-15)
    unmerged = la.Program(la.trace(lambda x, y: la.sin(x * y), 0.7, -1.2)).local_jacobian()
    assert unmerged.nnz == 3  # no repeated parent: the graph's own index arrays
    np.testing.assert_allclose(la.solve(program).gradient, [2 * 0.7 * np.cos(0.49) - 1.2,
                                                            0.7 - 2.4], rtol=1e-14)
