"""Scopes: la.scope labels nodes; builders, pickling, validation and unrolling keep the labels;
drawings group a scope's nodes (DOT clusters, one box per scope when collapsed)."""

import pickle
import re

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.cli import main
from lagrange_ad.errors import GraphError, LagrangeADError
from lagrange_ad.report import drawing


def layered(x, w):
    """Two residual layers, each with an attention-like and a feed-forward part."""
    h = x
    for k in range(2):
        with la.scope(f"layers.{k}"):
            with la.scope("attn"):
                a = la.tanh(w @ h)
            with la.scope("mlp"):
                h = h + la.sin(a) * a
    return la.sum(h * h)


def layered_point():
    return np.linspace(-1.0, 1.0, 3), np.arange(9.0).reshape(3, 3) / 10


def test_nested_scopes_join_with_dots_and_values_do_not_change():
    graph = la.trace(layered, *layered_point())
    paths = [graph.scopes.get(i, "") for i in range(len(graph))]
    assert paths[:2] == ["", ""]  # the inputs, made before any scope
    assert set(paths) == {"", "layers.0.attn", "layers.0.mlp", "layers.1.attn", "layers.1.mlp"}
    for i, path in graph.scopes.items():
        primitive = graph.op_names[graph.op[i]]
        assert primitive in (("matmul", "tanh") if path.endswith("attn") else ("sin", "mul",
                                                                               "add"))
    # the last node (the loss) is outside every scope
    assert graph.output not in graph.scopes
    x, w = layered_point()
    gradient = la.grad(layered)(x, w)
    step, d = 1e-6, np.random.default_rng(0).standard_normal(x.shape)
    fd = (layered(x + step * d, w) - layered(x - step * d, w)) / (2 * step)
    assert np.isclose(np.dot(gradient[0], d), fd, rtol=1e-6)


def test_scopes_reach_the_scalar_fast_path_and_explicit_builders():
    def scalar(x, y):
        with la.scope("block"):
            z = x * y + x - y / x  # recorded by the scalar tape's list appends
        return z * z

    graph = la.trace(scalar, 1.5, 0.5)
    with la.use_reference():
        reference = la.trace(scalar, 1.5, 0.5)
    assert dict(graph.scopes) == dict(reference.scopes)
    assert set(graph.scopes.values()) == {"block"} and len(graph.scopes) == 4
    b = la.GraphBuilder()
    x = b.input(name="x")
    with la.scope("outer"):
        y = b.add("sin", x)
        with la.scope("inner") as path:
            assert path == "outer.inner"
            z = b.add("exp", y)
    b.add("add", y, z)
    b.set_scope(x, "given")
    graph = b.build()
    assert dict(graph.scopes) == {0: "given", 1: "outer", 2: "outer.inner"}


def test_scopes_survive_pickling_unrolling_and_export():
    graph = la.trace(layered, *layered_point())
    clone = pickle.loads(pickle.dumps(graph))
    assert dict(clone.scopes) == dict(graph.scopes)
    with pytest.raises(TypeError, match="immutable"):
        graph.scopes[0] = "x"
    assert la.unroll(graph, 2).graph.scopes == graph.scopes  # a DAG is copied node for node
    nx_graph = graph.to_networkx()
    assert nx_graph.nodes[2]["scope"] == graph.scopes[2]


def test_unrolling_keeps_the_scope_of_every_copy():
    b = la.GraphBuilder()
    x = b.input(name="x")
    with la.scope("solver"):
        z = b.declare(())
        b.define(z, "add", b.add("mul", b.const(0.5), b.add("sin", z)), x)
    b.add("mul", z, z)
    graph = b.build(point=(0.3,))
    unrolled = la.unroll(graph, 3)
    for i, copies in enumerate(unrolled.copies):
        for c in copies:
            assert unrolled.graph.scopes.get(c) == graph.scopes.get(i)


@pytest.mark.parametrize(("scopes", "message"), [
    ({5: "a"}, r"scopes: node v5 does not exist"),
    ({1: ""}, r"scope of node v1 must be a non-empty string"),
    ({1: 3}, r"scope of node v1 must be a non-empty string"),
])
def test_invalid_scopes_are_refused(scopes, message):
    graph = la.trace(lambda x: la.sin(x), 0.5)
    fields = {name: getattr(graph, name) for name in (
        "op_names", "op", "parent_ptr", "parent_idx", "shape_table", "shape_id", "param_table",
        "param_id", "n_inputs", "output")}
    assert la.Graph(**fields, scopes={1: "ok"}).scopes == {1: "ok"}
    with pytest.raises(GraphError, match=message):
        la.Graph(**fields, scopes=scopes)


@pytest.mark.parametrize("name", ["", ".a", "a.", "a..b", 3])
def test_bad_scope_names_are_refused(name):
    with pytest.raises(LagrangeADError, match="scope name must be a non-empty string"):
        with la.scope(name):
            pass


def test_a_scope_left_by_an_exception_is_closed():
    with pytest.raises(KeyError):
        with la.scope("failing"):
            {}["missing"]
    assert la.trace(lambda x: la.sin(x), 0.5).scopes == {}


def clusters(dot: str) -> list[str]:
    return re.findall(r'subgraph cluster_\d+ \{\s*label="([^"]*)"', dot)


def test_dot_has_one_cluster_per_scope_nested_as_the_paths():
    graph = la.trace(layered, *layered_point())
    dot = drawing.dot_text(graph, full=True)
    # "layers" branches into 0 and 1, each into attn and mlp
    assert clusters(dot) == ["layers", "0", "attn", "mlp", "1", "attn", "mlp"]
    assert dot.count("{") == dot.count("}")
    body = dot[dot.index('label="0"'):dot.index('label="1"')]
    scoped = [i for i, p in graph.scopes.items() if p.startswith("layers.0")]
    assert sorted(int(v) for v in re.findall(r"\bv(\d+) \[label", body)) == sorted(scoped)
    # a path with a single branch adds no cluster of its own
    single = la.trace(lambda x: la.sum(_in_scope("encoder.layer", la.sin, x)), np.ones(2))
    assert clusters(single.to_dot()) == ["encoder.layer"]


def _in_scope(path, function, x):
    with la.scope(path):
        return function(x)


def test_a_large_scoped_graph_is_collapsed_into_one_box_per_scope():
    def deep(x):
        for k in range(20):
            with la.scope(f"block{k % 4}"):
                x = la.sin(x) + 0.1 * x
        return la.sum(x)

    graph = la.trace(deep, np.ones(3))
    assert len(graph) > drawing.MAX_NODES
    texts, edges, clusters, order = drawing.collapsed_by_scope(graph)
    # one box per run of a scope: the inputs, 20 blocks, the loss; in the computation's order
    titles = [t.splitlines()[0] for t in texts]
    assert titles[0] == "inputs" and titles[-1] == "(outside every scope)"
    assert titles[1:-1] == [f"block{k % 4} (part {k // 4 + 1} of 5)" for k in range(20)]
    assert order.tolist() == list(range(22))
    assert clusters == [""] + [f"block{k % 4}" for k in range(20)] + [""]
    counts = [int(t.splitlines()[1].split(" node")[0]) for t in texts]
    assert sum(counts) == len(graph)
    owner = np.repeat(np.arange(len(graph)), np.diff(graph.parent_ptr))
    _, group, _ = drawing.scope_groups(graph)
    crossing = group[graph.parent_idx] != group[owner]
    assert sum(edges.values()) == int(crossing.sum())
    dot = drawing.dot_text(graph)
    assert "one box per scope" in dot and dot.count("[label=") == len(texts) + len(edges)
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = drawing.draw(graph)
    try:
        assert [t.get_text().splitlines()[0] for t in ax.texts[:len(texts)]] \
            == [t.splitlines()[0] for t in texts]
    finally:
        plt.close(ax.figure)
    ax = drawing.draw(la.trace(layered, *layered_point()), full=True)
    try:
        legend = [t.get_text() for t in ax.get_legend().get_texts()]
        assert legend == ["layers.0.attn", "layers.0.mlp", "layers.1.attn", "layers.1.mlp"]
    finally:
        plt.close(ax.figure)


def test_show_draws_scopes_as_clusters(tmp_path, capsys):
    source = tmp_path / "scoped.py"
    source.write_text(
        "import lagrange_ad as la\n\n"
        "def f(x=0.5, y=2.0):\n"
        "    with la.scope('encoder'):\n"
        "        h = la.tanh(x * y)\n"
        "    with la.scope('head'):\n"
        "        return h * h + y\n")
    assert main(["show", f"{source}:f", "--format", "dot"]) == 0
    assert clusters(capsys.readouterr().out) == ["encoder", "head"]


def test_jax_named_scopes_become_scopes():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy

    def model(x):
        with jax.named_scope("encoder"):
            with jax.named_scope("attn"):
                y = jnp.sin(x)
            y = jax.jit(lambda z: z * 2.0)(y)

            def cell(h, u):
                with jax.named_scope("cell"):
                    return jnp.tanh(h * u), None

            h, _ = jax.lax.scan(cell, y, np.full((3, 3), 0.5))
        return jnp.sum(h)

    graph = la.from_jax(model, np.linspace(0.1, 0.3, 3))
    by_primitive = {}
    for i, path in graph.scopes.items():
        by_primitive.setdefault(graph.op_names[graph.op[i]], set()).add(path)
    assert by_primitive["sin"] == {"encoder.attn"}
    assert by_primitive["tanh"] == {"encoder.cell"}  # every step of the scan
    assert graph.output not in graph.scopes
    with jax.enable_x64(True):
        expected = jax.grad(model)(jnp.linspace(0.1, 0.3, 3))
    assert np.allclose(la.grad(graph)(*graph.point)[0], expected, rtol=1e-12)
