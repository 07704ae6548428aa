"""`la.compare`: rows for every registered schedule, recomputed residuals, tables and plots."""

import json
import re
import sys

import numpy as np
import pytest

import lagrange_ad as la
from lagrange_ad.compare import MEMORY_TRACKING_SECONDS
from lagrange_ad.errors import ConvergenceError
from lagrange_ad.schedules import Outcome, Schedule, register_schedule

# schedules converge to their own tolerances; this bounds how far their multipliers may drift
AGREEMENT = 1e-6


def registered(*names):
    # every name must be a schedule: a missing one is a regression, not a smaller table
    assert all(name in la.SCHEDULES for name in names), names
    return list(names)


def _never_converges(program):
    raise ConvergenceError("the test iteration reached its cap of 2 iterations",
                           residuals=[1.0, 0.5], iterations=2)


def _wrong_answer(program):
    lam = program.rhs() * 2.0
    return Outcome(lam, iterations=3, converged=False, residuals=[2.0, 1.5, 1.0],
                   multiply_adds=0, message="stopped at its cap")


@pytest.fixture
def test_schedules():
    """Three schedules that exist only during one test: refusing, failing, inaccurate."""
    schedules = [
        Schedule("always-refuses", lambda program: Outcome(program.rhs(), 1, True, [], 0),
                 "refuses everything", refuses=lambda program, options: "it never applies"),
        Schedule("never-converges", _never_converges, "raises ConvergenceError"),
        Schedule("wrong-answer", _wrong_answer, "returns 2 e_N without converging"),
    ]
    try:
        for schedule in schedules:
            register_schedule(schedule)
        yield [schedule.name for schedule in schedules]
    finally:
        for schedule in schedules:
            la.SCHEDULES.pop(schedule.name, None)


def check_solved_rows(comparison, program):
    lam_ref = la.solve(program, "reverse").multipliers.flat
    for row in comparison.rows:
        if row.status != "solved":
            continue
        solution = comparison.solutions[row.label]
        lam = solution.multipliers.flat
        assert row.kkt_residual == program.kkt_residual(lam)
        expected = np.max(np.abs(lam - lam_ref)) / max(1.0, np.max(np.abs(lam_ref)))
        assert row.max_rel_diff == pytest.approx(expected, rel=1e-12, abs=1e-300)
        assert row.iterations == solution.iterations
        assert row.multiply_adds == solution.stats.multiply_adds
        # by default only quick methods get the traced second run
        if row.wall_time <= MEMORY_TRACKING_SECONDS:
            assert row.peak_memory is not None and row.peak_memory > 0
        else:
            assert row.peak_memory is None
        if row.converged:
            assert row.max_rel_diff <= AGREEMENT, row
            assert row.kkt_residual <= AGREEMENT * np.linalg.norm(lam_ref), row


def test_lecture_with_every_registered_method():
    example = la.examples.lecture()
    program = example.program()
    comparison = la.compare(program)
    expected = [name for name, s in la.SCHEDULES.items()
                if s.refuses is None or not s.refuses(program, {})]
    assert [row.label for row in comparison.rows] == expected
    row = comparison["reverse"]
    assert (row.status, row.iterations, row.multiply_adds) == ("solved", 1, 9)
    assert row.kkt_residual == 0.0 and row.max_rel_diff == 0.0 and row.converged
    np.testing.assert_allclose(comparison.solutions["reverse"].gradient, example.gradient,
                               rtol=1e-12)
    check_solved_rows(comparison, program)
    assert all(row.status == "solved" for row in comparison.rows)


def test_random_dag_with_every_registered_method():
    program = la.examples.random_dag(n=40, seed=1).program()
    comparison = la.compare(program)
    assert len(comparison.rows) >= 1 and "reverse" in comparison.solutions
    check_solved_rows(comparison, program)


def test_variants_and_options():
    program = la.examples.domke().program()
    comparison = la.compare(program, [("checked", "reverse", {"check": True}),
                                      ("unchecked", "reverse", {"check": False})])
    assert [row.label for row in comparison.rows] == ["checked", "unchecked"]
    assert {row.method for row in comparison.rows} == {"reverse"}
    assert len(comparison.solutions["checked"].residuals) == 1
    assert len(comparison.solutions["unchecked"].residuals) == 0
    # the residual is recomputed even when the schedule computed none
    assert comparison["unchecked"].kkt_residual == 0.0
    comparison = la.compare(program, ["reverse"], options={"reverse": {"check": False}})
    assert len(comparison.solutions["reverse"].residuals) == 0


def test_gauss_seidel_in_both_orders():
    program = la.examples.random_dag(n=30, seed=2).program()
    comparison = la.compare(program, [("gs-forward", "gauss-seidel", {"order": "forward"}),
                                      ("gs-reverse", "gauss-seidel", {"order": "reverse"})])
    assert [row.label for row in comparison.rows] == ["gs-forward", "gs-reverse"]
    check_solved_rows(comparison, program)
    # in reverse topological order one sweep is backpropagation
    assert comparison["gs-reverse"].iterations <= comparison["gs-forward"].iterations


def test_krylov_rows_report_their_iterations():
    names = ["gmres", "bicgstab"]
    program = la.examples.random_dag(n=50, seed=4).program()
    comparison = la.compare(program, ["reverse"] + names)
    for name in names:
        row = comparison[name]
        assert row.status == "solved" and row.converged and row.iterations >= 1
        assert len(comparison.solutions[name].residuals) >= 1
    check_solved_rows(comparison, program)


def test_refusing_and_failing_methods_appear_with_reasons(test_schedules):
    program = la.examples.lecture().program()
    comparison = la.compare(program, ["reverse"] + test_schedules)
    refused, failed, wrong = (comparison[name] for name in test_schedules)
    assert refused.status == "refused" and "it never applies" in refused.note
    assert refused.kkt_residual is None and refused.wall_time is None
    assert failed.status == "failed" and "cap of 2 iterations" in failed.note
    assert failed.iterations == 2 and failed.converged is False
    assert set(comparison.solutions) == {"reverse", "wrong-answer"}
    # the wrong answer's own claims are shown beside the numbers recomputed from it
    assert wrong.status == "not converged"
    assert wrong.converged is False and wrong.note == "stopped at its cap"
    lam_ref = comparison.solutions["reverse"].multipliers.flat
    assert wrong.max_rel_diff == pytest.approx(np.max(np.abs(2 * program.rhs() - lam_ref))
                                               / np.max(np.abs(lam_ref)))
    assert wrong.kkt_residual == pytest.approx(program.kkt_residual(2 * program.rhs()))
    text = str(comparison)
    assert "it never applies" in text and "cap of 2 iterations" in text
    # by default a refusing schedule is left out, a failing one is shown
    labels = [row.label for row in la.compare(program).rows]
    assert "always-refuses" not in labels and "never-converges" in labels


def test_text_markdown_and_json():
    program = la.examples.lecture().program()
    comparison = la.compare(program, registered("reverse", "spsolve", "gmres"))
    lines = str(comparison).splitlines()
    header, rule, body = lines[1], lines[2], lines[3:]
    assert lines[0].startswith("9 nodes, 9 entries")
    assert "max_i |lam_i - lam_ref_i| / max(1, ||lam_ref||_inf)" in lines[0]
    assert header.split()[:3] == ["method", "status", "iterations"]
    assert len(body) == len(comparison.rows)
    # aligned: every column starts at the same offset on every line
    for column in ("status", "iterations", "KKT residual"):
        start = header.index(column)
        assert rule[start - 2:start] == "  " and rule[start] == "-"
    for line, row in zip(body, comparison.rows):
        assert line.startswith(row.label)
        assert line[header.index("status"):].startswith(row.status)
    assert "9" in body[[r.label for r in comparison.rows].index("reverse")].split()

    markdown = comparison.to_markdown().splitlines()
    table = [line for line in markdown if line.startswith("|")]
    assert len(table) == 2 + len(comparison.rows)
    assert table[0].startswith("| method | status |") and table[1].startswith("|---|")
    assert all(line.count("|") == 11 for line in table)

    data = json.loads(comparison.to_json())
    assert data == comparison.to_dict()
    assert data["reference"] == "reverse" and data["reference_note"] == ""
    rows = {row["label"]: row for row in data["rows"]}
    assert rows["reverse"]["multiply_adds"] == 9 and rows["reverse"]["kkt_residual"] == 0.0
    assert set(rows["reverse"]) == {"label", "method", "status", "iterations",
                                    "multiply_adds", "wall_time", "peak_memory",
                                    "kkt_residual", "max_rel_diff", "converged", "note"}


def test_pandas_conversion():
    pytest.importorskip("pandas")
    comparison = la.compare(la.examples.lecture().program(), registered("reverse", "gmres"))
    frame = comparison.to_pandas()
    assert list(frame.index) == [row.label for row in comparison.rows]
    assert frame.loc["reverse", "multiply_adds"] == 9
    assert frame.loc["reverse", "kkt_residual"] == 0.0


def test_missing_optional_packages_are_named(monkeypatch):
    comparison = la.compare(la.examples.lecture().program(), ["reverse"])
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(la.LagrangeADError, match="pip install pandas"):
        comparison.to_pandas()
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(la.LagrangeADError, match="pip install matplotlib"):
        comparison.plot()


def test_plot_draws_one_line_per_solved_method(test_schedules):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    program = la.examples.random_dag(n=30, seed=5).program()
    methods = registered("reverse", "gmres", "bicgstab") + test_schedules
    comparison = la.compare(program, methods + [("unchecked", "reverse", {"check": False})])
    fig, ax = plt.subplots()
    try:
        assert comparison.plot(ax=ax) is ax
        lines = {line.get_label(): line for line in ax.get_lines()}
        assert sorted(lines) == sorted(comparison.solutions)
        assert ax.get_yscale() == "log"
        # the reverse sweep's exact zero is drawn at the floor, not dropped
        np.testing.assert_array_equal(lines["reverse"].get_ydata(), [1e-18])
        np.testing.assert_array_equal(lines["wrong-answer"].get_ydata(), [2.0, 1.5, 1.0])
        np.testing.assert_array_equal(lines["unchecked"].get_xdata(), [1])
    finally:
        plt.close(fig)
    ax = comparison.plot(floor=1e-12)
    try:
        assert ax.get_lines()[0].get_ydata().min() >= 1e-12
    finally:
        plt.close(ax.figure)


def test_progress_callable_and_stderr(capsys):
    program = la.examples.lecture().program()
    methods = registered("reverse", "gmres", "spsolve")
    calls = []
    comparison = la.compare(program, methods, progress=lambda *a: calls.append(a))
    total = len(comparison.rows)
    assert calls == [(k, total, row.label) for k, row in enumerate(comparison.rows, start=1)]
    assert capsys.readouterr().err == ""
    la.compare(program, methods, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == total
    assert all(re.fullmatch(rf"compare \[{k}/{total}\] {label}: solved in \S+ \S+ "
                            rf"\(\d+\.\d\d s; \d+\.\d s in all\)", line)
               for k, (line, label) in enumerate(zip(lines, methods), start=1)), lines
    # by default only a terminal gets progress: pytest's captured stderr is none
    la.compare(program, methods)
    assert capsys.readouterr().err == ""


def test_memory_tracking_can_be_turned_off():
    comparison = la.compare(la.examples.lecture().program(), ["reverse"], track_memory=False)
    assert comparison["reverse"].peak_memory is None
    assert comparison["reverse"].wall_time > 0


def test_bad_arguments_are_named():
    program = la.examples.lecture().program()
    with pytest.raises(la.UnknownMethodError, match="no-such-method"):
        la.compare(program, ["no-such-method"])
    with pytest.raises(la.UnknownMethodError, match="no-such-method"):
        la.compare(program, ["reverse"], options={"no-such-method": {}})
    with pytest.raises(la.LagrangeADError, match="used twice"):
        la.compare(program, ["reverse", ("reverse", "reverse", {})])
    with pytest.raises(la.LagrangeADError, match=r"methods\[1\]"):
        la.compare(program, ["reverse", ("label", "reverse")])
    with pytest.raises(la.LagrangeADError, match="needs a Program"):
        la.compare(program.graph)
    with pytest.raises(la.LagrangeADError, match="progress"):
        la.compare(program, ["reverse"], progress="yes")
    with pytest.raises(KeyError, match="no row 'gmres'"):
        la.compare(program, ["reverse"])["gmres"]
