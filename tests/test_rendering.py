"""How results are shown: styles, residual plots, layered graph drawings, tables and JSON."""

import dataclasses
import json
import math

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.report import clearance, drawing, formatting, layout, plots, style, tables

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

# ------------------------------------------------------------------------------ styles


def test_every_schedule_has_its_own_fixed_style():
    looks = [(s.color, s.marker) for s in style.STYLES.values()]
    assert len(style.STYLES) >= 14
    assert len(set(s.color for s in style.STYLES.values())) == len(style.STYLES)
    assert len(set(s.marker for s in style.STYLES.values())) == len(style.STYLES)
    assert len(set(looks)) == len(looks)
    for name in la.SCHEDULES:
        assert style.style(name) == style.STYLES[name]


def test_a_variant_keeps_its_schedule_colour_and_one_plot_has_no_two_alike():
    variant = style.style("GS, reverse order", "gauss-seidel")
    assert variant.color == style.STYLES["gauss-seidel"].color
    assert variant.marker != style.STYLES["gauss-seidel"].marker
    assert variant == style.style("GS, reverse order", "gauss-seidel")  # the same every time
    entries = [("gauss-seidel", "gauss-seidel")] + [(f"GS {k}", "gauss-seidel") for k in range(8)]
    chosen = style.styles(entries)
    looks = [(s.color, s.marker) for s in chosen.values()]
    assert len(set(looks)) == len(looks) == 9


# ------------------------------------------------------------------------------ residual plot


@pytest.fixture(scope="module")
def comparison():
    program = la.examples.random_dag(n=40, seed=3).program()
    return la.compare(program, ["reverse", "jacobi", "gmres", "lsqr", "spsolve", "forward"],
                      track_memory=False)


def test_residual_plot_legend_outside_styles_and_one_point_methods(comparison):
    ax = comparison.plot()
    try:
        fig = ax.figure
        fig.canvas.draw()
        legend = ax.get_legend()
        assert legend.get_window_extent().x0 >= ax.get_window_extent().x1
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert lines["jacobi"].get_color() == style.STYLES["jacobi"].color
        assert lines["gmres"].get_marker() == style.STYLES["gmres"].marker
        # lsqr keeps no history: one marker at its iteration count, the count in the legend
        lsqr = comparison["lsqr"]
        assert list(lines["lsqr"].get_xdata()) == [lsqr.iterations]
        assert ax.get_xlim()[0] < 1 and ax.get_xlim()[1] > lsqr.iterations  # in view
        assert lines["lsqr"].get_linestyle() == "None"
        texts = [t.get_text() for t in legend.get_texts()]
        assert f"lsqr: {lsqr.iterations:,} it., last residual only" in texts
        assert "forward: 40 it., last residual only" in texts
        # reverse and spsolve both at (1, floor): drawn apart on screen
        points = [line.get_transform().transform((1, 1e-18)) for line in
                  (lines["reverse"], lines["spsolve"])]
        assert abs(points[0][0] - points[1][0]) > 3
    finally:
        plt.close(ax.figure)


def test_rows_without_multipliers_are_named_in_the_legend():
    program = la.examples.lecture().program()
    comparison = la.compare(program, ["reverse", "unrolled"], track_memory=False)
    ax = comparison.plot()
    try:
        texts = [t.get_text() for t in ax.get_legend().get_texts()]
        assert texts[-1] == "unrolled: refused, not drawn"
        assert [line.get_label() for line in ax.get_lines()] == ["reverse"]
    finally:
        plt.close(ax.figure)


def test_iteration_axis_is_logarithmic_when_counts_span_decades(comparison):
    ax = comparison.plot()
    try:
        assert ax.get_xscale() == "log"  # 1 to lsqr's hundreds
    finally:
        plt.close(ax.figure)
    small = la.compare(la.examples.lecture().program(), ["reverse", "jacobi"],
                       track_memory=False)
    ax = small.plot()
    try:
        assert ax.get_xscale() == "linear"
    finally:
        plt.close(ax.figure)


# ------------------------------------------------------------------------------ graph layout


def routes_of(layout_, parent, child):
    return [r for r in layout_.routes if (r.parent, r.child) == (parent, child)]


def distance_to_segment(point, p, q):
    d = q - p
    t = np.clip(np.dot(point - p, d) / np.dot(d, d), 0.0, 1.0)
    return float(np.hypot(*(p + t * d - point)))


def test_lecture_edges_pass_no_node_and_v3_to_v6_stays_clear_of_v5():
    graph = la.examples.lecture().graph
    placed, _ = drawing.graph_layout(graph)
    assert clearance.blocked_segments(placed) == []
    (route,) = routes_of(placed, 3, 6)
    center, size = placed.centers[5], placed.sizes[5]
    radius = float(np.hypot(*size)) / 2  # v5's box fits in this circle
    for p, q in zip(route.points[:-1], route.points[1:]):
        assert distance_to_segment(center, p, q) > radius * 0.5
    for i in range(len(graph)):
        for j in graph.parents(i):
            assert routes_of(placed, int(j), i)
    # levels left to right: each edge goes to the right
    for r in placed.routes:
        assert r.points[-1][0] > r.points[0][0]


@pytest.mark.parametrize("name", ["hmm", "mlp", "pcfg", "jacobi_solve", "pagerank"])
def test_examples_are_drawn_without_an_edge_through_a_node(name):
    graph = la.examples.get(name).graph
    placed, _ = drawing.graph_layout(graph)
    assert clearance.blocked_segments(placed) == []
    # boxes do not overlap
    low, high = placed.centers - placed.sizes / 2, placed.centers + placed.sizes / 2
    overlap = (low[:, None, :] < high[None, :, :]) & (low[None, :, :] < high[:, None, :])
    both = overlap.all(axis=2)
    np.fill_diagonal(both, False)
    assert not both.any()


@pytest.mark.parametrize("seed", range(4))
def test_random_dags_are_drawn_without_an_edge_through_a_node(seed):
    graph = la.examples.random_dag(n=45, seed=seed).graph
    placed, _ = drawing.graph_layout(graph)
    assert clearance.blocked_segments(placed) == []


def test_the_check_finds_an_edge_through_a_node():
    sizes = np.full((3, 2), 20.0)
    placed = layout.layered_layout(sizes, [(0, 1), (1, 2)])
    through = layout.Route(0, 2, np.array([placed.centers[0], placed.centers[2]]), False)
    broken = layout.Layout(placed.centers, placed.sizes, placed.levels,
                           placed.routes + (through,), placed.extent, "LR")
    assert clearance.blocked_segments(broken) == [(2, 1)]


def test_a_cycle_edge_is_drawn_back_to_its_head():
    graph = la.examples.get("fixed_cos").graph
    placed, _ = drawing.graph_layout(graph)
    back = [r for r in placed.routes if r.back]
    assert len(back) == 1 and clearance.blocked_segments(placed) == []
    # drawn from v2 = cos(v1) back to v1 = v0 * v2: it ends on v1's box, where the arrow is
    assert (back[0].parent, back[0].child) == (2, 1)
    end = back[0].points[-1]
    low, high = placed.centers[1] - placed.sizes[1] / 2, placed.centers[1] + placed.sizes[1] / 2
    assert np.all(end >= low - 1e-9) and np.all(end <= high + 1e-9)


def test_deep_graphs_run_top_to_bottom_and_hmm_fits_a_page():
    placed, _ = drawing.graph_layout(la.examples.get("hmm").graph)
    assert placed.direction == "TB"
    xmin, xmax, ymin, ymax = placed.extent
    assert xmax - xmin < 12 * 72  # under a foot wide at any resolution


def test_large_graphs_are_drawn_collapsed_with_counts():
    b = la.GraphBuilder()
    x = b.input(name="x")
    b.add_many("sin", np.r_[x, -np.ones(99_999, int)])
    graph = b.build()
    texts, edges = drawing.collapsed(graph)
    assert len(texts) == drawing.MAX_BANDS
    assert sum(int(t.split(": ")[1].split(" nodes")[0].replace(",", "")) for t in texts) \
        == len(graph)
    assert edges == {(k, k + 1): 1 for k in range(drawing.MAX_BANDS - 1)}
    ax = drawing.draw(graph)
    try:
        assert "full=True" in ax.get_title(loc="left").replace("\n", " ")
    finally:
        plt.close(ax.figure)
    dot = drawing.dot_text(graph)
    assert dot.count("->") == drawing.MAX_BANDS - 1 and "rankdir=TB" in dot
    with pytest.raises(la.LagrangeADError, match="collapsed"):
        drawing.draw(graph, full=True)


def test_full_drawing_of_a_small_graph_has_one_box_per_node(tmp_path):
    graph = la.examples.lecture().graph
    ax = drawing.draw(graph, {8: "lam 1"})
    try:
        texts = [t.get_text() for t in ax.texts]
        assert len(texts) == len(graph) and texts[8].endswith("lam 1")
    finally:
        plt.close(ax.figure)
    note = drawing.render(graph, None, str(tmp_path / "g.png"), "png")
    assert note == "" and (tmp_path / "g.png").stat().st_size > 1000


def test_dot_rankdir_follows_depth():
    assert "rankdir=LR" in la.examples.lecture().graph.to_dot()
    assert "rankdir=TB" in la.examples.get("hmm").graph.to_dot()


# ------------------------------------------------------------------------------ tables, JSON


def test_json_is_strict_with_null_for_missing_and_non_finite_numbers(comparison):
    data = json.loads(comparison.to_json(multipliers=True))
    reverse = comparison.solutions["reverse"]
    graph = reverse.multipliers.graph
    assert list(data["gradient"]) == tables.input_names(graph, graph.n_inputs)
    np.testing.assert_array_equal(list(data["gradient"].values()),
                                  [float(g) for g in reverse.gradient])
    np.testing.assert_array_equal(data["multipliers"], reverse.multipliers.flat)
    assert tables.plain(np.array([1.0, np.nan, np.inf])) == [1.0, None, None]
    assert tables.plain(np.float64(2.5)) == 2.5 and tables.plain(np.int64(3)) == 3
    assert tables.plain(np.bool_(True)) is True
    with pytest.raises(ValueError):
        tables.dumps({"x": math.nan})


def test_answer_lines_abbreviate_arrays():
    lines = tables.answer_lines(1.5, [np.arange(12.0).reshape(3, 4), np.array(2.0)], ["W", "s"])
    assert lines == ["f = 1.5", "gradient:", "  W: (3, 4) [0, 1, 2, ...]", "  s: 2"]
    assert tables.answer_lines(None, [np.array(1.0), np.array(-2.0)], ["x", "y"]) == \
        ["gradient: x 1, y -2"]


def test_number_formats():
    assert formatting.count(1234567) == "1,234,567" and formatting.count(None) == "-"
    assert formatting.duration(0.0021) == "2.1 ms" and formatting.duration(3e-7) == "0.3 us"
    assert formatting.nbytes(3 * 2**20) == "3 MiB" and formatting.number(0) == "0"
    assert formatting.array([[1.0, 2.0], [3.0, 4.0]]) == "[[1, 2], [3, 4]]"


def test_missing_matplotlib_names_the_plot_extra(monkeypatch, comparison):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(la.LagrangeADError, match=r'pip install "lagrange_ad\[plot\]"'):
        plots.residuals(comparison)


def test_a_row_that_did_not_converge_never_gives_the_answer():
    program = la.examples.lecture().program()
    capped = la.compare(program, [("jacobi, 2 sweeps", "jacobi", {"maxiter": 2})],
                        track_memory=False)
    assert capped.rows[0].status != "solved"
    exact = la.solve(program).gradient
    found = tables.answer(capped)  # the reference's gradient, or none at all
    if found is not None:
        np.testing.assert_allclose(found[1], exact, rtol=1e-14)
        assert found[2] == ["x", "y", "z"]
    if hasattr(capped, "gradient"):  # without the reference's answer, no answer
        assert tables.answer(dataclasses.replace(capped, gradient=None)) is None
    both = la.compare(program, [("jacobi, 2 sweeps", "jacobi", {"maxiter": 2}), "gmres"],
                      track_memory=False)
    _, gradient, names = tables.answer(both)
    assert names == ["x", "y", "z"]
    np.testing.assert_allclose(gradient, both.solutions["gmres"].gradient)


def test_parallel_edges_are_drawn_apart():
    graph = la.trace(lambda x: x * x, 3.0)
    placed, _ = drawing.graph_layout(graph)
    first, second = routes_of(placed, 0, 1)
    assert not np.allclose(first.points, second.points)
    cycle, _ = drawing.graph_layout(la.examples.get("fixed_cos").graph)
    (ahead,), (back,) = routes_of(cycle, 1, 2), routes_of(cycle, 2, 1)
    assert not np.allclose(ahead.points, back.points[::-1])


def test_schedules_left_out_by_default_are_listed_with_why():
    comparison = la.compare(la.examples.lecture().program(), track_memory=False)
    assert "unrolled" in dict(comparison.left_out)
    text = str(comparison).splitlines()
    assert text[-2] == "not run (they refuse this program):"
    assert text[-1].startswith("  unrolled: the graph has no cycle")
    assert comparison.to_markdown().splitlines()[-1].startswith("- unrolled: ")
    data = json.loads(comparison.to_json())
    assert {"method": "unrolled", "reason": dict(comparison.left_out)["unrolled"]} \
        in data["left_out"]
