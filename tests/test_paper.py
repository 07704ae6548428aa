"""The paper's artifacts: make_artifacts.py at --size small writes everything main.tex needs.

The script runs once per module, in a subprocess, into a temporary directory; the tests then
check main.tex against what it wrote (every \\input and \\includegraphics exists, every
``\\gen...`` macro is defined, every citation is in references.bib, every \\ref has a label)
and check a few of the generated numbers against closed forms. TeX is not needed.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "paper"
MAIN = PAPER / "main.tex"


def _uncommented(path: Path) -> str:
    """The file without LaTeX comments (a ``%`` not preceded by a backslash, to line end)."""
    return re.sub(r"(?<!\\)%.*", "", path.read_text())


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run([sys.executable, str(PAPER / "make_artifacts.py"), "--size", "small",
                           "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def macros(generated) -> dict[str, str]:
    text = (generated / "numbers.tex").read_text()
    pairs = re.findall(r"\\newcommand\{\\(gen[A-Za-z]+)\}\{(.*)\}$", text, flags=re.M)
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), "a macro is defined twice"
    return dict(pairs)


def test_every_input_and_graphic_exists(generated):
    main = _uncommented(MAIN)
    inputs = re.findall(r"\\input\{generated/([^}]+)\}", main)
    graphics = re.findall(r"\\includegraphics(?:\[[^\]]*\])?\{generated/([^}]+)\}", main)
    assert inputs and graphics
    for name in inputs:
        path = generated / (name if Path(name).suffix else name + ".tex")
        assert path.is_file() and path.stat().st_size > 0, f"missing {path.name}"
    for name in graphics:
        for suffix in (".pdf", ".png"):
            path = (generated / name).with_suffix(suffix)
            assert path.is_file() and path.stat().st_size > 1000, f"missing {path.name}"
    # main.tex refers to the generated directory only; nothing else is read from disk
    others = re.findall(r"\\(?:input|includegraphics)(?:\[[^\]]*\])?\{(?!generated/)([^}]+)\}",
                        main)
    assert others == []


def test_numbers_define_every_macro_used(macros):
    used = set(re.findall(r"\\(gen[A-Za-z]+)", _uncommented(MAIN)))
    assert used, "main.tex quotes no generated numbers"
    assert sorted(used - set(macros)) == []


def test_citations_are_in_the_bibliography():
    cited = set()
    for group in re.findall(r"\\cite[pt]?\*?(?:\[[^\]]*\])*\{([^}]+)\}", _uncommented(MAIN)):
        cited.update(key.strip() for key in group.split(","))
    bib = (PAPER / "references.bib").read_text()
    keys = re.findall(r"@\w+\{([^,\s]+),", bib)
    assert len(keys) == len(set(keys)), "a bibliography key is defined twice"
    assert cited and sorted(cited - set(keys)) == []


def test_every_reference_has_a_label(generated):
    texts = [_uncommented(MAIN)] + [p.read_text() for p in sorted(generated.glob("*.tex"))]
    labels = {label for text in texts for label in re.findall(r"\\label\{([^}]+)\}", text)}
    refs = set(re.findall(r"\\(?:eq)?ref\{([^}]+)\}", _uncommented(MAIN)))
    assert sorted(refs - labels) == []


def test_tables_are_booktabs_fragments(generated):
    for name in ("lecture", "schedules_cost_acyclic", "schedules_cost_cyclic",
                 "schedules_accuracy", "elimination", "checkpointing", "marginals",
                 "verification", "second_order_lecture", "second_order_schedules", "hvp_cost"):
        text = (generated / f"{name}.tex").read_text()
        assert text.count("\\begin{tabular}") == 1 and "\\toprule" in text, name
        assert "\\bottomrule" in text and "nan" not in text.lower(), name


def _number(value: str) -> float:
    """A generated macro's value as a float (``\\ensuremath{a\\times 10^{b}}`` or plain)."""
    body = re.sub(r"^\\ensuremath\{(.*)\}$", r"\1", value).replace("\\,", "")
    match = re.fullmatch(r"(-?[\d.]+)(?:\\times 10\^\{(-?\d+)\})?", body)
    assert match, value
    return float(match[1]) * 10.0 ** int(match[2] or 0)


def test_lecture_numbers_match_the_closed_form(macros):
    # f = z + sin(x^2 + y e^z) at (2, -1, 0): d = 3, grad = (4 cos 3, cos 3, 1 - cos 3)
    assert _number(macros["genLectureValue"]) == pytest.approx(math.sin(3), abs=1e-4)
    expected = (4 * math.cos(3), math.cos(3), 1 - math.cos(3))
    for axis, g in zip("XYZ", expected):
        assert _number(macros[f"genLectureGrad{axis}"]) == pytest.approx(g, abs=1e-4)
    assert _number(macros["genLectureNodes"]) == 9


def test_study_numbers_agree_with_the_theory(macros):
    # the binomial count is met in every case, and checkpointing leaves the multipliers alone
    assert macros["genCheckpointMatches"] == macros["genCheckpointCases"]
    assert _number(macros["genCheckpointSpread"]) == 0.0
    # sweeps never exceed L + 1; the reverse order needs one sweep on every graph
    assert _number(macros["genSweepLate"]) == 0
    assert macros["genSweepReverseOnes"] == macros["genSweepGraphs"]
    # the fully connected graph of n nodes has 2^(n-2) input-output paths
    n = int(_number(macros["genPathsLargestN"]))
    assert _number(macros["genPathsLargest"]) == 2 ** (n - 2)
    # every Jacobian method gives the same matrix
    assert _number(macros["genEliminationSpread"]) < 1e-12
    assert macros["genSize"] == "small"


def test_second_order_numbers_agree_with_the_theory(macros, generated):
    # H = T^T W T is the closed-form Hessian; mu is the derivative of the multipliers
    assert _number(macros["genHessianClosedFormDiff"]) < 1e-12
    assert _number(macros["genSecondAdjointDifferencesDiff"]) < 1e-6
    # the square, the exponential, the product and the sine: four blocks of W
    assert _number(macros["genCurvedNodes"]) == 4
    # every schedule that solves the second adjoint system agrees with the reverse sweep
    assert _number(macros["genSecondWorstDiff"]) < 1e-6
    assert 0 < _number(macros["genSecondSameIterations"]) <= _number(
        macros["genSecondSolvedRuns"])
    assert 0 < _number(macros["genHvpFurtherMin"]) <= _number(macros["genHvpFurtherMax"])
    assert _number(macros["genHvpFirstMax"]) > 0
    # the lecture's input rows of mu are H d with d = (1, 1/2, -1)
    x, y, z = 2.0, -1.0, 0.0
    u = x * x + y * math.exp(z)
    grad_u = (2 * x, math.exp(z), y * math.exp(z))
    hess_u = ((2.0, 0.0, 0.0), (0.0, 0.0, math.exp(z)), (0.0, math.exp(z), y * math.exp(z)))
    d = (1.0, 0.5, -1.0)
    expected = [sum((-math.sin(u) * grad_u[a] * grad_u[b] + math.cos(u) * hess_u[a][b]) * d[b]
                    for b in range(3)) for a in range(3)]
    rows = [line.split("&") for line in (generated / "second_order_lecture.tex").read_text()
            .splitlines() if line.startswith("$v_{")]
    mu = [float(row[4].strip(" $")) for row in rows[:3]]
    assert mu == pytest.approx(expected, abs=1e-4)
    schedules = (generated / "second_order_schedules.tex").read_text()
    assert re.search(r"^reverse( & 1 \(1\))+ \\\\$", schedules, flags=re.M), schedules
