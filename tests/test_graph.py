"""The graph: printing, immutability, validation, order, cycles, export and the builder."""

import copy
import dataclasses
import pickle
import re
import time

import networkx as nx
import numpy as np
import pytest
from zoo import small_cycle as cyclic_graph

import lagrange_ad as la
from lagrange_ad.errors import CyclicGraphError, GraphError, ShapeError, UnknownPrimitiveError

LECTURE_TEXT = """\
v0 = input x
v1 = input y
v2 = input z
v3 = v0 ** 2.0
v4 = exp(v2)
v5 = v1 * v4
v6 = v3 + v5
v7 = sin(v6)
v8 = v2 + v7
output: v8"""


def lecture_graph():
    return la.examples.lecture().graph


def scalar_graph(op_names, ops, parents, n_inputs, output=None, **extra):
    """A scalar Graph built directly from per-node primitive codes and parent lists."""
    n = len(ops)
    counts = [len(p) for p in parents]
    fields = dict(
        op_names=op_names, op=ops, parent_ptr=np.r_[0, np.cumsum(counts)],
        parent_idx=np.array([j for p in parents for j in p], np.int64),
        shape_table=((),), shape_id=np.zeros(n, np.int32),
        param_table=({"shape": ()}, {}), param_id=(np.arange(n) >= n_inputs).astype(np.int32),
        n_inputs=n_inputs, output=n - 1 if output is None else output,
    )
    fields.update(extra)
    return la.Graph(**fields)


def edges_of(graph):
    return [(int(j), i) for i in range(len(graph)) for j in graph.parents(i)]


def assert_topological(graph, order):
    assert sorted(order.tolist()) == list(range(len(graph)))
    position = np.empty(len(graph), np.int64)
    position[order] = np.arange(len(graph))
    for j, i in edges_of(graph):
        assert position[j] < position[i], f"v{j} comes after its child v{i}"


# ----------------------------------------------------------------- printing


def test_lecture_graph_prints_one_node_a_line():
    assert str(lecture_graph()) == LECTURE_TEXT


def test_builder_graph_prints_the_same_text_as_the_trace():
    b = la.GraphBuilder()
    x, y, z = b.input(name="x"), b.input(name="y"), b.input(name="z")
    d = b.add("add", b.add("pow", x, exponent=2.0), b.add("mul", y, b.add("exp", z)))
    b.add("add", z, b.add("sin", d))
    assert str(b.build()) == LECTURE_TEXT


def test_repr_counts_nodes_inputs_edges_and_output():
    assert repr(lecture_graph()) == "Graph(9 nodes, 3 inputs, 9 edges, output v8)"


def test_array_nodes_print_their_shape_and_parameters():
    graph = la.trace(lambda w, x: la.sum(la.softmax(w @ x, axis=0), axis=None),
                     np.ones((2, 3)), np.ones(3))
    assert str(graph).splitlines() == [
        "v0 = input w  # shape (2, 3)",
        "v1 = input x  # shape (3,)",
        "v2 = v0 @ v1  # shape (2,)",
        "v3 = softmax(v2, axis=0)  # shape (2,)",
        "v4 = sum(v3, axis=None)",
        "output: v4",
    ]
    assert graph.describe(2) == "v2 = v0 @ v1  # shape (2,)"
    assert graph.name(0) == "v0 (w)" and graph.name(2) == "v2"


def test_a_boolean_mask_still_prints_on_one_line():
    mask = np.array([[True, False, True], [False, True, True]])
    graph = la.trace(lambda x: la.sum(x[mask]), np.ones((2, 3)))
    lines = str(graph).splitlines()
    assert len(lines) == len(graph) + 1
    assert lines[1].startswith("v1 = v0[") and lines[1].endswith("# shape (4,)")


# ----------------------------------------------------------------- immutability


def test_graph_is_a_frozen_dataclass():
    graph = lecture_graph()
    assert dataclasses.is_dataclass(graph)
    for name in ("output", "n_inputs", "op", "names", "point"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(graph, name, getattr(graph, name))


def test_arrays_of_a_graph_are_read_only():
    graph = la.trace(lambda x, y: la.sum(x * y), np.ones(3), np.ones(3))
    arrays = [graph.op, graph.parent_ptr, graph.parent_idx, graph.shape_id, graph.param_id,
              graph.sizes, graph.offsets, *graph.children, *graph.point, graph.levels(),
              declared_graph().levels()]
    for array in arrays:
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0


def test_names_and_parameters_of_a_graph_cannot_be_changed():
    graph = la.trace(lambda x: x[np.array([0, 2])] ** 3, np.ones(3))
    with pytest.raises(TypeError, match="immutable"):
        graph.names[0] = "other"
    with pytest.raises(TypeError, match="immutable"):
        graph.params(2)["exponent"] = 2.0
    with pytest.raises(ValueError, match="read-only"):
        graph.params(1)["index"][0] = 1
    assert graph.names == {0: "x"} and graph.params(2) == {"exponent": 3.0}


def test_a_graph_does_not_share_arrays_with_its_maker():
    point = np.array([1.0, 2.0, 3.0])
    index = np.array([0, 2])
    graph = la.trace(lambda x: la.sum(x[index]), point)
    point[0], index[0] = 100.0, 1
    np.testing.assert_array_equal(graph.point[0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(graph.params(1)["index"], [0, 2])
    assert float(la.Program(graph).output_value) == 4.0


def test_building_again_leaves_earlier_graphs_unchanged():
    b = la.GraphBuilder()
    x = b.input(name="x")
    b.add("sin", x)
    first = b.build()
    b.add("cos", 1)
    second = b.build()
    assert len(first) == 2 and len(second) == 3
    assert str(first) == "v0 = input x\nv1 = sin(v0)\noutput: v1"


def test_graphs_pickle_and_copy():
    graph = la.trace(lambda x: la.sum(x[np.array([0, 2])] ** 2), np.arange(3.0))
    for clone in (pickle.loads(pickle.dumps(graph)), copy.deepcopy(graph)):
        assert str(clone) == str(graph) and clone.names == graph.names
        np.testing.assert_array_equal(clone.params(1)["index"], [0, 2])
        assert float(la.Program(clone).output_value) == 4.0


# ----------------------------------------------------------------- validation


def sin_graph(**overrides):
    """``v0 = input, v1 = sin(v0)`` built directly, with some fields replaced."""
    fields = dict(op_names=("input", "sin"), op=[0, 1], parent_ptr=[0, 0, 1], parent_idx=[0],
                  shape_table=((),), shape_id=[0, 0], param_table=({"shape": ()}, {}),
                  param_id=[0, 1], n_inputs=1, output=1)
    fields.update(overrides)
    return la.Graph(**fields)


def test_a_direct_graph_is_valid():
    assert str(sin_graph()) == "v0 = input\nv1 = sin(v0)\noutput: v1"


@pytest.mark.parametrize("overrides, error, pattern", [
    (dict(parent_idx=[5]), GraphError, r"v1 names parent v5, which does not exist"),
    (dict(parent_idx=[-1]), GraphError, r"v1 names parent v-1, which does not exist"),
    (dict(parent_ptr=[0, 0, 2], parent_idx=[0, 0]), GraphError,
     r"node v1: primitive 'sin' takes 1 operand\(s\), got 2"),
    (dict(parent_ptr=[0, 0, 0], parent_idx=[]), GraphError, r"'sin' takes 1 operand\(s\), got 0"),
    (dict(op=[1, 0], parent_ptr=[0, 1, 1], parent_idx=[1]), GraphError,
     r"inputs must be nodes v0..v0; node v0 is not an input"),
    (dict(n_inputs=0), GraphError, r"node v0 is an input"),
    (dict(n_inputs=3), GraphError, r"n_inputs = 3 is not between 0 and 2"),
    (dict(output=2), GraphError, r"output node v2 does not exist \(the graph has 2 nodes\)"),
    (dict(output=-1), GraphError, r"output node v-1 does not exist"),
    (dict(output=1.0), GraphError, r"output must be an int; got 1.0"),
    (dict(n_inputs=True), GraphError, r"n_inputs must be an int; got True"),
    (dict(names={2: "z"}), GraphError, r"names: node v2 does not exist"),
    (dict(names={"x": "z"}), GraphError, r"a named node must be an int; got 'x'"),
    (dict(parent_ptr=[0, 2, 1]), GraphError, r"parent_ptr must start at 0, never decrease"),
    (dict(parent_ptr=[0, 1]), GraphError, r"parent_ptr must start at 0"),
    (dict(op=[0, 2]), GraphError, r"op must hold one valid table index per node"),
    (dict(shape_id=[0, 1]), GraphError, r"shape_id must hold one valid table index"),
    (dict(param_id=[0]), GraphError, r"param_id must hold one valid table index"),
    (dict(op_names=("input", "frobnicate")), UnknownPrimitiveError, r"'frobnicate'.*sin"),
    (dict(param_table=({"shape": ()}, {"foo": 1})), GraphError,
     r"node v1: primitive 'sin' has no parameter 'foo'; its parameters are: none"),
    (dict(op_names=("input", "pow")), GraphError,
     r"node v1: primitive 'pow' needs the parameter 'exponent'"),
    (dict(op_names=("input", "sum"), param_table=({"shape": ()}, {"axis": "a"})), GraphError,
     r"primitive sum: bad parameters \{'axis': 'a'\}"),
    (dict(param_table=({"shape": ()}, None)), GraphError, r"param_table must hold one mapping"),
    (dict(point=("a",)), GraphError, r"point must hold one number or array of numbers"),
    (dict(shape_table=((), (3,)), shape_id=[0, 1]), ShapeError,
     r"node v1 = sin\(v0\) is declared with shape \(3,\) but sin of shapes \[\(\)\] gives \(\)"),
    (dict(shape_table=((3,), (4,)), shape_id=[0, 1], param_table=({"shape": (3,)}, {})),
     ShapeError, r"declared with shape \(4,\) but sin of shapes \[\(3,\)\] gives \(3,\)"),
])
def test_direct_construction_is_validated(overrides, error, pattern):
    with pytest.raises(error, match=pattern):
        sin_graph(**overrides)


def test_operand_shapes_that_do_not_fit_are_refused():
    with pytest.raises(ShapeError, match=r"v2 = v0 \+ v1: operand shapes \(3,\), \(4,\) do not"):
        la.Graph(op_names=("input", "add"), op=[0, 0, 1], parent_ptr=[0, 0, 0, 2],
                 parent_idx=[0, 1], shape_table=((3,), (4,)), shape_id=[0, 1, 0],
                 param_table=({"shape": ()}, {}), param_id=[0, 0, 1], n_inputs=2, output=2)


def test_a_scalar_graph_cannot_declare_an_array_result_as_a_scalar():
    # stack of two scalars has shape (2,): the all-scalar fast path must notice
    with pytest.raises(ShapeError, match=r"v2 = stack\(v0, v0, axis=0\) is declared as a scalar"
                                         r" but stack of 2 scalar\(s\) gives shape \(2,\)"):
        scalar_graph(("input", "sin", "stack"), [0, 1, 2], [[], [0], [0, 0]], 1,
                     param_table=({"shape": ()}, {}, {"axis": 0}), param_id=[0, 1, 2])


def test_a_variadic_primitive_needs_an_operand():
    with pytest.raises(GraphError, match=r"'concatenate' takes at least 1 operand"):
        la.Graph(op_names=("input", "concatenate"), op=[0, 1], parent_ptr=[0, 0, 0],
                 parent_idx=[], shape_table=((3,),), shape_id=[0, 0],
                 param_table=({"shape": (3,)}, {"axis": 0}), param_id=[0, 1], n_inputs=1,
                 output=1)


# ----------------------------------------------------------------- order and levels


def declared_graph():
    """``v1 = cos(v2)`` is declared before its parent ``v2 = sin(v0)`` exists."""
    b = la.GraphBuilder()
    x = b.input(name="x")
    a = b.declare()
    c = b.add("sin", x)
    b.define(a, "cos", c)
    b.add("add", a, c)
    return b.build()


def test_forward_declared_nodes_are_ordered_after_their_parents():
    graph = declared_graph()
    assert str(graph) == ("v0 = input x\nv1 = cos(v2)\nv2 = sin(v0)\nv3 = v1 + v2\n"
                          "output: v3")
    assert not graph.parents_precede_children and graph.is_acyclic
    np.testing.assert_array_equal(graph.topological_order(), [0, 2, 1, 3])
    np.testing.assert_array_equal(graph.levels(), [0, 2, 1, 3])
    assert graph.depth == 3
    program = la.Program(graph, 0.3)
    assert float(program.output_value) == pytest.approx(np.cos(np.sin(0.3)) + np.sin(0.3),
                                                        rel=1e-15)
    # d/dx [cos(sin x) + sin x] = cos x (1 - sin(sin x))
    assert float(la.solve(program).gradient[0]) == pytest.approx(
        np.cos(0.3) * (1 - np.sin(np.sin(0.3))), rel=1e-14)


def permuted_random_dag(n, seed):
    """A random scalar DAG whose non-input nodes are numbered in a shuffled order."""
    example = la.examples.random_dag(n=n, n_inputs=3, window=10, seed=seed)
    graph = example.graph
    rng = np.random.default_rng(seed)
    new_of_old = np.r_[np.arange(3), 3 + rng.permutation(n - 3)]
    old_of_new = np.argsort(new_of_old)
    parents = [new_of_old[graph.parents(int(old))] for old in old_of_new]
    permuted = la.Graph(
        op_names=graph.op_names, op=graph.op[old_of_new],
        parent_ptr=np.r_[0, np.cumsum([len(p) for p in parents])],
        parent_idx=np.concatenate(parents).astype(np.int64), shape_table=graph.shape_table,
        shape_id=graph.shape_id[old_of_new], param_table=graph.param_table,
        param_id=graph.param_id[old_of_new], n_inputs=3, output=int(new_of_old[graph.output]),
        point=graph.point)
    return graph, permuted, new_of_old


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_order_and_levels_of_a_dag_whose_indices_are_not_topological(seed):
    graph, permuted, new_of_old = permuted_random_dag(300, seed)
    assert not permuted.parents_precede_children and permuted.is_acyclic
    order = permuted.topological_order()
    assert_topological(permuted, order)
    np.testing.assert_array_equal(permuted.levels()[new_of_old], graph.levels())
    nxg = permuted.to_networkx()
    assert permuted.depth == graph.depth == nx.dag_longest_path_length(nxg)
    for i in range(len(permuted)):
        parent_levels = permuted.levels()[permuted.parents(i)]
        assert permuted.levels()[i] == (parent_levels.max() + 1 if parent_levels.size else 0)
    # the same program, just renumbered
    np.testing.assert_allclose(la.Program(permuted).values.flat[new_of_old],
                               la.Program(graph).values.flat, rtol=0, atol=0)


def test_index_order_is_used_when_it_is_topological():
    graph = lecture_graph()
    assert graph.parents_precede_children
    np.testing.assert_array_equal(graph.topological_order(), np.arange(9))
    np.testing.assert_array_equal(graph.levels(), [0, 0, 0, 1, 1, 2, 3, 4, 5])
    assert graph.depth == 5


def test_topological_order_of_a_million_node_chain_numbered_backwards():
    # v0 is the input, v_{n-1} = sin(v0) and v_i = sin(v_{i+1}): no recursion, no index order
    n = 10**6
    graph = la.Graph(op_names=("input", "sin"), op=np.r_[0, np.ones(n - 1, np.int32)],
                     parent_ptr=np.r_[0, np.arange(n)], parent_idx=np.r_[np.arange(2, n), 0],
                     shape_table=((),), shape_id=np.zeros(n, np.int32),
                     param_table=({"shape": ()}, {}), param_id=np.r_[0, np.ones(n - 1, np.int32)],
                     n_inputs=1, output=1)
    start = time.perf_counter()
    order = graph.topological_order()
    elapsed = time.perf_counter() - start
    np.testing.assert_array_equal(order[:3], [0, n - 1, n - 2])
    np.testing.assert_array_equal(order[-2:], [2, 1])
    assert graph.depth == n - 1
    assert elapsed < 20


def test_children_are_the_transpose_of_the_parents():
    graph = la.trace(lambda x, y: x * x + la.sin(y) * x, 1.0, 2.0)
    ptr, idx = graph.children
    children = {(j, int(i)) for j in range(len(graph)) for i in idx[ptr[j]:ptr[j + 1]]}
    assert children == set(edges_of(graph))
    # x * x lists v0 twice as a parent of v2: one child entry per operand
    assert idx[ptr[0]:ptr[1]].tolist().count(2) == 2


# ----------------------------------------------------------------- cycles




@pytest.mark.parametrize("operation", ["levels", "topological_order", "depth"])
def test_a_cycle_gives_cyclic_graph_error_naming_it(operation):
    graph = cyclic_graph()
    assert not graph.is_acyclic
    with pytest.raises(CyclicGraphError, match=r"cycle through v1, v2; this operation needs a DAG"):
        getattr(graph, operation)() if operation != "depth" else graph.depth


def test_a_self_loop_is_a_cycle():
    graph = sin_graph(parent_idx=[1])
    assert not graph.is_acyclic
    with pytest.raises(CyclicGraphError, match=r"cycle through v1;"):
        graph.topological_order()
    assert [c.tolist() for c in graph.strongly_connected_components()] == [[0], [1]]


def test_cyclic_graph_error_is_a_graph_error():
    assert issubclass(CyclicGraphError, GraphError)
    assert issubclass(CyclicGraphError, la.LagrangeADError)


def random_cyclic_graph(n, n_back, seed):
    """A chain-like scalar graph with ``n_back`` extra edges from later to earlier nodes."""
    rng = np.random.default_rng(seed)
    parents = [[]] + [[int(rng.integers(0, i))] for i in range(1, n)]
    for _ in range(n_back):
        i = int(rng.integers(1, n))
        j = int(rng.integers(1, n))
        parents[i] = [parents[i][0], j]
    names = ("input", "sin", "add")
    ops = [0] + [len(p) for p in parents[1:]]
    return scalar_graph(names, ops, parents, 1)


def scc_sets(components):
    return sorted(sorted(int(i) for i in c) for c in components)


def assert_scc_matches_networkx(graph):
    components = graph.strongly_connected_components()
    expected = scc_sets(nx.strongly_connected_components(graph.to_networkx()))
    assert scc_sets(components) == expected
    # components come parents first: every edge runs forward in the component order
    where = np.empty(len(graph), np.int64)
    for k, c in enumerate(components):
        assert c.tolist() == sorted(c.tolist())
        where[c] = k
    for j, i in edges_of(graph):
        assert where[j] <= where[i]


def test_strongly_connected_components_of_hand_made_graphs():
    b = la.GraphBuilder()
    x = b.input()
    a, c, d = b.declare(), b.declare(), b.declare()
    b.define(a, "sin", c)            # a <- c
    b.define(c, "mul", a, x)         # c <- a: cycle {a, c}
    b.define(d, "add", d, c)         # self-loop on d
    e = b.add("cos", d)
    f = b.declare()
    g = b.add("add", e, f)
    b.define(f, "sin", g)            # cycle {f, g}
    graph = b.build()
    assert_scc_matches_networkx(graph)
    components = [c.tolist() for c in graph.strongly_connected_components()]
    assert components == [[0], [1, 2], [3], [4], [5, 6]]
    assert_scc_matches_networkx(lecture_graph())


@pytest.mark.parametrize("seed", range(6))
def test_strongly_connected_components_of_random_cyclic_graphs(seed):
    graph = random_cyclic_graph(60, n_back=1 + seed * 3, seed=seed)
    assert_scc_matches_networkx(graph)
    assert graph.is_acyclic == nx.is_directed_acyclic_graph(graph.to_networkx())


def test_strongly_connected_components_of_a_deep_chain_with_a_cycle_at_the_end():
    # v_i = sin(v_{i+1}) for i < m-2, numbered backwards so the search must go 10^5 deep;
    # v_{m-1} = v0 + v_{m-2} and v_{m-2} = sin(v_{m-1}) close a two-node cycle at the far end
    m = 10**5
    graph = la.Graph(op_names=("input", "sin", "add"), op=np.r_[0, np.ones(m - 2, np.int32), 2],
                     parent_ptr=np.r_[0, np.arange(m - 1), m], parent_idx=np.r_[2:m, 0, m - 2],
                     shape_table=((),), shape_id=np.zeros(m, np.int32),
                     param_table=({"shape": ()}, {}), param_id=np.r_[0, np.ones(m - 1, np.int32)],
                     n_inputs=1, output=1)
    assert graph.parents(m - 1).tolist() == [0, m - 2] and graph.parents(1).tolist() == [2]
    components = graph.strongly_connected_components()
    assert len(components) == m - 1
    assert [c.tolist() for c in components if c.size > 1] == [[m - 2, m - 1]]
    assert components[0].tolist() == [0] and components[-1].tolist() == [1]
    owner = np.repeat(np.arange(m), np.diff(graph.parent_ptr))
    reference = nx.DiGraph(zip(graph.parent_idx.tolist(), owner.tolist()))
    assert scc_sets(components) == scc_sets(nx.strongly_connected_components(reference))
    with pytest.raises(CyclicGraphError, match=f"v{m - 2}, v{m - 1}"):
        graph.levels()


# ----------------------------------------------------------------- export


def test_to_networkx_carries_nodes_edges_and_attributes():
    graph = la.trace(lambda x, y: x * x + la.sum(y), 2.0, np.ones(3))
    g = graph.to_networkx()
    assert isinstance(g, nx.MultiDiGraph)
    assert g.graph == {"output": graph.output, "n_inputs": 2}
    assert list(g.nodes) == list(range(len(graph)))
    for i in range(len(graph)):
        attrs = g.nodes[i]
        assert attrs["primitive"] == graph.op_names[graph.op[i]]
        assert attrs["shape"] == graph.shape(i)
        assert attrs["label"] == graph.describe(i)
        assert attrs["name"] == graph.names.get(i)
    assert g.nodes[0]["name"] == "x" and g.nodes[1]["shape"] == (3,)
    # x * x: two parallel edges v0 -> v2 keyed by operand position
    assert sorted(g.get_edge_data(0, 2)) == [0, 1]
    assert sorted((u, v, k) for u, v, k in g.edges(keys=True)) == sorted(
        (j, i, k) for i in range(len(graph)) for k, j in enumerate(graph.parents(i).tolist()))
    assert nx.is_directed_acyclic_graph(g) and graph.is_acyclic


def test_to_networkx_agrees_on_acyclicity():
    assert not nx.is_directed_acyclic_graph(cyclic_graph().to_networkx())
    assert nx.is_directed_acyclic_graph(declared_graph().to_networkx())


def test_to_dot_is_well_formed():
    graph = la.trace(lambda x, y: x * x + la.sin(y), 2.0, 1.0)
    dot = graph.to_dot()
    lines = dot.splitlines()
    assert lines[0] == "digraph computation {" and lines[-1] == "}"
    assert dot.count("{") == dot.count("}") == 1
    for line in lines[1:-1]:
        assert line.endswith(";") and line.count('"') % 2 == 0
    nodes = [line for line in lines if re.match(r"  v\d+ \[label=", line)]
    edges = [line for line in lines if "->" in line]
    assert len(nodes) == len(graph)
    for i in range(len(graph)):
        assert f'  v{i} [label="{graph.describe(i)}"' in dot
    assert len(edges) == graph.parent_idx.size
    for i in range(len(graph)):
        parents = graph.parents(i).tolist()
        for position, j in enumerate(parents):
            tag = f' [label="{position}"]' if len(parents) > 1 else ""
            assert f"  v{j} -> v{i}{tag};" in edges
    assert f"  v{graph.output} [label=" in dot and "style=bold" in nodes[graph.output]
    assert sum("style=bold" in line for line in nodes) == 1


def test_to_dot_adds_node_labels_and_escapes_quotes():
    graph = lecture_graph()
    dot = graph.to_dot({7: 'lam = "0.99"', 8: "two\nlines"})
    assert r'v7 [label="v7 = sin(v6)\nlam = \"0.99\""];' in dot
    assert r'v8 [label="v8 = v2 + v7\ntwo\nlines", style=bold];' in dot
    assert len(dot.splitlines()) == 3 + len(graph) + graph.parent_idx.size + 1


def test_to_dot_parses_when_pydot_is_installed():
    pydot = pytest.importorskip("pydot")
    graph = lecture_graph()
    (parsed,) = pydot.graph_from_dot_data(graph.to_dot({7: 'lam = "0.99"'}))
    assert len(parsed.get_edges()) == graph.parent_idx.size
    assert len([n for n in parsed.get_nodes() if re.fullmatch(r"v\d+", n.get_name())]) == 9


# ----------------------------------------------------------------- the builder


def test_add_many_builds_a_chain_from_negative_relative_parents():
    b = la.GraphBuilder()
    x = b.input(name="x")
    nodes = b.add_many("sin", np.r_[x, -np.ones(998, np.int64)])
    np.testing.assert_array_equal(nodes, np.arange(1, 1000))
    graph = b.build()
    assert len(graph) == 1000 and graph.parents_precede_children
    assert all(graph.parents(i).tolist() == [i - 1] for i in range(1, 1000))
    value = 0.3
    for _ in range(999):
        value = np.sin(value)
    assert float(la.Program(graph, 0.3).output_value) == value


def test_add_many_with_two_operands_and_broadcasting():
    b = la.GraphBuilder()
    x, y, s = b.input((3,)), b.input((2, 1)), b.input()
    nodes = b.add_many("mul", [[x, y], [y, x], [-2, -1], [-1, s]])
    np.testing.assert_array_equal(nodes, [3, 4, 5, 6])
    graph = b.build()
    assert [graph.shape(i) for i in nodes] == [(2, 3)] * 4
    assert [graph.parents(i).tolist() for i in nodes] == [[0, 1], [1, 0], [3, 4], [5, 2]]
    xv, yv, sv = np.array([1.0, 2.0, 3.0]), np.array([[2.0], [-1.0]]), 0.5
    program = la.Program(graph, xv, yv, sv)
    np.testing.assert_array_equal(program.values[6], (xv * yv) * (yv * xv) * sv)


def test_add_many_shares_parameters_and_names_shapes_by_row():
    b = la.GraphBuilder()
    x = b.input((2, 3))
    nodes = b.add_many("sum", [[x], [x]], axis=0)
    graph = b.build()
    assert graph.shape(int(nodes[0])) == (3,) and graph.params(int(nodes[1])) == {"axis": 0}
    assert graph.param_id[nodes[0]] == graph.param_id[nodes[1]]


def test_add_many_of_nothing_adds_nothing():
    b = la.GraphBuilder()
    b.input()
    assert b.add_many("sin", np.zeros((0, 1), np.int64)).size == 0
    assert len(b) == 1


def test_add_many_accepts_declared_parents_of_the_right_shape():
    b = la.GraphBuilder()
    x = b.input()
    d = b.declare()
    b.add_many("sin", [[d], [-1]])
    b.define(d, "cos", x)
    assert str(b.build()) == "v0 = input\nv1 = cos(v0)\nv2 = sin(v1)\nv3 = sin(v2)\noutput: v3"


def test_batches_between_single_nodes_freeze_to_the_arrays_add_gives():
    rng = np.random.default_rng(3)
    batched, single = la.GraphBuilder(), la.GraphBuilder()
    for b in (batched, single):
        b.input()
        b.input()
    for name, arity, k in [("sin", 1, 5), ("mul", 2, 4), ("tanh", 1, 1), ("add", 2, 6)]:
        first = len(batched)
        # absolute parents, some of them new nodes of the same batch
        rows = np.stack([rng.integers(0, first + r, arity) for r in range(k)])
        batched.add_many(name, rows)
        for row in rows.tolist():
            single.add(name, *row)
        for b in (batched, single):
            b.add("cos", first)
    one, other = batched.build(), single.build()
    for field in ("op", "parent_ptr", "parent_idx", "shape_id", "param_id"):
        np.testing.assert_array_equal(getattr(one, field), getattr(other, field))
        assert getattr(one, field).dtype == getattr(other, field).dtype
    assert str(one) == str(other)
    np.testing.assert_array_equal(la.Program(one, 0.3, -0.8).values.flat,
                                  la.Program(other, 0.3, -0.8).values.flat)


def test_add_many_copies_the_parents_it_is_given():
    b = la.GraphBuilder()
    x = b.input()
    parents = np.array([[x], [-1], [-2]])
    b.add_many("sin", parents)
    assert parents.tolist() == [[0], [-1], [-2]]  # relative entries resolved in the copy
    parents[:] = 0
    graph = b.build()
    assert graph.parent_idx.tolist() == [0, 1, 1] and not graph.parent_idx.flags.writeable
    assert b.build().parent_idx is not graph.parent_idx


def builder_with_inputs():
    b = la.GraphBuilder()
    b.input((3,))
    b.input((4,))
    return b


@pytest.mark.parametrize("primitive, parents, params, error, pattern", [
    ("add", [[0]], {}, GraphError, r"'add' takes 2 operand\(s\), got 1"),
    ("sin", [[5]], {}, GraphError, r"row 0 names parents \[5\], which are not earlier nodes"),
    ("sin", [[0], [3]], {}, GraphError, r"row 1 names parents \[3\].*becomes node v3"),
    ("sin", [[-5]], {}, GraphError, r"row 0 names parents \[-3\]"),
    ("sin", np.zeros((1, 1, 1), np.int64), {}, GraphError, r"must be a \(k, arity\) array"),
    ("sin", [[0.5]], {}, GraphError, r"integer array of node indices; got dtype float64"),
    ("sin", [["a"]], {}, GraphError, r"integer array of node indices"),
    ("frobnicate", [[0]], {}, UnknownPrimitiveError, r"unknown primitive 'frobnicate'"),
    ("add", [[0, 1]], {}, ShapeError, r"add_many add of shapes \[\(3,\), \(4,\)\]"),
    ("add", [[0, 0], [1, 1]], {}, ShapeError, r"different output shapes \(3,\) and \(4,\)"),
    ("sum", [[0]], {"axis": 1}, ShapeError, r"axis 1 is out of range"),
    ("sum", [[0]], {"keepdims": True}, GraphError, r"'sum' has no parameter 'keepdims'"),
    ("pow", [[0]], {}, GraphError, r"'pow' needs the parameter 'exponent'"),
    ("const", np.zeros((2, 0), np.int64), {}, GraphError, r"use GraphBuilder.const\(\)"),
    ("input", np.zeros((2, 0), np.int64), {}, GraphError, r"use GraphBuilder.input\(\)"),
])
def test_add_many_errors(primitive, parents, params, error, pattern):
    b = builder_with_inputs()
    with pytest.raises(error, match=pattern):
        b.add_many(primitive, parents, **params)
    assert len(b) == 2


@pytest.mark.parametrize("call, error, pattern", [
    (lambda b: b.add("sin", 7), GraphError, r"parent 0 of sin v7 does not exist"),
    (lambda b: b.add("sin", True), GraphError, r"must be a node index \(an int\); got True"),
    (lambda b: b.add("sin", 0.0), GraphError, r"must be a node index \(an int\); got 0.0"),
    (lambda b: b.add("mul", 0), GraphError, r"'mul' takes 2 operand\(s\), got 1"),
    (lambda b: b.add("add", 0, 1), ShapeError, r"add of v0 \(shape \(3,\)\), v1 \(shape \(4,\)\)"),
    (lambda b: b.add("sin", 0, foo=1), GraphError, r"'sin' has no parameter 'foo'; its "
                                                   r"parameters are: none"),
    (lambda b: b.add("pow", 0), GraphError, r"'pow' needs the parameter 'exponent'"),
    (lambda b: b.add("reshape", 0, shape=(2, 2)), ShapeError, r"reshape cannot take"),
    (lambda b: b.add("getitem", 0, index=5), ShapeError, r"index 5 is out of bounds"),
    (lambda b: b.add("frobnicate", 0), UnknownPrimitiveError, r"registered primitives are"),
    (lambda b: b.add("input"), GraphError, r"use GraphBuilder.input\(\) to add an input node"),
    (lambda b: (b.add("sin", 0), b.input()), GraphError, r"inputs must come first"),
    (lambda b: b.build(output=9), GraphError, r"output v9 does not exist"),
    (lambda b: b.define(0, "sin", 0), GraphError, r"v0 was not declared"),
    (lambda b: (b.declare(), b.build()), GraphError, r"declared nodes were never defined: v2"),
    (lambda b: b.define(b.declare(), "sin", 0), ShapeError,
     r"v2 was declared with shape \(\) but sin gives shape \(3,\)"),
])
def test_builder_errors(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call(builder_with_inputs())


def test_an_empty_builder_builds_nothing():
    with pytest.raises(GraphError, match="the graph has no nodes"):
        la.GraphBuilder().build()


def test_a_node_cannot_be_defined_twice():
    b = la.GraphBuilder()
    x = b.input()
    d = b.declare()
    b.define(d, "sin", x)
    with pytest.raises(GraphError, match=r"v1 was not declared \(or is already defined\)"):
        b.define(d, "cos", x)


def test_builder_shares_tables_between_equal_shapes_and_parameters():
    b = la.GraphBuilder()
    x = b.input((2, 3), name="x")
    for _ in range(5):
        b.add("sum", x, axis=1)
    b.const(np.ones((2, 3)))
    graph = b.build()
    assert len(graph.shape_table) == 2 and len(graph.param_table) == 3
    assert graph.describe(6) == "v6 = const  # shape (2, 3)"
