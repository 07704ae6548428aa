"""Tracing Python functions: operators, la. functions, numpy deferral, indexing and errors."""

import gc

import numpy as np
import pytest
import scipy.special
from zoo import LagrangeOps, random_function

import lagrange_ad as la
from lagrange_ad.accel import dispatch
from lagrange_ad.accel.dispatch import use_reference
from lagrange_ad.accel.recording import ScalarTape
from lagrange_ad.errors import (
    ControlFlowError,
    DomainError,
    GraphError,
    LagrangeADError,
    NonFiniteError,
    ShapeError,
    TracingError,
)
from lagrange_ad.tracing.tracer import Tape, new_tape

RNG = np.random.default_rng(7)
X = RNG.uniform(0.5, 1.5, (2, 3))
V = RNG.uniform(0.5, 1.5, 3)
M = RNG.standard_normal((3, 3))


def op_of(graph, node=None):
    node = graph.output if node is None else node
    return graph.op_names[graph.op[node]]


def operation_nodes(graph):
    """(primitive, parent primitives) of every node that is not an input or constant."""
    return [(op_of(graph, i), [op_of(graph, int(j)) for j in graph.parents(i)])
            for i in range(len(graph)) if op_of(graph, i) not in ("input", "const")]


def output_value(graph):
    return la.Program(graph).output_value


# ----------------------------------------------------------------- operators


@pytest.mark.parametrize("f, args, primitive, parents, expected", [
    (lambda x, y: x + y, (X, V), "add", ["input", "input"], X + V),
    (lambda x, y: x - y, (X, V), "sub", ["input", "input"], X - V),
    (lambda x, y: x * y, (X, V), "mul", ["input", "input"], X * V),
    (lambda x, y: x / y, (X, V), "div", ["input", "input"], X / V),
    (lambda x, y: x @ y, (X, V), "matmul", ["input", "input"], X @ V),
    (lambda x: -x, (X,), "neg", ["input"], -X),
    (lambda x: +x, (X,), "input", [], X),
    (lambda x: abs(x), (X - 1,), "abs", ["input"], np.abs(X - 1)),
    (lambda x: x ** 3, (X,), "pow", ["input"], X**3),
    (lambda x: x[1], (X,), "getitem", ["input"], X[1]),
    (lambda x: x.T, (X,), "transpose", ["input"], X.T),
    (lambda x: x.transpose(1, 0), (X,), "transpose", ["input"], X.T),
    (lambda x: x.reshape(3, 2), (X,), "reshape", ["input"], X.reshape(3, 2)),
    (lambda x: x.reshape((6,)), (X,), "reshape", ["input"], X.ravel()),
    (lambda x: x.sum(axis=0), (X,), "sum", ["input"], X.sum(axis=0)),
    (lambda x: x.mean(), (X,), "mean", ["input"], X.mean()),
    (lambda x, y: x.dot(y), (X, V), "dot", ["input", "input"], X @ V),
    (lambda x: 2.0 + x, (X,), "add", ["const", "input"], 2.0 + X),
    (lambda x: x + 2.0, (X,), "add", ["input", "const"], X + 2.0),
    (lambda x: 2.0 - x, (X,), "sub", ["const", "input"], 2.0 - X),
    (lambda x: 2.0 * x, (X,), "mul", ["const", "input"], 2.0 * X),
    (lambda x: 2.0 / x, (X,), "div", ["const", "input"], 2.0 / X),
    (lambda x: x / 2, (X,), "div", ["input", "const"], X / 2),
])
def test_each_operator_records_its_primitive(f, args, primitive, parents, expected):
    graph = la.trace(f, *args)
    assert op_of(graph) == primitive
    assert [op_of(graph, int(j)) for j in graph.parents(graph.output)] == parents
    np.testing.assert_allclose(output_value(graph), expected, rtol=1e-15)


def test_power_with_a_constant_exponent_is_one_pow_node():
    graph = la.trace(lambda y: y**3, -2.0)
    assert str(graph) == "v0 = input y\nv1 = v0 ** 3.0\noutput: v1"
    assert float(output_value(graph)) == -8.0
    assert float(la.grad(lambda y: y**3)(-2.0)[0]) == 12.0
    assert float(la.grad(lambda y: y ** np.int64(3))(-2.0)[0]) == 12.0
    assert float(la.grad(lambda y: y**0.5)(4.0)[0]) == 0.25


def test_power_with_a_traced_exponent_is_exp_of_exponent_times_log():
    graph = la.trace(lambda x, y: x**y, 2.0, 3.0)
    assert [name for name, _ in operation_nodes(graph)] == ["log", "mul", "exp"]
    assert float(output_value(graph)) == pytest.approx(8.0, rel=1e-15)
    gx, gy = la.grad(lambda x, y: x**y)(2.0, 3.0)
    assert float(gx) == pytest.approx(3.0 * 2.0**2, rel=1e-14)
    assert float(gy) == pytest.approx(8.0 * np.log(2.0), rel=1e-14)
    (g,) = la.grad(lambda y: 2.0**y)(3.0)
    assert float(g) == pytest.approx(8.0 * np.log(2.0), rel=1e-14)


def test_power_with_a_traced_exponent_needs_a_positive_base():
    with pytest.raises(DomainError, match=r"pow: base v0 \*\* exponent .* needs a positive base;"
                                          r" the base is -2.0"):
        la.trace(lambda x, y: x**y, -2.0, 3.0)
    with pytest.raises(DomainError, match=r"needs a positive base; the base is -2.0"):
        la.trace(lambda y: (-2.0) ** y, 3.0)


# ----------------------------------------------------------------- la. functions

LA_FUNCTIONS = [
    # (la function, extra args, primitive, numpy reference)
    (la.sin, (), "sin", np.sin), (la.cos, (), "cos", np.cos), (la.tan, (), "tan", np.tan),
    (la.tanh, (), "tanh", np.tanh), (la.exp, (), "exp", np.exp), (la.log, (), "log", np.log),
    (la.sqrt, (), "sqrt", np.sqrt), (la.square, (), "square", np.square),
    (la.negative, (), "neg", np.negative), (la.abs, (), "abs", np.abs),
    (la.relu, (), "relu", lambda x: np.maximum(x, 0.0)),
    (la.sigmoid, (), "sigmoid", scipy.special.expit),
    (la.sum, (), "sum", np.sum), (la.sum, (1,), "sum", lambda x: np.sum(x, axis=1)),
    (la.sum, ((0, 1),), "sum", lambda x: np.sum(x, axis=(0, 1))),
    (la.mean, (), "mean", np.mean), (la.mean, (0,), "mean", lambda x: np.mean(x, axis=0)),
    (la.logsumexp, (), "logsumexp", scipy.special.logsumexp),
    (la.logsumexp, (1,), "logsumexp", lambda x: scipy.special.logsumexp(x, axis=1)),
    (la.softmax, (), "softmax", lambda x: scipy.special.softmax(x, axis=-1)),
    (la.softmax, (0,), "softmax", lambda x: scipy.special.softmax(x, axis=0)),
    (la.log_softmax, (), "log_softmax", lambda x: scipy.special.log_softmax(x, axis=-1)),
    (la.log_softmax, (0,), "log_softmax", lambda x: scipy.special.log_softmax(x, axis=0)),
    (la.transpose, (), "transpose", np.transpose),
    (la.reshape, ((3, 2),), "reshape", lambda x: np.reshape(x, (3, 2))),
    (la.reshape, (6,), "reshape", np.ravel),
    (la.power, (2.5,), "pow", lambda x: x**2.5),
]

LA_BINARY = [
    (la.add, "add", np.add), (la.subtract, "sub", np.subtract),
    (la.multiply, "mul", np.multiply), (la.divide, "div", np.divide),
    (la.maximum, "maximum", np.maximum), (la.minimum, "minimum", np.minimum),
]


@pytest.mark.parametrize("function, extra, primitive, reference", LA_FUNCTIONS,
                         ids=lambda p: getattr(p, "__name__", None))
def test_la_functions_record_their_primitive_and_match_numpy(function, extra, primitive,
                                                            reference):
    graph = la.trace(lambda x: function(x, *extra), X)
    assert op_of(graph) == primitive
    np.testing.assert_allclose(output_value(graph), reference(X), rtol=1e-14)
    # outside a trace the same function computes the value directly
    np.testing.assert_allclose(function(X, *extra), reference(X), rtol=1e-14)


@pytest.mark.parametrize("function, primitive, reference", LA_BINARY,
                         ids=[p[1] for p in LA_BINARY])
def test_binary_la_functions_broadcast(function, primitive, reference):
    graph = la.trace(function, X, V)
    assert op_of(graph) == primitive and graph.shape(graph.output) == (2, 3)
    np.testing.assert_allclose(output_value(graph), reference(X, V), rtol=1e-15)
    np.testing.assert_allclose(function(X, V), reference(X, V), rtol=1e-15)
    np.testing.assert_allclose(function(V, 2.0), reference(V, 2.0), rtol=1e-15)


@pytest.mark.parametrize("function, reference, args", [
    (la.dot, np.dot, (M, V)), (la.dot, np.dot, (V, V)), (la.matmul, np.matmul, (V, M)),
    (lambda x, y: la.concatenate([x, y]), lambda x, y: np.concatenate([x, y]), (M, X)),
    (lambda x, y: la.stack([x, y], axis=1), lambda x, y: np.stack([x, y], axis=1), (V, V)),
], ids=["dot-mv", "dot-vv", "matmul", "concatenate", "stack"])
def test_la_functions_of_several_arrays(function, reference, args):
    graph = la.trace(function, *args)
    np.testing.assert_allclose(output_value(graph), reference(*args), rtol=1e-15)
    np.testing.assert_allclose(function(*args), reference(*args), rtol=1e-15)


def test_la_functions_on_plain_numbers():
    assert la.sin(1.0) == np.sin(1.0) and la.exp(1) == np.exp(1.0)
    assert la.log(2.0) == np.log(2.0) and la.sqrt(4) == 2.0
    assert la.sum([1, 2, 3]) == 6.0 and la.mean([1.0, 2.0]) == 1.5
    assert la.maximum(1.0, 2.0) == 2.0 and la.power(2.0, 3) == 8.0
    np.testing.assert_array_equal(la.sin([0.0, 1.0]), np.sin([0.0, 1.0]))
    np.testing.assert_array_equal(la.sum(X, axis=1, keepdims=True), X.sum(1, keepdims=True))
    assert np.asarray(la.sin(1.0)).dtype == np.float64


def test_la_power_of_arrays_outside_a_trace():
    np.testing.assert_allclose(la.power(np.array([2.0, 3.0]), np.array([2.0, 1.0])), [4.0, 3.0],
                               rtol=1e-15)


def test_softmax_and_logsumexp_do_not_overflow():
    big = np.array([1000.0, 1000.0, -1000.0])
    np.testing.assert_allclose(la.softmax(big), [0.5, 0.5, 0.0], atol=1e-300)
    assert la.logsumexp(big) == pytest.approx(1000.0 + np.log(2.0), rel=1e-15)
    np.testing.assert_allclose(la.log_softmax(big)[:2], [-np.log(2.0)] * 2, rtol=1e-15)


def test_la_functions_record_their_parameters():
    graph = la.trace(lambda x: la.softmax(la.sum(x, axis=(0,)), axis=0), X)
    assert graph.params(1) == {"axis": (0,)} and graph.params(2) == {"axis": 0}


# ----------------------------------------------------------------- numpy defers to tracers


@pytest.mark.parametrize("f, primitive, parents, expected", [
    (lambda x: M @ x, "matmul", ["const", "input"], M @ V),
    (lambda x: M * x, "mul", ["const", "input"], M * V),
    (lambda x: M + x, "add", ["const", "input"], M + V),
    (lambda x: M - x, "sub", ["const", "input"], M - V),
    (lambda x: M / x, "div", ["const", "input"], M / V),
    (lambda x: np.float64(2.0) * x, "mul", ["const", "input"], 2.0 * V),
    (lambda x: np.sin(x), "sin", ["input"], np.sin(V)),
    (lambda x: np.exp(x), "exp", ["input"], np.exp(V)),
    (lambda x: np.abs(x), "abs", ["input"], np.abs(V)),
    (lambda x: np.maximum(x, 1.0), "maximum", ["input", "const"], np.maximum(V, 1.0)),
    (lambda x: np.sum(x), "sum", ["input"], np.sum(V)),
    (lambda x: np.sum(x, axis=0), "sum", ["input"], np.sum(V, axis=0)),
    (lambda x: np.mean(x), "mean", ["input"], np.mean(V)),
    (lambda x: np.dot(M, x), "dot", ["const", "input"], M @ V),
    (lambda x: np.matmul(M, x), "matmul", ["const", "input"], M @ V),
    (lambda x: np.transpose(x), "transpose", ["input"], V),
    (lambda x: np.reshape(x, (3, 1)), "reshape", ["input"], V.reshape(3, 1)),
    (lambda x: np.concatenate([x, x]), "concatenate", ["input", "input"], np.r_[V, V]),
    (lambda x: np.stack([x, x]), "stack", ["input", "input"], np.stack([V, V])),
])
def test_numpy_defers_to_traced_values(f, primitive, parents, expected):
    graph = la.trace(f, V)
    assert op_of(graph) == primitive
    assert [op_of(graph, int(j)) for j in graph.parents(graph.output)] == parents
    np.testing.assert_allclose(output_value(graph), expected, rtol=1e-15)


def test_keepdims_is_a_reshape_after_the_reduction():
    graph = la.trace(lambda x: np.sum(x, axis=1, keepdims=True), X)
    assert [name for name, _ in operation_nodes(graph)] == ["sum", "reshape"]
    np.testing.assert_allclose(output_value(graph), X.sum(axis=1, keepdims=True), rtol=1e-15)
    graph = la.trace(lambda x: x.mean(keepdims=True), X)
    assert graph.shape(graph.output) == (1, 1)


def test_numpy_functions_without_a_primitive_are_refused_by_name():
    with pytest.raises(TracingError, match=r"numpy.nextafter cannot be traced"):
        la.trace(lambda x: np.nextafter(x, x), V)
    with pytest.raises(TracingError, match=r"numpy.fft.fft cannot be traced"):
        la.trace(lambda x: np.fft.fft(x), V)
    with pytest.raises(TracingError, match=r"numpy.add: out=.* build the array from a list"):
        la.trace(lambda x: np.add(x, 1.0, out=np.zeros(3)), V)


def test_captured_arrays_become_constant_nodes():
    W = RNG.standard_normal((2, 3))
    graph = la.trace(lambda x: la.sum(np.tanh(W) * x), V)
    consts = [i for i in range(len(graph)) if op_of(graph, i) == "const"]
    assert len(consts) == 1
    np.testing.assert_array_equal(graph.params(consts[0])["value"], np.tanh(W))
    expected = np.sum(np.tanh(W) * V)
    W[...] = 0.0  # the graph keeps its own copy
    assert float(output_value(graph)) == pytest.approx(expected, rel=1e-15)
    (g,) = la.grad(lambda x: la.sum(np.ones((2, 3)) * x))(V)
    np.testing.assert_array_equal(g, [2.0, 2.0, 2.0])


def test_a_constant_gets_no_gradient_but_its_multiplier_is_defined():
    graph = la.trace(lambda x: la.sum(M @ x), V)
    solution = la.solve(la.Program(graph))
    (g,) = solution.gradient
    np.testing.assert_allclose(g, M.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(solution.multipliers[1], np.outer(np.ones(3), V), rtol=1e-14)


# ----------------------------------------------------------------- indexing

Y = np.arange(12.0).reshape(3, 4)


@pytest.mark.parametrize("index", [
    1, -1, (2, 3), (-1, 0), slice(1, None), (slice(None), slice(1, 3)), (slice(None, None, 2),),
    [0, 2, 2], np.array([2, 0]), (np.array([0, 1]), np.array([3, 3])), Y > 4.5,
    np.array([True, False, True]), (Ellipsis, None), (None, 1), (1, [0, 3]),
], ids=repr)
def test_indexing_records_getitem_with_numpy_values_and_gradients(index):
    w = RNG.standard_normal(Y[index].shape)
    graph = la.trace(lambda x: la.sum(x[index] * w), Y)
    node = next(i for i in range(len(graph)) if op_of(graph, i) == "getitem")
    assert graph.parents(node).tolist() == [0]
    np.testing.assert_array_equal(la.Program(graph).values[node], Y[index])
    (g,) = la.grad(lambda x: la.sum(x[index] * w))(Y)
    expected = np.zeros_like(Y)
    np.add.at(expected, index if not isinstance(index, list) else np.array(index), w)
    np.testing.assert_allclose(g, expected, rtol=1e-15)


def test_a_mask_from_a_traced_comparison_selects_with_where_not_as_an_index():
    graph = la.trace(lambda x: la.sum(np.where(x > 4.5, x, 0.0)), Y)
    assert float(output_value(graph)) == Y[Y > 4.5].sum()
    with pytest.raises(ControlFlowError, match=r"np.where\(mask, x, 0\)"):
        la.trace(lambda x: la.sum(x[x > 4.5]), Y)


def test_iteration_and_len_index_the_first_axis():
    graph = la.trace(lambda x: sum(x) * len(x), V)
    assert [name for name, _ in operation_nodes(graph)].count("getitem") == 3
    assert float(output_value(graph)) == pytest.approx(3 * V.sum(), rel=1e-15)
    with pytest.raises(TracingError, match="len\\(\\) of a traced scalar"):
        la.trace(lambda x: len(x), 1.0)


def test_index_out_of_range_is_a_shape_error():
    with pytest.raises(ShapeError, match=r"getitem of v0 \(shape \(3, 4\)\).*index 5 is out of"):
        la.trace(lambda x: x[5], Y)


def test_a_traced_index_is_a_take_node_recomputed_on_replay():
    graph = la.trace(lambda x, i: la.sum(x[i] * np.arange(4.0)), Y, 1.0)
    assert "take" in [name for name, _ in operation_nodes(graph)]
    program = la.Program(graph, Y, 2.0)
    assert float(program.output_value) == Y[2] @ np.arange(4.0)
    gx, gi = la.grad(graph)(Y, 2.0)
    np.testing.assert_array_equal(gx, np.outer([0, 0, 1], np.arange(4.0)))
    assert float(gi) == 0.0
    with pytest.raises(TracingError, match=r"inside a tuple index; .* np.take"):
        la.trace(lambda x, i: x[i, 0], Y, 1.0)
    with pytest.raises(ControlFlowError, match=r"use as an index"):
        la.trace(lambda x, i: x * [1.0, 2.0, 3.0][i], 1.0, 1.0)


# ----------------------------------------------------------------- control flow


def piecewise_by_branches(x):
    if x < 0:
        return -x
    if x == 0:
        return x * 0.0
    if x <= 1 and x != 1:
        return x * x
    if x >= 2 and x > 1.5 and 3 > x and 1.0 < x:
        return x * x
    return x


def piecewise_by_where(x):
    square = (x <= 1) & (x != 1) | (x >= 2) & (x > 1.5) & (3 > x) & (1.0 < x)
    return np.where(x < 0, -x, np.where(x == 0, x * 0.0, np.where(square, x * x, x)))


POINTS = [(-1.0, 1.0, -1.0), (0.0, 0.0, 0.0), (0.5, 0.25, 1.0), (1.5, 1.5, 1.0),
          (2.0, 4.0, 4.0)]


def test_a_python_branch_on_a_traced_comparison_is_refused():
    with pytest.raises(ControlFlowError, match=r"truth value .* np.where\(condition, a, b\)"):
        la.trace(piecewise_by_branches, 0.5)


@pytest.mark.parametrize("point, value, derivative", POINTS)
def test_branches_written_with_where_replay_at_every_point(point, value, derivative):
    graph = la.trace(piecewise_by_where, 0.5)  # traced once, on the branch of x * x
    assert float(la.Program(graph, point).output_value) == value
    assert float(la.grad(graph)(point)[0]) == derivative
    assert float(la.grad(piecewise_by_where)(point)[0]) == derivative


def test_comparisons_with_arrays_on_either_side_are_masks():
    graph = la.trace(lambda x: la.sum(x * (np.full(3, 1.0) < x) + x * (x <= np.ones(3))), V)
    np.testing.assert_allclose(output_value(graph), np.sum(V), rtol=1e-15)
    graph = la.trace(lambda x: x * np.all(x == V), V)
    np.testing.assert_array_equal(la.Program(graph, V).output_value, V)
    np.testing.assert_array_equal(la.Program(graph, V + 1).output_value, 0 * V)


def test_a_traced_value_in_a_loop_condition_is_refused():
    def halve_until_small(x):
        while x > 1.0:
            x = x / 2.0
        return x

    with pytest.raises(ControlFlowError, match="la.fixed_point"):
        la.trace(halve_until_small, 5.0)


def test_truth_value_of_a_traced_array_is_refused():
    with pytest.raises(ControlFlowError, match="truth value"):
        la.trace(lambda x: x if x else -x, V)


# ----------------------------------------------------------------- the recorded graph


def test_inputs_are_named_after_the_parameters():
    graph = la.trace(lambda weights, data: la.sum(weights * data), V, V)
    assert graph.names == {0: "weights", 1: "data"}
    assert la.trace(lambda *xs: xs[0] * xs[1], 1.0, 2.0).names == {0: "x0", 1: "x1"}
    assert la.trace(lambda a, b: a * b, 1.0, 2.0, names=["p", "q"]).names == {0: "p", 1: "q"}


def test_the_point_is_recorded_as_float_arrays():
    graph = la.trace(lambda x, y: x * la.sum(y), 3, [1, 2])
    assert [p.dtype for p in graph.point] == [np.float64, np.float64]
    np.testing.assert_array_equal(graph.point[1], [1.0, 2.0])
    assert graph.shape(0) == () and graph.shape(1) == (2,)


def test_a_function_returning_a_constant():
    graph = la.trace(lambda x: 3.0, 1.0)
    assert str(graph) == "v0 = input x\nv1 = const\noutput: v1"
    assert float(output_value(graph)) == 3.0
    assert la.grad(lambda x: 3.0)(1.0) == (0.0,)


def test_a_function_returning_its_input():
    graph = la.trace(lambda x: x, 1.0)
    assert str(graph) == "v0 = input x\noutput: v0"
    assert la.grad(lambda x: x)(2.0) == (1.0,)


def test_a_function_of_no_arguments():
    graph = la.trace(lambda: 2.0)
    assert graph.n_inputs == 0 and float(output_value(graph)) == 2.0


def test_tracer_attributes():
    def f(x):
        assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
        assert repr(x).startswith("Tracer(v0, value=array(")
        np.testing.assert_array_equal(x.value, X)
        return la.sum(x)

    la.trace(f, X)


# ----------------------------------------------------------------- errors at trace time


@pytest.mark.parametrize("f, args, pattern", [
    (lambda x, y: x + y, (np.ones(3), np.ones(4)),
     r"add of v0 \(shape \(3,\)\), v1 \(shape \(4,\)\): operand shapes \(3,\), \(4,\) do not"),
    (lambda x, y: x @ y, (np.ones(3), np.ones(4)),
     r"matmul of v0 \(shape \(3,\)\), v1 \(shape \(4,\)\): .*\(3 != 4\)"),
    (lambda x, y: la.dot(x, y), (np.ones((2, 3)), np.ones(2)), r"dot of v0 \(shape \(2, 3\)\)"),
    (lambda x: x * np.ones(4), (np.ones(3),),
     r"mul of v0 \(shape \(3,\)\), v1 \(shape \(4,\)\)"),
    (lambda x, y: la.concatenate([x, y], axis=1), (np.ones((2, 3)), np.ones((3, 3))),
     r"concatenate of v0 \(shape \(2, 3\)\), v1 \(shape \(3, 3\)\)"),
    (lambda x: la.sum(x, axis=2), (np.ones((2, 3)),), r"sum: axis 2 is out of range"),
    (lambda x: la.softmax(x), (1.0,), r"softmax needs an operand with at least one axis"),
    (lambda x: x.reshape(4), (np.ones(3),), r"reshape of v0 \(shape \(3,\)\)"),
])
def test_shape_mismatch_at_trace_time_names_primitive_and_shapes(f, args, pattern):
    with pytest.raises(ShapeError, match=pattern):
        la.trace(f, *args)


def test_float_of_a_traced_value_is_refused():
    with pytest.raises(ControlFlowError, match=r"float\(\) of traced value v1: a Python number"):
        la.trace(lambda x: float(la.sin(x)), 1.0)


def test_tracers_of_two_traces_cannot_be_mixed():
    kept = []
    la.trace(lambda x: kept.append(x) or x, 1.0)
    with pytest.raises(LagrangeADError, match=r"add: operand 1 belongs to another trace"):
        la.trace(lambda y: y + kept[0], 2.0)
    with pytest.raises(GraphError, match=r"returned a value traced by another la.trace call"):
        la.trace(lambda y: kept[0], 2.0)


@pytest.mark.parametrize("argument, pattern", [
    ("1.5", r"argument 0 \(x\) of <lambda>: expected a number or an array of numbers, got str"),
    (None, r"expected a number or an array of numbers, got NoneType None"),
    ({}, r"got dict"),
    (1j, r"got complex"),
    ([[1.0, 2.0], [3.0]], r"got list"),
    (np.array([1, "a"], dtype=object), r"got ndarray"),
])
def test_non_numeric_arguments_are_refused(argument, pattern):
    with pytest.raises(LagrangeADError, match=pattern):
        la.trace(lambda x: x, argument)


@pytest.mark.parametrize("result, pattern", [
    (lambda x: None, r"the function's result: expected a number .* got NoneType"),
    (lambda x: "a", r"got str"),
    (lambda x: (x, x), r"got tuple"),
])
def test_non_numeric_results_are_refused(result, pattern):
    with pytest.raises(LagrangeADError, match=pattern):
        la.trace(result, 1.0)


def test_a_list_holding_a_tracer_is_stacked():
    graph = la.trace(lambda x, y: x + [y, 1.0], 1.0, 2.0)
    assert [name for name, _ in operation_nodes(graph)] == ["stack", "add"]
    np.testing.assert_array_equal(output_value(graph), [3.0, 2.0])
    graph = la.trace(lambda x: np.array([x, x + 2]), 1.0)
    np.testing.assert_array_equal(output_value(graph), [1.0, 3.0])
    graph = la.trace(lambda x, y: x + la.stack([y, 1.0]), 1.0, 2.0)
    np.testing.assert_array_equal(output_value(graph), [3.0, 2.0])


def test_non_finite_arguments_and_constants_are_refused():
    with pytest.raises(NonFiniteError, match=r"argument 0 \(x\) of <lambda> contains NaN"):
        la.trace(lambda x: x, [1.0, np.nan])
    with pytest.raises(NonFiniteError, match=r"operand 1 of mul contains NaN or infinity: entry "
                                             r"1 of 2 is inf"):
        la.trace(lambda x: la.tanh(x * np.array([1.0, np.inf])), 1.0)


def test_trace_argument_errors():
    with pytest.raises(LagrangeADError, match="trace needs a function; got float"):
        la.trace(3.0, 1.0)
    with pytest.raises(LagrangeADError, match=r"trace got 1 name\(s\) for 2 argument\(s\)"):
        la.trace(lambda a, b: a * b, 1.0, 2.0, names=["p"])


# ----------------------------------------------------------------- the scalar fast path


def mixed_scalar_function(x, y):
    a = x * y
    b = x * y + 2.0  # the second product takes the fast path, the new constant does not
    c = 2.0 - a / b + (2.0 * a - b / 2.0)  # reflected operators with known constants
    d = -la.sin(c) - la.tanh(-c) + la.exp(la.sigmoid(a)) * la.log(b * b) - 3 / x
    e = la.relu(d) + abs(d) + la.sqrt(la.square(y) + 1.0) + la.cos(la.tan(x))
    return e * d - e / (1.0 + x * x)


@pytest.mark.parametrize("seed", range(6))
def test_the_fast_path_records_the_same_graph_as_the_checked_path(seed, monkeypatch):
    monkeypatch.setattr(dispatch, "ENVIRONMENT_FORCES_REFERENCE", False)
    recipes = [mixed_scalar_function] + [
        (lambda s: lambda x, y: random_function(s, 30)(LagrangeOps, x, y, x * y))(seed)
        for seed in range(5)]
    f = recipes[seed]
    point = (0.7, 1.3)
    fast = la.trace(f, *point)
    gradient = la.grad(f)(*point)
    with use_reference():
        checked = la.trace(f, *point)
    assert str(fast) == str(checked)
    for name in ("op", "parent_ptr", "parent_idx", "shape_id", "param_id"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(checked, name))
    np.testing.assert_allclose(la.grad(f)(*point), gradient, rtol=1e-15)


def test_the_fast_path_takes_repeated_scalar_kinds(monkeypatch):
    # this tests the accelerator
    monkeypatch.setattr(dispatch, "ENVIRONMENT_FORCES_REFERENCE", False)
    checked = []

    def counting(tape, name, operands, params):
        checked.append(name)
        return original(tape, name, operands, params)

    original = Tape.record
    monkeypatch.setattr(Tape, "record", counting)
    graph = la.trace(mixed_scalar_function, 0.7, 1.3)
    assert type(new_tape([np.zeros(())])) is ScalarTape
    # 16 primitives, each checked at its first node; and 2 nodes meeting a new constant
    assert len(operation_nodes(graph)) == 37 and len(checked) == 18


def test_the_fast_path_ends_when_an_array_appears():
    def f(x, v):
        s = x * x
        s = s * s  # fast
        w = s * v  # an array node: every later node is checked
        return la.sum(w * w) + s * s

    graph = la.trace(f, 1.5, np.array([1.0, 2.0]))
    np.testing.assert_allclose(output_value(graph), 1.5**8 * 5 + 1.5**8, rtol=1e-15)
    assert graph.shape(graph.output) == ()


def test_the_fast_path_still_refuses_tracers_of_another_trace():
    kept = []
    la.trace(lambda x: kept.append(x) or x, 1.0)
    with pytest.raises(LagrangeADError, match=r"mul: operand 1 belongs to another trace"):
        la.trace(lambda y: (y * y) * kept[0], 2.0)


def test_tracing_pauses_the_garbage_collector_and_restores_it():
    def f(x):
        assert not gc.isenabled()
        return x * x

    la.trace(f, 1.0)
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        la.trace(lambda x: 1 / 0, 1.0)
    assert gc.isenabled()
    gc.disable()
    try:
        la.trace(f, 1.0)
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def constants_of(graph):
    return [i for i in range(len(graph)) if graph.primitive(i).name == "const"]


def test_a_large_array_used_again_is_one_constant_until_it_changes():
    weights = np.linspace(-1.0, 1.0, 40 * 40).reshape(40, 40)

    def steps(h):
        for _ in range(5):
            h = la.tanh(weights @ h)
        return la.sum(h)

    graph = la.trace(steps, np.ones(40))
    assert len(constants_of(graph)) == 1

    # changed between two uses: the second use is a constant of its own, with the new values
    def changed(w):
        before = la.sum(weights @ w)
        weights[0, 0] += 5.0
        after = la.sum(weights @ w)
        weights[0, 0] -= 5.0
        return before + 2.0 * after

    graph = la.trace(changed, np.ones(40))
    first, second = constants_of(graph)[:2]
    assert graph.params(second)["value"][0, 0] == graph.params(first)["value"][0, 0] + 5.0
    expected = 3.0 * weights.sum(axis=0)
    expected[0] += 10.0
    np.testing.assert_allclose(la.grad(changed)(np.ones(40))[0], expected, rtol=1e-13, atol=1e-12)
    # small arrays are copied at each use
    small = np.ones(3)
    assert len(constants_of(la.trace(lambda x: la.sum(small * x) + la.sum(small * x),
                                     np.ones(3)))) == 2


def test_the_dispatcher_chooses_the_recording_tape(monkeypatch):
    monkeypatch.setattr(dispatch, "ENVIRONMENT_FORCES_REFERENCE", False)
    scalar, vector = [np.zeros(())], [np.zeros(3)]
    assert type(new_tape(scalar)) is ScalarTape
    assert type(new_tape(vector)) is Tape
    with use_reference():
        assert type(new_tape(scalar)) is Tape
