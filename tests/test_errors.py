"""Every kind of failure: a named LagrangeADError whose message names node, primitive and value."""

import warnings

import numpy as np
import pytest
from zoo import small_cycle as cyclic_graph

import lagrange_ad as la
from lagrange_ad.errors import (
    ConvergenceError,
    CyclicGraphError,
    DomainError,
    GraphError,
    LagrangeADError,
    MethodNotApplicableError,
    NonFiniteError,
    NonScalarOutputError,
    ShapeError,
    UnknownMethodError,
    UnknownPrimitiveError,
)


def test_every_error_is_a_lagrange_ad_error():
    for error in (ConvergenceError, CyclicGraphError, DomainError, GraphError,
                  MethodNotApplicableError, NonFiniteError, NonScalarOutputError, ShapeError,
                  UnknownMethodError, UnknownPrimitiveError):
        assert issubclass(error, LagrangeADError)
        assert getattr(la, error.__name__) is error
    # and each is also the matching builtin, so generic handlers still catch them
    assert issubclass(DomainError, ValueError) and issubclass(ShapeError, ValueError)
    assert issubclass(NonFiniteError, FloatingPointError)
    assert issubclass(UnknownPrimitiveError, KeyError)
    assert issubclass(CyclicGraphError, GraphError) and issubclass(ShapeError, GraphError)


def test_messages_of_key_errors_are_not_quoted():
    assert str(UnknownPrimitiveError("unknown primitive 'x'")) == "unknown primitive 'x'"
    assert str(UnknownMethodError("unknown method 'x'")) == "unknown method 'x'"


def test_convergence_error_carries_its_residuals():
    error = ConvergenceError("stopped", residuals=[1.0, 0.5], iterations=2)
    assert error.residuals == (1.0, 0.5) and error.iterations == 2 and str(error) == "stopped"


# ----------------------------------------------------------------- domains

# (function of one variable, point, the node's line, the problem stated)
DOMAIN_CASES = [
    (lambda x: la.log(x), -1.0, r"v1 = log\(v0\)", r"log needs positive arguments; got -1.0"),
    (lambda x: la.log(x), 0.0, r"v1 = log\(v0\)", r"log needs positive arguments; got 0.0"),
    (lambda x: la.sqrt(x), -4.0, r"v1 = sqrt\(v0\)",
     r"sqrt needs non-negative arguments; got -4.0"),
    (lambda x: 1.0 / x, 0.0, r"v2 = v1 / v0", r"division by zero: the divisor is 0.0"),
    (lambda x: x**0.5, -2.0, r"v1 = v0 \*\* 0.5",
     r"a negative base to the non-integer power 0.5; the base is -2.0"),
    (lambda x: x**-1.0, 0.0, r"v1 = v0 \*\* -1.0",
     r"division by zero: zero base to the negative power -1.0"),
]
DOMAIN_IDS = ["log-negative", "log-zero", "sqrt", "div", "pow-fractional", "pow-negative"]


@pytest.mark.parametrize("f, point, node, problem", DOMAIN_CASES, ids=DOMAIN_IDS)
def test_domain_error_when_tracing(f, point, node, problem):
    with pytest.raises(DomainError, match=f"^node {node}: {problem}$"):
        la.trace(f, point)


@pytest.mark.parametrize("f, point, node, problem", DOMAIN_CASES, ids=DOMAIN_IDS)
def test_domain_error_at_a_new_point_of_the_program(f, point, node, problem):
    graph = la.trace(f, 3.0)
    with pytest.raises(DomainError, match=f"^node {node}: {problem}$"):
        la.Program(graph, point)


@pytest.mark.parametrize("f, point, node, problem", DOMAIN_CASES, ids=DOMAIN_IDS)
def test_domain_error_through_grad(f, point, node, problem):
    with pytest.raises(DomainError, match=f"node {node}: {problem}"):
        la.grad(f)(point)


def test_domain_error_in_a_builder_graph():
    b = la.GraphBuilder()
    x = b.input(name="x")
    b.add("log", b.add("sin", x))
    graph = b.build()
    with pytest.raises(DomainError, match=r"^node v2 = log\(v1\): log needs positive arguments; "
                                          r"got -0.8414"):
        la.Program(graph, -1.0)


@pytest.mark.parametrize("call, pattern", [
    (lambda: la.log(-1.0), r"^log: log needs positive arguments; got -1.0$"),
    (lambda: la.log(np.array([1.0, 2.0, -3.0])), r"got -3.0 at index \(2,\)"),
    (lambda: la.sqrt(-1), r"^sqrt: sqrt needs non-negative arguments; got -1.0$"),
    (lambda: la.divide(1.0, np.array([[1.0, 0.0]])), r"^div: division by zero: the divisor is "
                                                     r"0.0 at index \(0, 1\)$"),
    (lambda: la.power(-8.0, 1 / 3), r"^pow: a negative base to the non-integer power"),
    (lambda: la.power(0.0, -2), r"^pow: division by zero: zero base to the negative power"),
])
def test_domain_error_outside_tracing(call, pattern):
    with pytest.raises(DomainError, match=pattern):
        call()


def test_domain_error_in_an_array_names_the_entry():
    bad = np.array([[1.0, 2.0], [-1.0, 3.0]])
    message = r"node v1 = log\(v0\).*: log needs positive arguments; got -1.0 at index \(1, 0\)"
    with pytest.raises(DomainError, match=message):
        la.trace(lambda x: la.sum(la.log(x)), bad)
    graph = la.trace(lambda x: la.sum(la.log(x)), np.ones((2, 2)))
    with pytest.raises(DomainError, match=message):
        la.Program(graph, bad)


def test_integer_powers_of_negative_numbers_are_in_the_domain():
    assert la.power(-2.0, 3) == -8.0 and la.power(-2.0, -2.0) == 0.25
    assert float(la.grad(lambda x: x**-2.0)(-2.0)[0]) == pytest.approx(0.25, rel=1e-15)


# ----------------------------------------------------------------- NaN and infinity


def test_nan_input_when_tracing():
    with pytest.raises(NonFiniteError, match=r"argument 0 \(x\) of f contains NaN or infinity: "
                                             r"entry 0 of 1 is nan"):
        def f(x):
            return la.sin(x)

        la.trace(f, np.nan)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_input_to_a_program(value):
    graph = la.trace(lambda x, y: x * y, 1.0, np.ones(3))
    point = np.array([1.0, value, 2.0])
    with pytest.raises(NonFiniteError, match=r"input v1 \(y\) contains NaN or infinity"):
        la.Program(graph, 1.0, point)
    with pytest.raises(NonFiniteError, match=r"contains NaN or infinity"):
        la.grad(lambda x, y: la.sum(x * y))(1.0, point)


@pytest.mark.parametrize("call, pattern", [
    (lambda: la.trace(lambda x: la.exp(x), 1000.0),
     r"^node v1 = exp\(v0\): exp produced infinity from operands 1000\.$"),
    (lambda: la.trace(lambda x: x * 1e300 * 1e300, 1.0),
     r"^node v3 = v2 \* v1: mul produced infinity from operands 1\.e\+300, 1\.e\+300$"),
    (lambda: la.trace(lambda x: la.sum(la.exp(x)), np.full(6, 800.0)),
     r"node v1 = exp\(v0\).*: exp produced infinity from operands array of shape \(6,\) "
     r"\(min 800, max 800\)"),
    (lambda: la.exp(1000.0), r"^exp: exp produced infinity from operands 1000\.$"),
    (lambda: la.divide(1e308, 1e-10), r"^div: div produced infinity from operands 1\.e\+308"),
    (lambda: la.sin(np.inf), r"^operand 0 of sin contains NaN or infinity: entry 0 of 1 is inf$"),
    (lambda: la.tanh([0.0, np.nan]), r"operand 0 of tanh contains NaN or infinity: entry 1 of 2"),
])
def test_non_finite_values_produced_by_a_primitive(call, pattern):
    with pytest.raises(NonFiniteError, match=pattern):
        call()


def test_overflow_at_a_new_point_names_the_node():
    graph = la.trace(lambda x: la.exp(la.exp(x)), 1.0)
    with pytest.raises(NonFiniteError, match=r"^node v2 = exp\(v1\): exp produced infinity"):
        la.Program(graph, 7.0)


# ----------------------------------------------------------------- gradients that do not exist


@pytest.mark.parametrize("f, primitive", [
    (lambda x: la.sqrt(x), "sqrt"),
    (lambda x: x**0.5, "pow"),
    (lambda x: la.sqrt(x * x) + x, "sqrt"),
])
def test_an_infinite_derivative_raises_instead_of_returning_inf(f, primitive):
    graph = la.trace(f, 0.0)
    program = la.Program(graph)
    assert np.isfinite(program.values.flat).all()
    assert float(program.output_value) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(NonFiniteError, match=f"{primitive}.*not finite at v"):
            la.grad(f)(0.0)
        with pytest.raises(NonFiniteError, match=f"the local derivative of {primitive} with "
                                                 f"respect to v"):
            la.solve(program)
    with pytest.raises(NonFiniteError, match=f"node v\\d+ = .*{primitive}|local derivative of "
                                             f"{primitive}"):
        program.local_jacobian()


@pytest.mark.parametrize("method", sorted(la.SCHEDULES))
def test_no_schedule_returns_an_infinite_gradient(method):
    program = la.Program(la.trace(lambda x: la.sqrt(x) + x, 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            solution = la.solve(program, method)
        except MethodNotApplicableError:
            return
        except NonFiniteError as error:
            assert "sqrt" in str(error) and "v0" in str(error)
            return
    pytest.fail(f"method {method!r} returned {solution.gradient} at sqrt(0)")


@pytest.mark.parametrize("call", [
    lambda p: p.lagrangian_gradient(np.ones(2)), lambda p: p.kkt_residual(np.ones(2)),
    lambda p: p.kkt_operator().rmatvec(np.ones(2)),
], ids=["lagrangian_gradient", "kkt_residual", "rmatvec"])
def test_program_reports_an_infinite_local_derivative(call):
    program = la.Program(la.trace(lambda x: la.sqrt(x), 0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(NonFiniteError, match="sqrt"):
            call(program)


def test_sqrt_gradient_error_names_node_and_value():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(NonFiniteError, match=r"node v1 = sqrt\(v0\): the local derivative of "
                                                 r"sqrt with respect to v0 is not finite at "
                                                 r"v0 = "):
            la.grad(la.sqrt)(0.0)


def test_sqrt_just_above_zero_has_a_finite_gradient():
    (g,) = la.grad(la.sqrt)(1e-300)
    assert np.isfinite(g) and float(g) == pytest.approx(0.5e150, rel=1e-12)


def test_overflowing_multipliers_raise_instead_of_returning_inf():
    # every value and local derivative is finite, but the multipliers, formed from the output
    # back, reach 1e200 * 1e200 before the factor 1e-300 would bring them down again
    def f(x):
        return x * 1e-300 * 1e200 * 1e200

    assert float(la.Program(la.trace(f, 1e200)).output_value) == pytest.approx(1e300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(NonFiniteError, match=r"(not|non)[- ]finite .*every local "
                                                 r"derivative is finite"):
            la.grad(f)(1e200)


# ----------------------------------------------------------------- shapes


@pytest.mark.parametrize("f, args, pattern", [
    (lambda x, y: x + y, (np.ones(3), np.ones(4)),
     r"^add of v0 \(shape \(3,\)\), v1 \(shape \(4,\)\): operand shapes \(3,\), \(4,\) do not "
     r"broadcast$"),
    (lambda x, y: x @ y, (np.ones((2, 3)), np.ones((2, 3))),
     r"^matmul of v0 \(shape \(2, 3\)\), v1 \(shape \(2, 3\)\): matmul: inner dimensions"),
])
def test_shape_mismatch_at_trace_time(f, args, pattern):
    with pytest.raises(ShapeError, match=pattern):
        la.trace(f, *args)


def test_shape_mismatch_outside_tracing_names_primitive_and_shapes():
    with pytest.raises(ShapeError, match=r"^maximum of operands of shapes \(2,\), \(3,\): "):
        la.maximum(np.ones(2), np.ones(3))


# ----------------------------------------------------------------- names that do not exist


def test_unknown_primitive_lists_the_valid_names():
    with pytest.raises(UnknownPrimitiveError) as info:
        la.GraphBuilder().add("arcsec", 0)
    message = str(info.value)
    assert message.startswith("unknown primitive 'arcsec'; registered primitives are: ")
    for name in la.PRIMITIVES:
        assert name in message
    with pytest.raises(UnknownPrimitiveError, match="'sine'"):
        la.GraphBuilder().add_many("sine", [[0]])


def test_unknown_method_lists_the_valid_ones():
    program = la.examples.lecture().program()
    with pytest.raises(UnknownMethodError) as info:
        la.solve(program, method="backprop")
    message = str(info.value)
    assert message.startswith("unknown method 'backprop'; valid methods are: ")
    for name in la.SCHEDULES:
        assert repr(name) in message
    with pytest.raises(UnknownMethodError, match="unknown method 'backprop'"):
        la.grad(la.examples.lecture_function, method="backprop")(2.0, -1.0, 0.0)


def test_unknown_option_of_a_method_lists_its_options():
    program = la.examples.lecture().program()
    with pytest.raises(LagrangeADError, match=r"method 'reverse' has no option 'frobnicate'; its "
                                              r"options are: "):
        la.solve(program, "reverse", frobnicate=1)


def test_solve_needs_a_program():
    with pytest.raises(LagrangeADError, match=r"solve needs a Program; got Graph"):
        la.solve(la.examples.lecture().graph)


# ----------------------------------------------------------------- outputs and cycles


def test_grad_of_a_vector_output():
    with pytest.raises(NonScalarOutputError, match=r"the output v1 has shape \(3,\); a gradient "
                                                   r".* needs a single entry. Reduce it with "
                                                   r"la.sum or la.mean"):
        la.grad(la.tanh)(np.ones(3))




@pytest.mark.parametrize("operation", [
    lambda g: g.topological_order(), lambda g: g.levels(), lambda g: g.depth,
])
def test_operations_that_need_a_dag_refuse_a_cycle(operation):
    with pytest.raises(CyclicGraphError, match=r"^the graph has a cycle through v1, v2; this "
                                               r"operation needs a DAG"):
        operation(cyclic_graph())


# ----------------------------------------------------------------- tracing misuse


@pytest.mark.parametrize("call, error, pattern", [
    (lambda: la.trace(lambda x: float(x), 1.0), LagrangeADError,
     r"float\(\) of traced value v0: a Python number read from a traced value is fixed"),
    (lambda: la.trace(lambda x: x, "abc"), LagrangeADError,
     r"expected a number or an array of numbers, got str 'abc'"),
    (lambda: la.trace(lambda x: np.nextafter(x, x), 1.0), LagrangeADError,
     r"numpy.nextafter cannot be traced"),
    (lambda: la.trace(lambda x, i: x[i, 0], np.ones((3, 2)), 1.0), LagrangeADError,
     r"a traced index v1 inside a tuple index"),
    (lambda: la.trace(lambda x: x[x > 0], np.ones(3)), LagrangeADError,
     r"indexing by a traced mask"),
])
def test_tracing_misuse_is_a_lagrange_ad_error(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


@pytest.mark.parametrize("call, pattern", [
    (lambda: la.sum(np.ones((2, 3)), axis="a"), r"^axis must be an int; got 'a'$"),
    (lambda: la.mean(np.ones((2, 3)), axis=1.0), r"^axis must be an int; got 1.0$"),
    (lambda: la.softmax(np.ones(3), axis=1.5), r"^softmax: axis must be an int; got 1.5$"),
    (lambda: la.reshape(np.ones(6), (2, "a")), r"^reshape: shape must be an int; got 'a'$"),
    (lambda: la.transpose(np.ones((2, 3)), 3), r"^transpose: axes must be a sequence of ints"),
    (lambda: la.stack([np.ones(2), np.ones(3)]), r"^stack of operands of shapes \(2,\), \(3,\)"),
    (lambda: la.trace(lambda x: x[1.5], np.ones(3)), r"^getitem of v0 \(shape \(3,\)\)"),
])
def test_bad_static_arguments_are_shape_errors(call, pattern):
    with pytest.raises(ShapeError, match=pattern):
        call()


def test_a_builder_constant_must_be_a_finite_number():
    b = la.GraphBuilder()
    b.input()
    with pytest.raises(NonFiniteError, match=r"^const v1: the value contains NaN or infinity$"):
        b.const([1.0, np.inf])
    with pytest.raises(GraphError, match=r"^const: expected a number or an array of numbers, "
                                         r"got str 'a'$"):
        b.const("a")
    assert len(b) == 1
