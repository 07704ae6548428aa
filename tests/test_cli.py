"""The lagrange-ad command line: every command, and one-line errors with exit status 2."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
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
    from lagrange_ad.examples import EXAMPLES, jax_models, torch_models

    status, out, _ = run(capsys, "examples")
    assert status == 0
    # the named examples, then the example models of each importer (torch:NAME, jax:NAME)
    assert [line.split()[0] for line in out.strip().splitlines()] == list(EXAMPLES) + [
        f"torch:{name}" for name in torch_models.MODELS] + [
        f"jax:{name}" for name in jax_models.MODELS]


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
    helps = [["--help"], ["compare", "--help"], ["verify", "--help"], ["show", "--help"],
             ["examples", "--help"]]
    running = [subprocess.Popen([sys.executable, "-m", "lagrange_ad", *argv], text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for argv in helps + [["compare", "nope"]]]
    done = [(p.communicate(timeout=120), p.returncode) for p in running]
    for (out, _), status in done[:-1]:
        assert status == 0 and "usage" in out
    (_, err), status = done[-1]
    assert status == 2 and err.count("\n") == 1


# --------------------------------------------------------------- through the installed command

# blocks "import matplotlib" in the child process, as if the plot extra were not installed
NO_MATPLOTLIB = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return None
sys.meta_path.insert(0, _Block())
"""

# a Graphviz that fails, to see its error reported in one line
FAILING_DOT = "#!/bin/sh\necho 'Error: <stdin>: syntax error in line 1' >&2\nexit 1\n"


def _pythonpath() -> list[str]:
    return [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]


def entry_point() -> list[str]:
    """The installed ``lagrange-ad`` console script (beside this interpreter when it is there)."""
    script = Path(sys.executable).with_name("lagrange-ad")
    found = str(script) if script.exists() else shutil.which("lagrange-ad")
    assert found, "the lagrange-ad console script is not installed (pip install -e .)"
    return [found]


def cli_cases(tmp: Path):
    """``{id: (argv, environment, expected status, text expected in stderr or stdout)}``.

    Every case of the command-line contract; `INSTALLED` ones run through the console script.
    """
    (tmp / "somefile").write_text("x")
    (tmp / "model.py").write_text(textwrap.dedent("""
        import lagrange_ad as la

        def f(A, s):
            return la.sum(A * A) * s

        def g(x):
            raise RuntimeError("boom")
    """))
    (tmp / "nof.py").write_text("def h(x):\n    return x\n")
    np.savez(tmp / "point.npz", A=np.array([[1.0, 2.0], [3.0, 4.0]]), s=np.array(0.5))
    np.save(tmp / "A.npy", np.array([[1.0, 2.0], [3.0, 4.0]]))
    blocked = tmp / "blocked"
    blocked.mkdir(exist_ok=True)
    (blocked / "sitecustomize.py").write_text(NO_MATPLOTLIB)
    fake = tmp / "fakebin"
    fake.mkdir(exist_ok=True)
    (fake / "dot").write_text(FAILING_DOT)
    (fake / "dot").chmod(0o755)
    python_only = str(Path(sys.executable).parent)  # no Graphviz on this PATH
    no_mpl = {"PYTHONPATH": os.pathsep.join([str(blocked)] + _pythonpath()), "PATH": python_only}
    model = str(tmp / "model.py")
    return {
        "plot-to-directory": (["compare", "--plot", str(tmp)], {}, 2, "is a directory"),
        "plot-under-a-file": (["compare", "--plot", str(tmp / "somefile" / "r.png")], {}, 2,
                              "not an existing directory"),
        "plot-to-missing-directory": (["compare", "--plot", str(tmp / "no" / "r.png")], {}, 2,
                                      "cannot write"),
        "plot-without-suffix": (["compare", "--plot", str(tmp / "residuals")], {}, 2,
                                "cannot tell the format"),
        "plot-without-matplotlib": (["compare", "--plot", str(tmp / "r.png")], no_mpl, 2,
                                    'pip install "lagrange_ad[plot]"'),
        "show-png-without-matplotlib": (["show", "--format", "png", "--output",
                                         str(tmp / "g.png")], no_mpl, 2, "lagrange_ad[plot]"),
        "show-svg-without-matplotlib": (["show", "--format", "svg", "--output",
                                         str(tmp / "g.svg")], no_mpl, 2, "lagrange_ad[plot]"),
        "show-output-unwritable": (["show", "--format", "svg", "--output",
                                    str(tmp / "no" / "g.svg")], {}, 2, "cannot write"),
        "show-output-directory": (["show", "--format", "png", "--output", str(tmp)], {}, 2,
                                  "is a directory"),
        "show-dot-fails": (["show", "--format", "svg", "--output", str(tmp / "g.svg")],
                           {"PATH": os.pathsep.join([str(fake), python_only])}, 2,
                           "Graphviz dot could not write"),
        "negative-at": (["compare", "--at", "-1,2,0", "--methods", "reverse"], {}, 0,
                        "gradient: x 1.97998"),
        "array-at": (["compare", f"{model}:f", "--at", "[[1,2],[3,4]],0.5", "--methods",
                      "reverse", "--format", "json"], {}, 0, '"value": 15.0'),
        "npz-at": (["verify", f"{model}:f", "--at", str(tmp / "point.npz")], {}, 0, "f = 15"),
        "npy-at": (["compare", f"{model}:f", "--at", f"{tmp / 'A.npy'},0.5", "--methods",
                    "reverse"], {}, 0, "  A: [[1, 2], [3, 4]]"),
        "at-not-numbers": (["compare", "--at", "1,x,3"], {}, 2, "--at needs"),
        "at-ragged": (["compare", f"{model}:f", "--at", "[[1,2],[3]],1"], {}, 2, "ragged"),
        "at-missing-file": (["compare", f"{model}:f", "--at", str(tmp / "no.npy")], {}, 2,
                            "no such file"),
        "file-without-function": (["compare", str(tmp / "nof.py")], {}, 2,
                                  "file.py alone means file.py:f"),
        "function-raises": (["compare", f"{model}:g", "--at", "1"], {}, 2,
                            "RuntimeError: boom"),
        "unknown-option": (["compare", "--bogus"], {}, 2, "unrecognized arguments"),
        "unknown-example": (["verify", "nope"], {}, 2, "unknown example 'nope'"),
    }


# the cases of the contract run through the console script (about a second each, all at once)
INSTALLED = ("plot-to-directory", "plot-under-a-file", "plot-without-matplotlib",
             "show-png-without-matplotlib", "show-svg-without-matplotlib",
             "show-output-unwritable", "show-dot-fails", "negative-at", "array-at",
             "file-without-function")
IN_PROCESS = ("plot-to-missing-directory", "plot-without-suffix", "show-output-directory",
              "npz-at", "npy-at", "at-not-numbers", "at-ragged", "at-missing-file",
              "function-raises", "unknown-option", "unknown-example")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    return tmp, cli_cases(tmp)


@pytest.fixture(scope="module")
def finished(workdir):
    """The `INSTALLED` cases, started at once through the console script; results by id."""
    tmp, cases = workdir
    running = {}
    for case in INSTALLED:
        argv, env, _, _ = cases[case]
        running[case] = subprocess.Popen(entry_point() + argv, env={**os.environ, **env},
                                         cwd=tmp, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
    results = {}
    for case, process in running.items():
        out, err = process.communicate(timeout=300)
        results[case] = (out, err, process.returncode)
    return results


def check_case(expected, status: int, out: str, err: str) -> None:
    _, _, want_status, text = expected
    assert status == want_status, (out, err)
    assert "Traceback" not in err and "Traceback" not in out
    if want_status == 2:
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("lagrange-ad") and text in err, err
    else:
        assert text in out, out


@pytest.mark.parametrize("case", INSTALLED)
def test_the_installed_command(finished, workdir, case):
    out, err, status = finished[case]
    check_case(workdir[1][case], status, out, err)


@pytest.mark.parametrize("case", IN_PROCESS)
def test_the_command_in_process(workdir, case, capsys, monkeypatch):
    tmp, cases = workdir
    monkeypatch.chdir(tmp)
    argv = cases[case][0]
    try:
        status = main(argv)
    except SystemExit as exc:  # argparse's own errors
        status = exc.code
    out, err = capsys.readouterr()
    check_case(cases[case], status, out, err)


def test_every_case_runs_somewhere(workdir):
    assert sorted(INSTALLED + IN_PROCESS) == sorted(workdir[1])


def test_python_dash_m_reports_a_missing_plot_extra(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "sitecustomize.py").write_text(NO_MATPLOTLIB)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked)] + _pythonpath())}
    done = subprocess.run([sys.executable, "-m", "lagrange_ad", "compare", "--plot",
                           str(tmp_path / "r.png")], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert 'pip install "lagrange_ad[plot]"' in done.stderr


def test_json_has_the_answer_multipliers_and_null_for_a_refusal(capsys):
    status, out, _ = run(capsys, "compare", "--methods", "reverse,unrolled", "--format", "json",
                         "--multipliers", "--no-memory")
    assert status == 0
    data = json.loads(out)
    assert data["value"] == pytest.approx(np.sin(3.0))
    assert data["gradient"] == pytest.approx({"x": -3.9599699864017817,
                                               "y": -0.9899924966004454,
                                               "z": 1.9899924966004454})
    assert len(data["multipliers"]) == 9 and data["multipliers"][8] == 1.0
    refused = data["rows"][1]
    assert refused["status"] == "refused"
    assert refused["iterations"] is None and refused["kkt_residual"] is None


def test_text_output_starts_with_the_value_and_gradient(capsys):
    status, out, _ = run(capsys, "compare", "hmm", "--methods", "reverse", "--no-memory")
    lines = out.splitlines()
    assert status == 0 and lines[0].startswith("f = ") and lines[1] == "gradient:"
    # arrays are abbreviated: shape and first entries
    assert lines[3].startswith("  trans: (3, 3) [") and lines[3].endswith(", ...]")
    status, out, _ = run(capsys, "verify", "lecture")
    assert out.splitlines()[:2] == ["f = 0.14112", "gradient: x -3.95997, y -0.989992, z 1.98999"]
    status, out, _ = run(capsys, "verify", "lecture", "--format", "json", "--multipliers")
    data = json.loads(out)
    assert status == 0 and data["ok"] and data["value"] == pytest.approx(np.sin(3.0))
    assert data["multipliers"][7] == pytest.approx(1.0) and len(data["checks"]) >= 3


def test_at_forms_for_an_example(capsys):
    # one item per input, or every entry flattened
    status, out, _ = run(capsys, "compare", "loglinear", "--methods", "reverse",
                         "--format", "json", "--no-memory")
    assert status == 0
    status, _, err = run(capsys, "compare", "hmm", "--at", "[1,2],[3]", "--no-memory")
    assert status == 2 and "shapes [(2,), (1,)]" in err and "(3,)" in err
    trans = "[[1,2,3],[4,5,6],[7,8,9]]"
    flat_emit = ",".join(str(k) for k in range(12))
    status, out, _ = run(capsys, "compare", "hmm", "--at", f"[1,2,3],{trans},[{flat_emit}]",
                         "--methods", "reverse", "--format", "json", "--no-memory")
    assert status == 0 and np.shape(json.loads(out)["gradient"]["emit"]) == (3, 4)
    # an array of another shape is not reshaped behind the user's back
    status, _, err = run(capsys, "compare", "hmm", "--at", f"[[1,2,3]],{trans},[{flat_emit}]")
    assert status == 2 and "(1, 3)" in err



def test_budget_and_time_limit_reach_the_schedules(capsys):
    status, out, _ = run(capsys, "compare", "--methods", "reverse,gmres", "--budget", "1e3",
                         "--format", "json", "--no-memory")
    rows = {row["label"]: row for row in json.loads(out)["rows"]}
    assert status == 0 and rows["reverse"]["status"] == "solved"
    assert rows["gmres"]["status"] == "over budget" and "multiply-adds" in rows["gmres"]["note"]
    status, out, _ = run(capsys, "compare", "--methods", "gmres", "--budget", "inf",
                         "--time-limit", "60", "--format", "json", "--no-memory")
    data = json.loads(out)
    assert status == 0 and data["rows"][0]["status"] == "solved" and data["budget"] is None
    status, _, err = run(capsys, "verify", "--budget", "0")
    assert status == 2 and "expected a number > 0" in err and len(err.splitlines()) == 1


def test_compare_second_order(capsys):
    status, out, err = run(capsys, "compare", "--order", "2", "--direction=1,0,0",
                           "--methods", "reverse,forward,gmres", "--no-memory")
    assert status == 0, err
    assert "H d: x" in out and "refused" in out and "second adjoint system" in out
    status, out, err = run(capsys, "compare", "--order", "2", "--methods", "reverse",
                           "--format", "json", "--no-memory")
    assert status == 0, err
    data = json.loads(out)
    assert data["order"] == 2 and set(data["hvp"]) == {"x", "y", "z"}


def test_compare_second_order_direction_may_start_with_a_minus(capsys):
    joined, spaced = (run(capsys, "compare", "--order", "2", *direction, "--methods", "reverse",
                          "--format", "json", "--no-memory")
                      for direction in (["--direction=-1,0,2"], ["--direction", "-1,0,2"]))
    assert joined[0] == spaced[0] == 0, spaced[2]
    assert json.loads(joined[1])["hvp"] == json.loads(spaced[1])["hvp"]


@pytest.mark.parametrize("argv", [["--order", "3"], ["--order", "x"], ["--order", "0"],
                                  ["--direction", "1,2,3"],
                                  ["--order", "2", "--direction", "1,2"]])
def test_compare_second_order_failures_are_one_line(capsys, argv):
    status, out, err = run(capsys, "compare", "--methods", "reverse", "--no-memory", *argv)
    assert status == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("lagrange-ad: error:")
