"""The memory-lean gradient plan (accel/lean.py): what it keeps, what it frees, when it serves.

These tests were moved here from tests/test_reverse.py with the plan itself.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zoo import LagrangeOps, random_function, random_point

import lagrange_ad as la
from lagrange_ad.accel.dispatch import accelerator_for, use_reference
from lagrange_ad.accel.lean import LEAN_FORWARD, gradient_reads
from lagrange_ad.program.values import Reads
from lagrange_ad.tracing.tracer import traced_program

# what la.grad asks of the reverse schedule: the gradient alone, no residual
GRADIENT = Reads.by_schedule("reverse", {"check": False, "gradient_only": True})
WIDE = np.random.default_rng(6).standard_normal((30, 40))
DATA = np.random.default_rng(3).standard_normal((5, 4))


def lean_program(f, *point):
    """The program la.grad makes: values by the plan the dispatcher picks for its reads."""
    graph, forward = traced_program(f, *point, reads=GRADIENT)
    return la.Program.from_forward(graph, graph.point, forward)


def wide_layer(w, b):
    # large enough that the sweep goes by VJP rules rather than an assembled J
    return la.sum(la.tanh(WIDE @ w + b) * 0.5) + la.sum(la.exp(w) * w)


def wide_point(seed=7):
    rng = np.random.default_rng(seed)
    return 0.1 * rng.standard_normal((40, 30)), rng.standard_normal(30)


def data_layer(w, b):
    return la.sum(la.tanh(DATA @ w + b) ** 2.0) + la.sum(w * w)


def test_the_lean_plan_keeps_only_the_values_the_sweep_reads():
    point = wide_point()
    full = la.Program.from_function(wide_layer, *point)
    lean = lean_program(wide_layer, *point)
    graph = lean.graph
    dropped = [i for i in range(len(graph)) if not gradient_reads(graph)[i]]
    # WIDE @ w, its sum with b, the product by 0.5, the sum and exp(w) * w are read by no rule
    assert [graph.primitive(i).name for i in dropped] == ["matmul", "add", "mul", "sum", "mul",
                                                           "sum"]
    for i in range(len(graph)):
        if i in dropped:
            with pytest.raises(la.LagrangeADError, match=rf"v{i} was not computed: the values "
                                                         r"were computed by the memory-lean"):
                lean.values[i]
        else:
            np.testing.assert_array_equal(lean.values[i], full.values[i])
    got = la.solve(lean, gradient_only=True, check=False).gradient
    for g, want in zip(got, la.solve(full).gradient):
        np.testing.assert_allclose(g, want, rtol=1e-13, atol=1e-15)
    with pytest.raises(la.LagrangeADError, match=r"memory-lean gradient plan"):
        la.solve(lean, "forward")


def test_grad_agrees_with_the_full_program_whatever_the_options():
    point = wide_point(8)
    for got, want in zip(la.grad(wide_layer)(*point),
                         la.solve(la.Program.from_function(wide_layer, *point)).gradient):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)
    # options beyond the shortcut's keep every value, as the sweep they ask for needs them
    for options in ({"via": "jacobian"}, {"check": True}):
        reads = Reads.by_schedule("reverse", {"gradient_only": True, **options})
        assert accelerator_for("forward", la.trace(wide_layer, *point), reads) is None
        for got, want in zip(la.grad(wide_layer, **options)(*point),
                             la.grad(wide_layer)(*point)):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_the_plan_serves_dags_of_arrays_swept_by_rules_for_the_gradient_alone():
    wide = la.trace(wide_layer, *wide_point())
    assert accelerator_for("forward", wide, GRADIENT) is LEAN_FORWARD
    assert accelerator_for("forward", wide, Reads()) is None  # la.Program keeps every value
    assert accelerator_for("forward", wide, Reads.by_schedule("jacobi", {})) is None
    with use_reference():
        assert accelerator_for("forward", wide, GRADIENT) is None
    # scalar graphs, and graphs mostly of scalar nodes, sweep over the assembled J
    lecture = la.examples.lecture().graph
    assert accelerator_for("forward", lecture, GRADIENT) is not LEAN_FORWARD
    mostly_scalar = la.trace(lambda x, y: la.sin(x) * y + la.sum(la.stack([x, y])), 1.0, 2.0)
    assert accelerator_for("forward", mostly_scalar, GRADIENT) is None
    assert not lean_program(data_layer, np.ones((4, 3)), np.ones(3)).values.complete


def test_the_forward_reuses_only_memory_nobody_else_holds():
    # b is a view of the kept tanh value a; b + 1 must not be written into it
    def viewed(w):
        a = la.tanh(WIDE @ w)
        b = a.reshape((a.shape[1], a.shape[0]))
        return la.sum(la.exp(b + 1.0)) + la.sum(a * a)

    w = wide_point()[0]
    full = la.Program.from_function(viewed, w)
    lean = lean_program(viewed, w)
    tanh = next(i for i in range(len(full.graph)) if full.graph.primitive(i).name == "tanh")
    np.testing.assert_array_equal(lean.values[tanh], full.values[tanh])
    np.testing.assert_allclose(la.solve(lean, gradient_only=True, check=False).gradient[0],
                               la.solve(full).gradient[0], rtol=1e-13)


def test_an_overflow_in_place_is_reported_with_the_operands_it_overwrote():
    # exp writes into the memory of its operand (freed right after): the plan declines, and
    # the reference loop, which keeps every value, reports the node with its operand
    def overflowing(w):
        return la.sum(la.exp(WIDE @ w + 800.0) * 0.5)

    with pytest.raises(la.NonFiniteError, match=r"exp\(v4\).*: exp produced infinity from "
                                                 r"operands array of shape \(30, 30\) \(min 7"):
        lean_program(overflowing, np.ones((40, 30)))


def test_a_nonfinite_gradient_is_traced_to_its_node_with_values_dropped():
    # sqrt'(0) is infinite: the multiplier check fails, and the search for the culprit
    # evaluates the values that the lean program did not keep
    def root_layer(w):
        return la.sum(la.sqrt(la.tanh(WIDE @ w) ** 2.0))

    with pytest.raises(la.NonFiniteError, match=r"sqrt .* is not finite"):
        la.grad(root_layer)(np.zeros((40, 30)))


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
