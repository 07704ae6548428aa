"""Jacobians of several outputs: three modes, elimination orders and their multiplication counts."""

import numpy as np
import pytest
from zoo import traced

import lagrange_ad as la
from lagrange_ad.jacobians.elimination import EliminationOrderError, intermediate_entries

MODES = ("reverse", "forward", "elimination")
ORDERS = ("forward", "reverse", "markowitz")


def finite_difference_jacobian(program, outputs, h=1e-6):
    """Central differences of the output nodes' values in every input entry."""
    graph = program.graph
    columns = []
    for i in graph.inputs:
        for k in range(int(graph.sizes[i])):
            rows = []
            for sign in (1.0, -1.0):
                point = [np.array(x, dtype=float) for x in program.point]
                point[i].flat[k] += sign * h
                values = la.Program(graph, *point).values
                rows.append(np.concatenate([np.ravel(values[y]) for y in outputs]))
            columns.append((rows[0] - rows[1]) / (2 * h))
    return np.stack(columns, axis=1)


def three_of_four(a, b, c, d):
    return la.stack([a * b + la.sin(c), la.exp(d) * a, la.tanh(b - c * d)])


def three_of_four_closed_form(a, b, c, d):
    t = np.tanh(b - c * d)
    return np.array([[b, a, np.cos(c), 0.0],
                     [np.exp(d), 0.0, 0.0, a * np.exp(d)],
                     [0.0, 1 - t**2, -(1 - t**2) * d, -(1 - t**2) * c]])


def mlp_layer():
    rng = np.random.default_rng(3)
    w, x, b = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(3)
    graph = la.trace(lambda w, x, b: la.tanh(w @ x + b), w, x, b)
    return la.Program(graph), (w, x, b)


def test_three_outputs_of_four_inputs_agree_with_the_closed_form_in_every_mode():
    point = (0.7, -1.2, 0.4, 0.3)
    program = la.Program(la.trace(three_of_four, *point))
    expected = three_of_four_closed_form(*point)
    for mode in MODES:
        result = la.jacobian(program, mode=mode)
        assert result.matrix.shape == (3, 4) and result.mode == mode
        np.testing.assert_allclose(result.matrix, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(finite_difference_jacobian(program, [program.graph.output]),
                               expected, rtol=1e-7, atol=1e-9)


def test_mlp_layer_blocks_match_the_closed_form():
    program, (w, x, b) = mlp_layer()
    y = np.tanh(w @ x + b)
    slope = 1 - y**2
    expected = {0: np.einsum("i,ij,k->ijk", slope, np.eye(3), x),
                1: slope[:, None] * w,
                2: np.diag(slope)}
    out = program.graph.output
    for mode in MODES:
        result = la.jacobian(program, mode=mode)
        assert result.matrix.shape == (3, 12 + 4 + 3)
        for i, block in expected.items():
            assert result.blocks[(out, i)].shape == (3,) + program.graph.shape(i)
            np.testing.assert_allclose(result.blocks[(out, i)], block, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(la.jacobian(program).matrix,
                               finite_difference_jacobian(program, [out]), rtol=1e-6, atol=1e-8)


def test_intermediate_outputs_and_outputs_that_feed_each_other():
    # v3 = x*y feeds v5; the input x is itself an output; rows follow the order given
    program = la.Program(la.trace(lambda x, y: la.sin(x * y) + x, 0.6, -0.8))
    graph = program.graph
    mul = next(i for i in range(len(graph)) if graph.op_names[graph.op[i]] == "mul")
    outputs = [graph.output, mul, 0]
    expected = finite_difference_jacobian(program, outputs)
    for mode in MODES:
        result = la.jacobian(program, outputs=outputs, mode=mode)
        np.testing.assert_allclose(result.matrix, expected, rtol=1e-7, atol=1e-9)
        assert result.outputs == tuple(outputs)
        np.testing.assert_array_equal(result.matrix[2], [1.0, 0.0])
    for order in ORDERS:
        result = la.jacobian(program, outputs=outputs, mode="elimination", order=order)
        np.testing.assert_allclose(result.matrix, expected, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("seed", range(6))
def test_modes_and_orders_agree_on_random_array_graphs(seed):
    graph, _, _ = traced(seed, array=True, n_nodes=10)
    program = la.Program(graph)
    outputs = [len(graph) - 1, len(graph) - 3]
    reference = la.jacobian(program, outputs=outputs, mode="reverse").matrix
    assert reference.shape == (int(sum(graph.sizes[y] for y in outputs)), 27)
    np.testing.assert_allclose(reference, finite_difference_jacobian(program, outputs),
                               rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(la.jacobian(program, outputs, "forward").matrix, reference,
                               rtol=1e-12, atol=1e-12)
    explicit = list(intermediate_entries(program, outputs))
    np.random.default_rng(seed).shuffle(explicit)
    for order in ORDERS + (explicit,):
        result = la.jacobian(program, outputs, "elimination", order=order)
        np.testing.assert_allclose(result.matrix, reference, rtol=1e-12, atol=1e-12)
        assert sorted(result.order) == sorted(explicit)


def test_gradient_is_the_one_row_jacobian_and_sweeps_count_partials():
    program = la.examples.lecture().program()
    gradient = la.solve(program).gradient
    for mode in MODES:
        result = la.jacobian(program, mode=mode)
        np.testing.assert_allclose(result.matrix[0], np.ravel(gradient), rtol=1e-13)
    nnz = program.local_jacobian().nnz
    assert la.jacobian(program, mode="reverse").multiplications == nnz == 9
    assert la.jacobian(program, mode="forward").multiplications == 3 * nnz


def scalar_chain(length):
    b = la.GraphBuilder()
    node = b.input(name="x")
    for k in range(length):
        node = b.add(("sin", "tanh", "exp")[k % 3], node)
    return la.Program(b.build(output=node), 0.2)


def fan_out(m):
    """One input, a chain of two nodes, then m outputs: forward elimination is cheaper."""
    b = la.GraphBuilder()
    x = b.input()
    u = b.add("exp", b.add("sin", x))
    outs = [b.add("mul", u, b.const(float(k + 1))) for k in range(m)]
    return la.Program(b.build(output=outs[-1]), 0.5), outs


def fan_in(m):
    """m inputs summed, then a chain of two nodes to one output: reverse is cheaper."""
    b = la.GraphBuilder()
    x = b.input(shape=(m,))
    y = b.add("exp", b.add("sin", b.add("sum", x)))
    return la.Program(b.build(output=y), np.linspace(-1, 1, m))


def counts(program, outputs=None):
    return {order: la.jacobian(program, outputs, "elimination", order=order).multiplications
            for order in ORDERS}


def test_chain_costs_the_same_in_forward_and_reverse_order():
    program = scalar_chain(12)
    assert counts(program) == {"forward": 11, "reverse": 11, "markowitz": 11}
    result = la.jacobian(program, mode="elimination", order="reverse")
    assert result.order == tuple(range(11, 0, -1))
    np.testing.assert_allclose(result.matrix, la.jacobian(program).matrix, rtol=1e-14)


def test_one_input_many_outputs_favours_forward_elimination():
    m = 7
    program, outs = fan_out(m)
    measured = counts(program, outs)
    # forward: sin (1 x 1) then exp (1 x m); reverse: exp (1 x m) then sin (1 x m)
    assert measured == {"forward": m + 1, "reverse": 2 * m, "markowitz": m + 1}
    expected = np.exp(np.sin(0.5)) * np.cos(0.5) * np.arange(1, m + 1)
    np.testing.assert_allclose(la.jacobian(program, outs, "elimination").matrix[:, 0], expected,
                               rtol=1e-14)


def test_many_inputs_one_output_favours_reverse_elimination():
    m = 7
    program = fan_in(m)
    measured = counts(program)
    # forward: sum (m x 1), sin (m x 1), exp... reverse: exp, sin (1 x 1) then sum (m x 1)
    assert measured == {"forward": 2 * m, "reverse": m + 1, "markowitz": m + 1}
    np.testing.assert_allclose(la.jacobian(program, mode="elimination").matrix,
                               la.jacobian(program, mode="reverse").matrix, rtol=1e-14)


def test_markowitz_on_random_scalar_graphs_is_measured_and_exact():
    # Markowitz is a heuristic: it is not always the cheapest. Record the counts, check values.
    table = []
    for seed in range(8):
        program = la.examples.random_dag(24, n_inputs=3, window=6, seed=seed).program()
        graph = program.graph
        outputs = [len(graph) - 1, len(graph) - 2, len(graph) - 5]
        reference = la.jacobian(program, outputs, "reverse").matrix
        row = {}
        for order in ORDERS:
            result = la.jacobian(program, outputs, "elimination", order=order)
            np.testing.assert_allclose(result.matrix, reference, rtol=1e-12, atol=1e-14)
            row[order] = result.multiplications
        table.append(row)
    assert all(min(row.values()) > 0 for row in table)
    # measured on these seeds (not a theorem): never worse than both topological orders
    assert all(row["markowitz"] <= max(row["forward"], row["reverse"]) for row in table)
    assert sum(row["markowitz"] for row in table) <= min(sum(row["forward"] for row in table),
                                                         sum(row["reverse"] for row in table))


def test_constants_and_dead_branches_cost_nothing():
    # y = x * c with a constant c and an unused branch: only the one relevant edge remains
    b = la.GraphBuilder()
    x = b.input()
    c = b.add("exp", b.const(2.0))
    b.add("sin", x)
    y = b.add("mul", x, c)
    program = la.Program(b.build(output=y), 0.3)
    assert intermediate_entries(program) == ()
    result = la.jacobian(program, mode="elimination")
    assert result.multiplications == 0
    np.testing.assert_allclose(result.matrix, [[np.exp(2.0)]], rtol=1e-15)


def test_result_is_immutable_and_converts_to_an_array():
    program, _ = mlp_layer()
    result = la.jacobian(program)
    np.testing.assert_array_equal(np.asarray(result), result.matrix)
    with pytest.raises(ValueError):
        result.matrix[0, 0] = 1.0
    with pytest.raises(AttributeError):
        result.mode = "forward"


def test_bad_arguments_raise_named_errors():
    program = scalar_chain(4)
    intermediates = list(intermediate_entries(program))
    assert intermediates == [1, 2, 3]
    cases = [
        (dict(mode="elimination", order=[1, 2]), EliminationOrderError, "misses 1"),
        (dict(mode="elimination", order=[1, 2, 2, 3]), EliminationOrderError, "twice"),
        (dict(mode="elimination", order=[0, 1, 2, 3]), EliminationOrderError, "not an interm"),
        (dict(mode="elimination", order=[1.0, 2, 3]), EliminationOrderError, "an int"),
        (dict(mode="elimination", order="cheapest"), EliminationOrderError, "unknown elim"),
        (dict(mode="reverse", order="forward"), EliminationOrderError, "mode='elimination'"),
        (dict(mode="sideways"), la.UnknownMethodError, "unknown Jacobian mode"),
        (dict(outputs=[9]), la.GraphError, "does not exist"),
        (dict(outputs=[4, 4]), la.GraphError, "twice"),
        (dict(outputs=2.5), la.GraphError, "sequence"),
    ]
    for kwargs, error, text in cases:
        with pytest.raises(error, match=text):
            la.jacobian(program, **kwargs)
    with pytest.raises(la.LagrangeADError, match="needs a Program"):
        la.jacobian(program.graph)


def test_cyclic_graphs_are_refused():
    b = la.GraphBuilder()
    x = b.input()
    v = b.declare()
    b.define(v, "mul", b.add("tanh", b.add("mul", x, v)), x)
    program = la.Program(b.build(output=b.add("sin", v)), 0.3)
    for mode in MODES:
        with pytest.raises(la.CyclicGraphError):
            la.jacobian(program, mode=mode)
