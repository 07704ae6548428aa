"""The compiled forward loop agrees with the checked Python loop it replaces.

``forward_values`` goes through the dispatcher (the compiled loop on these graphs);
``forward_propagate`` is the reference loop.
"""

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.accel import compiled
from lagrange_ad.primitives import PRIMITIVES
from lagrange_ad.program.assembly import assemble_jacobian
from lagrange_ad.program.values import Reads, forward_propagate, forward_values

pytestmark = pytest.mark.skipif(compiled.numba is None, reason="numba is not installed")


def every_compilable_primitive(x, y):
    a = la.sin(x) + la.cos(y) - la.tanh(x * y)
    b = la.sigmoid(a) / (1.5 + la.square(y)) + la.maximum(x, y) - la.minimum(x, 0.2)
    c = la.exp(-la.abs(b)) + la.log(1 + x**2) + la.sqrt(2 + y) + la.relu(a) - la.tan(0.3 * b)
    return -(c ** 3.0) + c ** -1.5 + (2.0 + c) ** 0.0


@pytest.mark.parametrize("point", [(0.3, -0.7), (1.2, 0.4), (-0.9, 1.1)])
def test_values_and_partials_match_the_python_loop(point):
    graph = la.trace(every_compilable_primitive, *point)
    assert compiled.available(graph)
    fast = forward_values(graph, graph.point)
    slow = forward_propagate(graph, graph.point)
    assert fast.jacobian is not None and slow.jacobian is None
    np.testing.assert_allclose(fast.values.flat, slow.values.flat, rtol=1e-14, atol=1e-15)
    jac_fast = la.Program(graph).local_jacobian().toarray()
    jac_slow = assemble_jacobian(slow.values).toarray()
    np.testing.assert_allclose(jac_fast, jac_slow, rtol=1e-13, atol=1e-15)


def test_random_dag_agrees_and_backprop_matches_the_rules():
    example = la.examples.random_dag(n=3000, seed=5)
    fast = forward_values(example.graph, example.point)
    slow = forward_propagate(example.graph, example.point)
    assert fast.jacobian is not None
    np.testing.assert_allclose(fast.values.flat, slow.values.flat, rtol=1e-12, atol=1e-14)
    program = example.program()
    jacobian = la.solve(program, via="jacobian").multipliers.flat
    rules = la.solve(program, via="rules").multipliers.flat
    np.testing.assert_allclose(jacobian, rules, rtol=1e-12, atol=1e-15)


def test_array_graphs_and_late_primitives_use_the_python_loop():
    array_graph = la.trace(lambda x: la.sum(la.sin(x)), np.ones(3))
    assert not compiled.available(array_graph)
    from lagrange_ad.primitives import PRIMITIVES
    from lagrange_ad.primitives.structure import elementwise

    compiled.kernel_names()  # the loop's primitives are fixed from here on
    elementwise("late_cube", 1, lambda x: x * x * x, lambda ans, x: (3 * x * x,))
    try:
        graph = la.GraphBuilder()
        x = graph.input()
        graph.add("late_cube", x)
        built = graph.build()
        assert not compiled.available(built)
        assert float(la.Program(built, 2.0).output_value) == 8.0
    finally:
        PRIMITIVES.pop("late_cube")


def test_a_domain_error_inside_the_loop_is_reported_by_name():
    graph = la.trace(lambda x: la.log(x - 1.0) + x, 3.0)
    with pytest.raises(la.DomainError, match=r"log .*positive"):
        la.Program(graph, 0.5)


# ----------------------------------------------------------------- one rule at a time

POSITIVE = ("log", "sqrt", "pow")  # primitives whose domain is (a part of) x > 0
UNARY_POINTS = {"any": (-1.3, 0.0, 0.7, 3.1), "positive": (0.7, 2.3)}
BINARY_POINTS = ((0.7, 0.7), (-1.3, 0.4), (0.4, -1.3), (2.0, -0.5))  # ties: max/min split


def rule_cases():
    for name in compiled.kernel_names():
        arity = PRIMITIVES[name].arity
        if arity == 2:
            yield from ((name, point) for point in BINARY_POINTS)
        else:
            kind = "positive" if name in POSITIVE else "any"
            yield from ((name, (x,)) for x in UNARY_POINTS[kind])


def in_domain(name, point):
    primitive = PRIMITIVES[name]
    params = {"exponent": 2.5} if "exponent" in primitive.param_names else {}
    return primitive.domain is None or primitive.domain(*map(np.float64, point), **params) is None


@pytest.mark.parametrize("name, point", [c for c in rule_cases() if in_domain(*c)])
def test_each_rule_in_the_loop_equals_the_numpy_rule(name, point):
    primitive = PRIMITIVES[name]
    params = {"exponent": 2.5} if "exponent" in primitive.param_names else {}
    builder = la.GraphBuilder()
    xs = [builder.input() for _ in point]
    builder.add(name, *xs, **params)
    graph = builder.build()
    operands = [np.float64(x) for x in point]
    ans = primitive.evaluate(*operands, **params)
    expected = primitive.partials(ans, *operands, **params)
    values, partials = compiled.forward_scalar(graph, point)
    np.testing.assert_allclose(values[-1], ans, rtol=1e-15, atol=0)
    np.testing.assert_allclose(partials, np.broadcast_arrays(*expected), rtol=1e-15, atol=0)
    only, untouched = compiled.forward_scalar(graph, point, with_partials=False)
    assert only[-1] == values[-1] and not untouched.any()


@pytest.mark.parametrize("name, which, x", [("sigmoid", "evaluate", (-2.0,)),
                                            ("maximum", "partials", (1.0, 1.0, 1.0)),
                                            ("minimum", "partials", (1.0, 2.0, 1.0))])
def test_rules_in_the_loop_select_scalars_instead_of_making_arrays(name, which, x):
    # np.where on scalars is a select there, so no rule allocates an array per node
    got = compiled.rule(name, which)(*x)
    want = getattr(PRIMITIVES[name], which)(*x)
    leaves = got if isinstance(got, tuple) else (got,)
    assert all(isinstance(leaf, float) for leaf in leaves)
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_constants_and_exponents_come_from_the_parameter_tables():
    def many_constants(x):
        total = x
        for k in range(60):
            total = total + (x * (k + 0.5)) ** (1.0 + k % 3) - 0.25 * k
        return total

    graph = la.trace(many_constants, 0.8)
    assert compiled.available(graph) and len(graph.param_table) > 60
    fast = forward_values(graph, graph.point)
    slow = forward_propagate(graph, graph.point)
    assert fast.jacobian is not None
    np.testing.assert_allclose(fast.values.flat, slow.values.flat, rtol=1e-15, atol=0)


def test_a_nonfinite_partial_sends_the_graph_to_the_checked_loop():
    builder = la.GraphBuilder()
    builder.add("sqrt", builder.input())
    graph = builder.build()
    assert compiled.forward_scalar(graph, [0.0]) is None  # d sqrt(x) / dx is infinite at 0
    values, _ = compiled.forward_scalar(graph, [0.0], with_partials=False)
    assert values.tolist() == [0.0, 0.0]
    with pytest.raises(la.NonFiniteError, match=r"v1 = sqrt\(v0\).*not finite"):
        la.Program(graph, 0.0).local_jacobian()


def test_the_edge_jacobian_sums_the_partials_of_a_parent_used_twice():
    graph = la.trace(lambda x, y: x * x + la.sin(y) * x, 0.5, 1.5)
    fast = compiled.forward(graph, list(graph.point), None, Reads())
    assembled = assemble_jacobian(forward_propagate(graph, graph.point).values).toarray()
    np.testing.assert_allclose(fast.jacobian().toarray(), assembled, rtol=1e-15, atol=0)
    assert fast.jacobian().nnz == np.count_nonzero(assembled)  # x * x: one entry, 2x


def test_values_alone_come_without_a_jacobian():
    graph = la.trace(every_compilable_primitive, 0.3, -0.7)
    only = forward_values(graph, graph.point, reads=Reads(partials=False))
    assert only.jacobian is None
    np.testing.assert_array_equal(only.values.flat, forward_values(graph, graph.point).values.flat)
