"""The lagrange-ad command line: every command, and one-line errors with exit status 2."""

import json
import subprocess
import sys
import textwrap

import pytest

from lagrange_ad.cli import main
from lagrange_ad.primitives import PRIMITIVES


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_compare_alone_runs_the_lecture_example(capsys):
    status, out, err = run(capsys, "compare", "--no-memory")
    assert status == 0
    assert "reverse" in out and "gauss-seidel" in out and "9 nodes" in out
    assert "Traceback" not in err


def test_compare_formats_methods_and_point(capsys):
    status, out, _ = run(capsys, "compare", "lecture", "--methods", "reverse,forward",
                         "--format", "json", "--at", "1,2,3", "--no-memory")
    assert status == 0
    rows = json.loads(out)["rows"]
    assert [row["label"] for row in rows] == ["reverse", "forward"]
    status, out, _ = run(capsys, "compare", "domke", "--methods", "reverse,jacobi",
                         "--format", "markdown", "--no-memory")
    assert status == 0
    table = [line for line in out.splitlines() if line.startswith("|")]
    assert len(table) == 4 and "jacobi" in table[-1]


def test_compare_writes_a_plot(capsys, tmp_path):
    target = tmp_path / "residuals.png"
    status, _, err = run(capsys, "compare", "--methods", "jacobi,gauss-seidel,gmres",
                         "--plot", str(target), "--no-memory")
    assert status == 0 and target.stat().st_size > 1000
    assert "written" in err


def test_verify_passes_on_an_example(capsys):
    status, out, _ = run(capsys, "verify", "domke")
    assert status == 0 and "verification passed" in out


def test_verify_fails_with_status_one_on_a_wrong_derivative_rule(capsys, tmp_path):
    module = tmp_path / "wrong.py"
    module.write_text(textwrap.dedent("""
        import numpy as np
        import lagrange_ad as la
        from lagrange_ad.primitives.structure import elementwise

        if "cli_bad_sin" not in la.PRIMITIVES:
            elementwise("cli_bad_sin", 1, np.sin, lambda ans, x: (-np.cos(x),))

        def f(x=0.7):
            from lagrange_ad.tracing.functions import call
            return call("cli_bad_sin", x) * 2.0
    """))
    try:
        status, out, _ = run(capsys, "verify", f"{module}:f")
    finally:
        PRIMITIVES.pop("cli_bad_sin", None)
    assert status == 1
    assert "FAIL" in out and "finite differences" in out


def test_show_text_dot_and_png(capsys, tmp_path):
    status, out, _ = run(capsys, "show", "lecture")
    assert status == 0 and "v7 = sin(v6)" in out and "multiplier" in out
    status, out, _ = run(capsys, "show", "lecture", "--format", "dot")
    assert status == 0 and out.startswith("digraph") and "lam" in out
    target = tmp_path / "graph.png"
    status, out, _ = run(capsys, "show", "lecture", "--format", "png", "--output", str(target))
    assert status == 0 and target.stat().st_size > 1000


def test_examples_lists_every_example(capsys):
    from lagrange_ad.examples import EXAMPLES

    status, out, _ = run(capsys, "examples")
    assert status == 0
    assert [line.split()[0] for line in out.strip().splitlines()] == list(EXAMPLES)


def test_a_function_from_a_file(capsys, tmp_path):
    module = tmp_path / "model.py"
    module.write_text("import lagrange_ad as la\n\ndef f(a, b):\n    return la.sin(a * b)\n")
    status, out, _ = run(capsys, "compare", f"{module}:f", "--at", "0.5,2",
                         "--methods", "reverse", "--format", "json", "--no-memory")
    assert status == 0 and json.loads(out)["rows"][0]["converged"]


@pytest.mark.parametrize("argv, message", [
    (["compare", "nonexistent"], "unknown example 'nonexistent'"),
    (["compare", "missing_file.py:f"], "no such file"),
    (["compare", "lecture", "--at", "1,x,3"], "--at needs comma-separated numbers"),
    (["compare", "lecture", "--at", "1,2"], "--at gives 2 number(s)"),
    (["compare", "--methods", "reverse,bogus"], "unknown method 'bogus'"),
    (["verify", "lecture", "--at", "nan,1,1"], "finite"),
    (["show", "nonexistent"], "unknown example"),
])
def test_bad_input_is_one_line_with_status_two(capsys, argv, message):
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_function_and_a_function_that_raises(capsys, tmp_path):
    module = tmp_path / "broken.py"
    module.write_text("def g(x):\n    raise RuntimeError('boom')\n")
    status, _, err = run(capsys, "compare", f"{module}:nothere")
    assert status == 2 and "has no function 'nothere'" in err
    status, _, err = run(capsys, "compare", f"{module}:g", "--at", "1")
    assert status == 2 and "RuntimeError: boom" in err and len(err.strip().splitlines()) == 1
    status, _, err = run(capsys, "compare", f"{module}:g")
    assert status == 2 and "needs a point" in err


def test_the_installed_entry_point_and_help():
    for argv in (["--help"], ["compare", "--help"], ["verify", "--help"], ["show", "--help"],
                 ["examples", "--help"]):
        done = subprocess.run([sys.executable, "-m", "lagrange_ad", *argv], capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0 and "usage" in done.stdout
    done = subprocess.run([sys.executable, "-m", "lagrange_ad", "compare", "nope"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
