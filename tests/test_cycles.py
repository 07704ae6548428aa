"""Cyclic graphs: fixed points forward, implicit multipliers backward, and their diagnostics."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zoo import coupled_layers, dense_multipliers, random_cyclic_graph, singular_cycle

import lagrange_ad as la
from lagrange_ad.accel.costs import jacobian_is_sparse
from lagrange_ad.primitives import PRIMITIVES, Block
from lagrange_ad.primitives.registry import as_entries
from lagrange_ad.program.assembly import assemble_jacobian

CLOSED_FORMS = ["fixed_cos", "jacobi_solve", "pagerank"]
INNER = ["fixed-point", "direct", "gmres"]


def relative_error(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    return float(np.max(np.abs(got - expected)) / max(1.0, np.max(np.abs(expected))))


@pytest.mark.parametrize("name", CLOSED_FORMS)
@pytest.mark.parametrize("inner", INNER)
def test_closed_forms(name, inner):
    example = la.examples.get(name)
    program = example.program()
    assert float(program.output_value) == pytest.approx(example.value, rel=1e-9)
    solution = la.solve(program, "reverse", inner=inner)
    for got, expected in zip(solution.gradient, example.gradient):
        assert relative_error(got, expected) < 1e-9
    assert solution.stats.extra["cycles"][0]["spectral_radius"] < 1


@pytest.mark.parametrize("name", ["jacobi_solve", "pagerank", "equilibrium"])
@pytest.mark.parametrize("inner", INNER)
def test_cycles_of_arrays_are_solved_by_vjp_rules_like_the_whole_system(name, inner):
    # these graphs sweep by VJP rules (no J assembled outside inner="direct"); a sparse
    # direct solve of the whole KKT system is the reference
    program = la.examples.get(name).program()
    assert not jacobian_is_sparse(program.graph)
    solution = la.solve(program, "reverse", inner=inner, tol=1e-14)
    reference = la.solve(program, "spsolve")
    scale = np.max(np.abs(reference.multipliers.flat))
    assert np.max(np.abs(solution.multipliers.flat - reference.multipliers.flat)) \
        <= 1e-10 * scale
    assert solution.kkt_residual <= 1e-10 * scale
    short = la.solve(program, "reverse", inner=inner, tol=1e-14, gradient_only=True,
                     check=False)
    for got, want in zip(short.gradient, reference.gradient):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12 * scale)
    constant = next(i for i in range(len(program.graph))
                    if not program.depends_on_input[i])
    with pytest.raises(la.LagrangeADError, match=rf"v{constant} was not computed"):
        short.multipliers[constant]


@pytest.mark.parametrize("method", ["picard", "anderson", "newton"])
def test_forward_fixed_point_methods_agree(method):
    example = la.examples.fixed_cos()
    program = la.Program(example.graph, fixed_point={"method": method})
    h = float(program.output_value)
    assert h == pytest.approx(0.8 * np.cos(h), abs=1e-12)
    report = program.fixed_points[0]
    assert report.method == method and report.iterations >= 1
    assert report.residuals[-1] <= 1e-12


def test_anderson_needs_fewer_iterations_than_picard():
    graph = la.examples.pagerank().graph
    picard = la.Program(graph).fixed_points[0]
    anderson = la.Program(graph, fixed_point={"method": "anderson"}).fixed_points[0]
    assert anderson.iterations < picard.iterations


def test_equilibrium_layer_against_finite_differences_of_a_long_forward_iteration():
    example = la.examples.equilibrium()
    c = example.data["c"]
    program = example.program()
    gradient = la.solve(program, "reverse", inner="gmres").gradient

    def long_run(x, W, U, b):
        h = np.zeros(W.shape[0])
        for _ in range(400):
            h = np.tanh(W @ h + U @ x + b)
        return float(c @ h)

    rng = np.random.default_rng(0)
    for k, shape in enumerate(np.shape(p) for p in example.point):
        direction = rng.standard_normal(shape)
        step = 1e-6
        plus = list(example.point)
        minus = list(example.point)
        plus[k] = plus[k] + step * direction
        minus[k] = minus[k] - step * direction
        fd = (long_run(*plus) - long_run(*minus)) / (2 * step)
        assert float(np.sum(gradient[k] * direction)) == pytest.approx(fd, rel=1e-6, abs=1e-8)


def test_implicit_gradient_through_traced_fixed_point():
    g = la.grad(lambda a: la.fixed_point(lambda h, a: a * la.cos(h), 0.5, a) ** 2)(0.8)[0]
    h = float(la.fixed_point(lambda h, a: a * la.cos(h), 0.5, 0.8))
    assert float(g) == pytest.approx(2 * h * np.cos(h) / (1 + 0.8 * np.sin(h)), rel=1e-10)


def test_fixed_point_whose_function_records_more_after_its_result():
    # fn returns h_new but records a residual after it: the cycle closes on h_new
    def fn(h, a):
        new = a * la.cos(h)
        la.abs(new - h)
        return new

    g = la.grad(lambda a: la.fixed_point(fn, 0.5, a))(0.8)[0]
    h = float(la.fixed_point(fn, 0.5, 0.8))
    assert h == pytest.approx(0.8 * np.cos(h), abs=1e-14)
    assert float(g) == pytest.approx(np.cos(h) / (1 + 0.8 * np.sin(h)), rel=1e-10)


def test_fixed_point_with_captured_numpy_constants():
    M = np.array([[0.2, 0.1], [0.0, 0.3]])

    def f(x):
        h = la.fixed_point(lambda h, x: M @ h + x, np.zeros(2), x)
        return la.sum(h)

    x = np.array([1.0, 2.0])
    g = la.grad(f)(x)[0]
    np.testing.assert_allclose(g, np.linalg.solve((np.eye(2) - M).T, np.ones(2)), rtol=1e-10)


def test_no_fixed_point_raises_promptly():
    b = la.GraphBuilder()
    b.input()
    h = b.declare()
    b.define(h, "add", h, b.const(1.0))
    with pytest.raises(la.ConvergenceError) as info:
        la.Program(b.build(output=h), 0.0)
    assert info.value.residuals and info.value.iterations > 0
    assert "spectral radius" in str(info.value)


def test_non_contractive_map_states_the_spectral_radius():
    def f(a):
        return la.fixed_point(lambda h, a: 2.0 * h + a, 0.1, a)

    with pytest.raises(la.ConvergenceError,
                       match=r"spectral radius of its Jacobian at the last iterate is 1.414"):
        la.trace(f, 1.0)


def test_newton_finds_a_repelling_fixed_point_and_the_adjoint_iteration_reports_it():
    # h = 2 h + a has the fixed point h = -a, which Picard cannot reach but Newton can
    def f(a):
        return la.fixed_point(lambda h, a: 2.0 * h + a, 0.1, a, method="newton")

    graph = la.trace(f, 1.0)
    program = la.Program(graph, fixed_point={"method": "newton"})
    assert float(program.output_value) == pytest.approx(-1.0, abs=1e-12)
    assert la.solve(program, "reverse", inner="direct").gradient[0] == pytest.approx(-1.0)
    with pytest.raises(la.ConvergenceError, match="spectral radius of J there is 1.414"):
        la.solve(program, "reverse", inner="fixed-point")


def test_singular_kkt_block_is_reported():
    program = la.Program(singular_cycle(), 1.0)
    with pytest.raises(la.SingularKKTError, match="singular"):
        la.solve(program, "reverse", inner="direct")
    with pytest.raises(la.ConvergenceError):
        la.solve(program, "reverse", inner="fixed-point", maxiter=200)


@pytest.mark.parametrize("steps", [5, 10, 20, 40])
def test_unrolled_gradient_approaches_the_implicit_gradient(steps):
    example = la.examples.fixed_cos()
    program = example.program()
    implicit = la.solve(program, "reverse").gradient[0]
    errors = [abs(float(la.solve(program, "unrolled", steps=k).gradient[0] - implicit))
              for k in (steps, 2 * steps)]
    assert errors[1] < errors[0]
    assert errors[1] < 0.8 ** (2 * steps) * 10


def test_unrolled_graph_is_a_dag_of_the_expected_size():
    graph = la.examples.fixed_cos().graph
    unrolled = la.unroll(graph, 7)
    assert unrolled.graph.is_acyclic
    cyclic_nodes = [i for i, copies in enumerate(unrolled.copies) if len(copies) == 7]
    assert len(cyclic_nodes) == 2


def test_paths_refuses_cycles():
    program = la.examples.fixed_cos().program()
    with pytest.raises(la.MethodNotApplicableError, match="cycle"):
        la.solve(program, "paths")


WHOLE_SYSTEM = [("jacobi", {"tol": 1e-13, "maxiter": 5000}),
                ("gauss-seidel", {"order": "random", "seed": 1, "tol": 1e-13, "maxiter": 5000}),
                ("spsolve", {}), ("gmres", {"rtol": 1e-13}), ("dual-descent", {"tol": 1e-12})]


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), n_cycles=st.integers(1, 3), n_nodes=st.integers(3, 12))
def test_every_adjoint_method_agrees_on_random_contractive_cyclic_graphs(seed, n_cycles, n_nodes):
    program = la.Program(random_cyclic_graph(seed, n_cycles, n_nodes))
    # the reference: a dense solve over a J by central differences of each node
    reference = dense_multipliers(program)
    scale = max(1.0, np.max(np.abs(reference)))
    # a draw whose declared nodes depend on no cycle is a DAG, where inner does not apply
    cyclic = not program.graph.is_acyclic
    by_inner = [la.solve(program, "reverse", **({"inner": inner} if cyclic else {}))
                for inner in INNER]
    for solution in by_inner:
        assert np.max(np.abs(solution.multipliers.flat - reference)) / scale < 1e-8
        # and the inner solves agree with each other to their own tolerance
        difference = solution.multipliers.flat - by_inner[0].multipliers.flat
        assert np.max(np.abs(difference)) / scale < 1e-11
    for method, options in WHOLE_SYSTEM:
        lam = la.solve(program, method, **options).multipliers.flat
        assert np.max(np.abs(lam - reference)) / scale < 1e-8, method


# ------------------------------------------------------------ the direct solve of a block


def equilibrium_reference(example):
    """The equilibrium layer's gradient by the implicit function theorem, in numpy alone.

    At h* = tanh(W h* + U x + b), with D = diag(1 - h*^2) and the objective c . h*,
    (I - W^T D) mu = c gives d/dz = D mu for z = W h + U x + b, so
    grad_x = U^T D mu, grad_W = (D mu) h*^T, grad_U = (D mu) x^T, grad_b = D mu.
    """
    x, W, U, b = example.point
    c = example.data["c"]
    h = np.zeros(W.shape[0])
    for _ in range(2000):
        h = np.tanh(W @ h + U @ x + b)
    d = 1 - h * h
    mu = np.linalg.solve(np.eye(len(h)) - W.T * d, c)
    z_bar = d * mu
    return U.T @ z_bar, np.outer(z_bar, h), np.outer(z_bar, x), z_bar


@pytest.mark.parametrize("n", [8, 200])
def test_direct_solve_reduces_a_dense_layer_to_its_feedback_nodes(n):
    # the 4n x 4n block of the cycle (tanh, W h, + U x, + b) becomes I - W^T D, n x n
    example = la.examples.equilibrium(n=n)
    solution = la.solve(example.program(), "reverse", inner="direct")
    (block,) = solution.stats.extra["cycles"]
    assert block["size"] == 4 * n and block["feedback_size"] == n
    assert block["residuals"][-1] <= 1e-12
    for got, expected in zip(solution.gradient, equilibrium_reference(example)):
        assert relative_error(got, expected) <= 1e-11


@pytest.mark.parametrize("inner", INNER)
def test_a_block_with_two_feedback_nodes(inner):
    # tanh and the halving product close the two loops; the reduced system couples them
    program = la.Program(coupled_layers())
    reference = dense_multipliers(program)
    solution = la.solve(program, "reverse", inner=inner)
    assert relative_error(solution.multipliers.flat, reference) < 1e-9
    if inner == "direct":
        assert solution.stats.extra["cycles"][0]["feedback_size"] == 6


def test_direct_solve_of_a_sparse_block_by_sparse_lu():
    # h = 0.5 tanh(h) + x entrywise: every block of J_CC is diagonal, 1% full, so the
    # reduced system stays sparse; dh/dx = 1 / (1 - 0.5 (1 - tanh(h)^2))
    x = np.linspace(-1, 1, 100)
    graph = la.trace(lambda x: la.sum(la.fixed_point(lambda h, x: 0.5 * la.tanh(h) + x,
                                                     np.zeros(100), x)), x)
    program = la.Program(graph)
    h = program.values[graph.parents(graph.output)[0]]
    (gradient,) = la.solve(program, "reverse", inner="direct").gradient
    np.testing.assert_allclose(gradient, 1 / (1 - 0.5 * (1 - np.tanh(h) ** 2)), rtol=1e-13)


@pytest.mark.parametrize("n", [3, 40])
def test_singular_dense_block_is_reported_not_nan(n):
    # h = P h + 0 x with P a projection: the iteration stops at P h0, and I - P is singular
    P = np.diag(np.r_[1.0, np.zeros(n - 1)])
    graph = la.trace(lambda x: la.sum(la.fixed_point(lambda h, x: P @ h + 0.0 * x,
                                                     np.ones(n), x)), np.ones(n))
    with pytest.raises(la.SingularKKTError, match="singular on the cycle"):
        la.solve(la.Program(graph), "reverse", inner="direct")


# ------------------------------------------------- explicit blocks of some operands alone


def block_matrix(block, shape):
    """A block of `Primitive.explicit_jacobian` (entries or a dense matrix) as a dense matrix."""
    entries = as_entries(block)
    matrix = np.zeros(shape)
    np.add.at(matrix, (entries.rows, entries.cols), entries.vals)
    return matrix


RNG = np.random.default_rng(20261204)
# operand shapes of every row with a per-operand rule: vectors, matrix times vector (a dense
# block), vector times matrix (a dense block), matrix times matrix (entries), stacks
OPERAND_SHAPES = {
    "matmul": [((3,), (3,)), ((4, 3), (3,)), ((3,), (3, 5)), ((2, 3), (3, 4)),
               ((2, 2, 3), (3, 2)), ((1, 3), (3, 1))],
    "dot": [((3,), (3,)), ((4, 3), (3,)), ((3,), (3, 5)), ((2, 3), (3, 4))],
    "conv": [((2, 2, 5), (3, 2, 2)), ((1, 2, 3, 4), (2, 2, 2, 3))],  # default parameters
}


def selective_cases():
    rows = sorted(name for name, p in PRIMITIVES.items() if p.jacobian_operand is not None)
    # a new row with the rule fails here until it has shapes above
    assert rows == sorted(OPERAND_SHAPES)
    for name in rows:
        for shapes in OPERAND_SHAPES[name]:
            yield name, shapes


@pytest.mark.parametrize("name, shapes", list(selective_cases()))
def test_operand_selective_jacobian_equals_the_columns_of_the_whole(name, shapes):
    primitive = PRIMITIVES[name]
    xs = [RNG.standard_normal(shape) for shape in shapes]
    ans = np.asarray(primitive.evaluate(*xs))
    whole = primitive.jacobian(ans, *xs)
    for k, x in enumerate(xs):
        wanted = [j == k for j in range(len(xs))]
        got = primitive.explicit_jacobian(ans, xs, {}, wanted)
        assert all(block is None for j, block in enumerate(got) if j != k)
        shape = (ans.size, x.size)
        expected = block_matrix(whole[k], shape)
        np.testing.assert_array_equal(block_matrix(got[k], shape), expected)
        # and both against the product itself: column c is d ans / d x[c]
        for c in range(x.size):
            moved = [y.copy() for y in xs]
            moved[k].flat[c] += 1.0
            np.testing.assert_allclose(expected[:, c],
                                       np.ravel(primitive.evaluate(*moved)) - ans.ravel(),
                                       atol=1e-12)
        if not isinstance(got[k], Block):  # a dense block is read-only
            with pytest.raises(ValueError):
                got[k][0, 0] = 1.0


def test_explicit_jacobian_of_a_row_without_rules_of_its_own():
    # without jacobian_operand the whole rule runs and the unwanted blocks are dropped;
    # without a jacobian rule the blocks come from the VJP rule
    mul = PRIMITIVES["mul"]
    x, y = RNG.standard_normal(4), RNG.standard_normal(4)
    first, second = mul.explicit_jacobian(x * y, [x, y], {}, [False, True])
    assert first is None
    np.testing.assert_array_equal(block_matrix(second, (4, 4)), np.diag(x))
    no_rule = dataclasses.replace(PRIMITIVES["sin"], jacobian=None)
    (block,) = no_rule.explicit_jacobian(np.sin(x), [x], {})
    np.testing.assert_allclose(block_matrix(block, (4, 4)), np.diag(np.cos(x)), rtol=1e-15)


@pytest.mark.parametrize("name", ["equilibrium", "pagerank", "fixed_cos"])
def test_assembly_of_some_columns_equals_those_of_the_whole_j(name):
    program = la.examples.get(name).program()
    graph = program.graph
    whole = assemble_jacobian(program.values).toarray()
    component = next(c for c in graph.strongly_connected_components()
                     if c.size > 1 or c[0] in graph.parents(c[0]))
    part = assemble_jacobian(program.values, component, columns=component).toarray()
    rows = np.concatenate([np.arange(graph.offsets[i], graph.offsets[i + 1])
                           for i in component.tolist()])
    expected = np.zeros_like(whole)
    expected[np.ix_(rows, rows)] = whole[np.ix_(rows, rows)]
    np.testing.assert_array_equal(part, expected)
    assert np.count_nonzero(part) < np.count_nonzero(whole)


def test_the_radius_of_a_direct_solve_is_estimated_when_read():
    # the equilibrium layer's cycle has four nodes, so J_CC's radius is rho(W^T D) ** (1/4)
    example = la.examples.equilibrium(n=8)
    program = example.program()
    (block,) = la.solve(program, "reverse", inner="direct").stats.extra["cycles"]
    assert "estimated when read" in repr(block)
    assert list(block) == ["nodes", "size", "inner", "iterations", "residuals",
                           "feedback_size", "nonzeros", "spectral_radius"]
    x, W, U, b = example.point
    h = np.zeros(8)
    for _ in range(2000):
        h = np.tanh(W @ h + U @ x + b)
    exact = np.max(np.abs(np.linalg.eigvals(W.T * (1 - h * h)))) ** 0.25
    assert block["spectral_radius"] == pytest.approx(exact, rel=0.05)
    assert "estimated when read" not in repr(block)
    assert dict(block)["spectral_radius"] == block["spectral_radius"]
