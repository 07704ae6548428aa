"""la.hvp and la.hessian: H = T^T W T against closed forms, autograd and finite differences."""

import dataclasses

import autograd
import autograd.numpy as anp
import autograd.scipy.special as aspecial
import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from zoo import LagrangeOps, random_function, random_point

import lagrange_ad as la
from lagrange_ad.errors import (
    MethodNotApplicableError,
    NoCurvatureRuleError,
    ShapeError,
)
from lagrange_ad.hessian import REFUSALS, SECOND_ADJOINT_METHODS
from lagrange_ad.primitives import PRIMITIVES
from lagrange_ad.program.second_order import curvature_blocks, second_adjoints

RNG = np.random.default_rng(20261204)


lecture = la.examples.lecture_function


def lecture_hessian(x, y, z):
    u = x * x + y * np.exp(z)
    du = np.array([2 * x, np.exp(z), y * np.exp(z)])
    ddu = np.array([[2.0, 0, 0], [0, 0, np.exp(z)], [0, np.exp(z), y * np.exp(z)]])
    return -np.sin(u) * np.outer(du, du) + np.cos(u) * ddu


def test_lecture_hessian_is_its_closed_form():
    blocks = la.hessian(lecture)(2.0, -1.0, 0.0)
    ours = np.array([[float(b) for b in row] for row in blocks])
    exact = lecture_hessian(2.0, -1.0, 0.0)
    np.testing.assert_allclose(ours, exact, rtol=1e-12, atol=0)


def test_hvp_follows_jax_conventions_and_takes_a_graph():
    graph = la.trace(lecture, 2.0, -1.0, 0.0)
    point, direction = (1.0, 0.5, -0.3), (0.2, -1.0, 0.7)
    for f in (lecture, graph):
        out = la.hvp(f)(point, direction)
        assert isinstance(out, tuple) and len(out) == 3
        np.testing.assert_allclose([float(v) for v in out],
                                   lecture_hessian(*point) @ np.array(direction), rtol=1e-12)


class AutogradOps:
    """The names random_function uses, in autograd.numpy."""

    sin, cos, tanh, exp = anp.sin, anp.cos, anp.tanh, anp.exp
    sum, mean, transpose, concatenate = anp.sum, anp.mean, anp.transpose, anp.concatenate

    @staticmethod
    def sigmoid(u):
        return 1.0 / (1.0 + anp.exp(-u))

    @staticmethod
    def logsumexp(u, axis=None):
        return aspecial.logsumexp(u, axis=axis)

    @staticmethod
    def softmax(u, axis=-1):
        return anp.exp(u - aspecial.logsumexp(u, axis=axis, keepdims=True))

    @staticmethod
    def log_softmax(u, axis=-1):
        return u - aspecial.logsumexp(u, axis=axis, keepdims=True)


def autograd_hessian_blocks(recipe, point):
    flat = np.concatenate([np.ravel(x) for x in point])
    sizes = np.cumsum([0] + [np.size(x) for x in point])
    shapes = [np.shape(x) for x in point]

    def g(v):
        return recipe(AutogradOps, *[anp.reshape(v[a:b], s)
                                     for a, b, s in zip(sizes, sizes[1:], shapes)])
    return autograd.hessian(g)(flat), sizes


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("array", [False, True])
def test_hessian_matches_autograd_on_random_functions(seed, array):
    recipe, point = random_function(seed, 10, array), random_point(seed, array)
    theirs, sizes = autograd_hessian_blocks(recipe, point)
    ours = la.hessian(lambda x, y, z: recipe(LagrangeOps, x, y, z))(*point)
    for a in range(3):
        for b in range(3):
            block = theirs[sizes[a]:sizes[a + 1], sizes[b]:sizes[b + 1]]
            np.testing.assert_allclose(np.reshape(ours[a][b], block.shape), block,
                                       rtol=1e-9, atol=1e-11)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1), st.booleans(), st.integers(3, 14))
def test_hessian_matches_autograd_on_generated_graphs(seed, array, n_nodes):
    recipe, point = random_function(seed, n_nodes, array), random_point(seed, array)
    theirs, sizes = autograd_hessian_blocks(recipe, point)
    ours = la.hessian(lambda x, y, z: recipe(LagrangeOps, x, y, z))(*point)
    np.testing.assert_allclose(flat_hessian(ours, point), theirs, rtol=1e-9, atol=1e-11)


def flat_hessian(blocks, point):
    if len(point) == 1:
        n = np.size(point[0])
        return np.reshape(blocks, (n, n))
    return np.block([[np.reshape(b, (np.size(x), np.size(y))) for b, y in zip(row, point)]
                     for row, x in zip(blocks, point)])


DAG_EXAMPLES = [name for name in la.examples.EXAMPLES
                if la.examples.get(name).graph.is_acyclic]


@pytest.mark.parametrize("name", DAG_EXAMPLES)
def test_zoo_hessians_are_symmetric_and_match_differences_of_the_gradient(name):
    example = la.examples.get(name)
    graph, point = example.graph, example.point
    # the whole Hessian where it is small; products in random directions everywhere
    h = flat_hessian(la.hessian(graph)(*point), point) if \
        sum(np.size(x) for x in point) <= 40 else None
    if h is not None:
        np.testing.assert_allclose(h, h.T, rtol=1e-10, atol=1e-10 * max(1.0, np.abs(h).max()))
    grad = la.grad(graph)
    products = []
    for _ in range(2):
        direction = [RNG.standard_normal(np.shape(x)) for x in point]
        eps = 1e-5
        plus = grad(*[x + eps * d for x, d in zip(point, direction)])
        minus = grad(*[x - eps * d for x, d in zip(point, direction)])
        fd = np.concatenate([np.ravel((p - m) / (2 * eps)) for p, m in zip(plus, minus)])
        ours = np.concatenate([np.ravel(v) for v in la.hvp(graph)(point, direction)])
        flat_direction = np.concatenate([np.ravel(d) for d in direction])
        if h is not None:
            np.testing.assert_allclose(ours, h @ flat_direction, rtol=1e-10,
                                       atol=1e-10 * max(1.0, np.abs(h).max()))
        np.testing.assert_allclose(ours, fd, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd).max()))
        products.append((flat_direction, ours))
    (u, hu), (v, hv) = products
    assert u @ hv == pytest.approx(v @ hu, rel=1e-10, abs=1e-12)


def test_w_operator_and_matrix_give_t_transpose_w_t():
    example = la.examples.get("lecture")
    program = la.Program(example.graph)
    lam = la.solve(program, "reverse")
    w_op = program.lagrangian_hessian(lam)
    w = program.lagrangian_hessian(lam, sparse=True)
    assert sp.issparse(w)
    n = program.graph.total_size
    dense = w.toarray()
    np.testing.assert_allclose(dense, dense.T, atol=1e-14)
    np.testing.assert_allclose(w_op @ np.eye(n), dense, atol=1e-14)
    # T = A^{-1} E from the assembled KKT matrix
    a = program.kkt_matrix().toarray()
    n_in = int(program.graph.offsets[program.graph.n_inputs])
    t = np.linalg.solve(a, np.eye(n)[:, :n_in])
    np.testing.assert_allclose(t.T @ dense @ t, lecture_hessian(*example.point), rtol=1e-12)
    # mu solves A^T mu = W t, and is the derivative of every adjoint along d
    d = RNG.standard_normal(n_in)
    mu = second_adjoints(program, lam.multipliers.blocks(), list(d))
    np.testing.assert_allclose(a.T @ mu.flat, dense @ (t @ d), atol=1e-12)


def rosen(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_rosenbrock_trust_ncg_with_our_gradient_and_hvp():
    n = 100
    x0 = 1.0 + 0.3 * np.sin(np.arange(n))
    graph = la.trace(rosen, x0)
    grad, hvp = la.grad(graph), la.hvp(graph)

    def jac(x):
        return np.array(grad(x)[0])

    def hessp(x, p):
        return np.array(hvp((x,), (p,))[0])

    p = RNG.standard_normal(n)
    np.testing.assert_allclose(jac(x0), scipy.optimize.rosen_der(x0), rtol=1e-12)
    np.testing.assert_allclose(hessp(x0, p), scipy.optimize.rosen_hess_prod(x0, p),
                               rtol=1e-12, atol=1e-9)
    newton = scipy.optimize.minimize(rosen, x0, method="trust-ncg", jac=jac, hessp=hessp,
                                     options={"gtol": 1e-6})
    bfgs = scipy.optimize.minimize(rosen, x0, method="BFGS", jac=jac,
                                   options={"gtol": 1e-6})
    assert newton.success
    np.testing.assert_allclose(newton.x, np.ones(n), atol=1e-8)
    assert newton.nit < bfgs.nit


def test_second_order_refusals_are_named(monkeypatch):
    # every registered row has a curvature rule: take det's away to see the refusal
    monkeypatch.setitem(PRIMITIVES, "det", dataclasses.replace(PRIMITIVES["det"], curvature=None))
    with pytest.raises(NoCurvatureRuleError, match="'det'"):
        la.hessian(lambda x: la.linalg.det(x))(np.eye(2))
    for method in REFUSALS:
        with pytest.raises(MethodNotApplicableError, match="second adjoint system"):
            la.hvp(lecture, method=method)((1.0, 1.0, 1.0), (1.0, 0.0, 0.0))
    with pytest.raises(la.NonFiniteError, match="second derivative"):
        # x ** 1.5 has a gradient at 0 but no second derivative
        la.hessian(lambda x: la.sum(x ** 1.5))(np.array([0.0, 1.0]))
    with pytest.raises(ShapeError, match="shape"):
        la.hvp(lambda x: la.sum(x * x))((np.ones(3),), (np.ones(2),))


@pytest.mark.parametrize("name", ["lecture", "random_dag", "domke", "fully_connected"])
def test_the_two_forms_give_the_same_second_adjoints(name):
    example = la.examples.get(name)
    program = la.Program(example.graph)
    lam = la.solve(program, "reverse").multipliers.blocks()
    direction = [RNG.standard_normal(np.shape(x)) for x in example.point]
    by_rules = second_adjoints(program, lam, direction, "rules").flat
    by_partials = second_adjoints(program, lam, direction, "partials").flat
    np.testing.assert_allclose(by_partials, by_rules, rtol=1e-10,
                               atol=1e-12 * max(1.0, np.abs(by_rules).max()))


@pytest.mark.parametrize("name", ["logistic", "mlp", "crf"])
def test_w_matrix_equals_the_operator_on_array_programs(name):
    program = la.examples.get(name).program()
    lam = la.solve(program, "reverse")
    w = program.lagrangian_hessian(lam, sparse=True)
    n = program.graph.total_size
    probe = RNG.standard_normal((n, 3))
    np.testing.assert_allclose(w @ probe, program.lagrangian_hessian(lam) @ probe,
                               rtol=1e-12, atol=1e-12)


def _vjp_moved(graph, i, g, operands, k, step):
    """Node i's VJP of g, all operands' cotangents flat, with operand k moved by ``step``."""
    moved = list(operands)
    moved[k] = operands[k] + step.reshape(operands[k].shape)
    primitive, params = graph.primitive(i), graph.params(i)
    cts = primitive.vjp(g, primitive.evaluate(*moved, **params), *moved, **params)
    return np.concatenate([np.ravel(ct) for ct in cts])


@pytest.mark.parametrize("name", ["lecture", "mlp", "hmm"])
def test_w_is_block_diagonal_over_the_parents_of_each_node(name):
    # W = P^T diag(lam_i Hess p_i) P, each block probed alone, symmetric, and each block is
    # lam_i times the Hessian of p_i by central differences of its VJP rule
    program = la.examples.get(name).program()
    lam = la.solve(program, "reverse")
    blocks = curvature_blocks(program, lam)
    slots = np.concatenate([s for _, s, _ in blocks])
    stacked = sp.block_diag([b for _, _, b in blocks]).toarray()
    place = np.zeros((slots.size, program.graph.total_size))
    place[np.arange(slots.size), slots] = 1.0
    w = program.lagrangian_hessian(lam, sparse=True).toarray()
    np.testing.assert_allclose(place.T @ stacked @ place, w, rtol=1e-12, atol=1e-14)
    graph, h = program.graph, 1e-6
    for i, _, block in blocks[:4]:
        np.testing.assert_allclose(block, block.T, atol=1e-12)
        parents, g = graph.parents(i).tolist(), lam.multipliers[i]
        operands = [np.asarray(program.value(j), float) for j in parents]
        sizes = [x.size for x in operands]
        for c in range(sum(sizes)):
            k = int(np.searchsorted(np.cumsum(sizes), c, side="right"))
            step = np.zeros(sizes[k])
            step[c - sum(sizes[:k])] = h

            column = (_vjp_moved(graph, i, g, operands, k, step)
                      - _vjp_moved(graph, i, g, operands, k, -step)) / (2 * h)
            np.testing.assert_allclose(block[:, c], column, rtol=1e-5, atol=1e-6)


def test_w_matrix_above_its_limits_is_refused(monkeypatch):
    from lagrange_ad.errors import BudgetError
    from lagrange_ad.program import second_order

    program = la.examples.get("mlp").program()
    monkeypatch.setattr(second_order, "MATRIX_PROBES", 10)
    with pytest.raises(BudgetError, match="matrix-free operator"):
        program.lagrangian_hessian(la.solve(program, "reverse"), sparse=True)


def test_second_derivative_through_a_fixed_point_is_its_closed_form():
    # h = a cos h: h' = cos h / (1 + a sin h), and h'' by differentiating that once more
    a = 0.8
    example = la.examples.get("fixed_cos", a=a)
    h = float(example.value)
    s, c = np.sin(h), np.cos(h)
    first = c / (1 + a * s)
    second = (-s * first * (1 + a * s) - c * (s + a * c * first)) / (1 + a * s) ** 2
    assert float(la.hessian(example.graph)(*example.point)) == pytest.approx(second, rel=1e-12)


@pytest.mark.parametrize("name", ["equilibrium", "jacobi_solve", "pagerank"])
def test_hvps_through_fixed_points_match_differences_of_the_implicit_gradient(name):
    example = la.examples.get(name)
    point, grad = example.point, la.grad(example.graph)
    direction = [RNG.standard_normal(np.shape(x)) for x in point]
    eps = 1e-5
    plus = grad(*[x + eps * d for x, d in zip(point, direction)])
    minus = grad(*[x - eps * d for x, d in zip(point, direction)])
    fd = np.concatenate([np.ravel((p - m) / (2 * eps)) for p, m in zip(plus, minus)])
    ours = np.concatenate([np.ravel(v) for v in la.hvp(example.graph)(point, direction)])
    np.testing.assert_allclose(ours, fd, rtol=1e-6, atol=1e-7 * np.abs(fd).max())


def test_the_rules_form_refuses_a_cycle():
    example = la.examples.get("fixed_cos")
    program = example.program()
    lam = la.solve(program, "reverse").multipliers
    with pytest.raises(la.CyclicGraphError, match="partials"):
        second_adjoints(program, lam, [np.ones(())], "rules")


@pytest.mark.parametrize("name", ["lecture", "mlp", "equilibrium"])
def test_every_schedule_of_the_second_system_agrees_with_the_reverse_sweep(name):
    example = la.examples.get(name)
    point = example.point
    direction = tuple(RNG.standard_normal(np.shape(x)) for x in point)
    reference = np.concatenate([np.ravel(v) for v in la.hvp(example.graph)(point, direction)])
    agreed = []
    for method in SECOND_ADJOINT_METHODS[1:]:
        try:
            ours = la.hvp(example.graph, method=method)(point, direction)
        except MethodNotApplicableError:  # the schedule's own refusal (a cycle, a size)
            continue
        np.testing.assert_allclose(np.concatenate([np.ravel(v) for v in ours]), reference,
                                   rtol=1e-6, atol=1e-8 * np.abs(reference).max(),
                                   err_msg=method)
        agreed.append(method)
    assert {"spsolve", "gmres", "jacobi"} <= set(agreed)



def test_an_unconverged_second_system_names_its_own_residual():
    from lagrange_ad.program.second_order import SecondSystem
    from lagrange_ad.schedules.registry import require_converged

    program = la.Program(la.trace(lambda x: la.sum(la.sin(la.sin(x)) ** 2), np.ones(3)))
    system = SecondSystem(program, np.ones(program.graph.total_size))
    solution = la.solve(system, "jacobi", maxiter=1)
    assert not solution.converged and "||w - A^T mu||" in solution.message
    with pytest.raises(la.ConvergenceError, match=r"residual \|\|w - A\^T mu\|\|"):
        require_converged(solution, "the second adjoints", system.residual_name)
