"""The command line on models: saved torch.export programs (model.pt2) and functions returning
(model, (example inputs...)) from PyTorch, JAX or plain la. code; one-line errors, exit 2."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from test_cli import _pythonpath, entry_point

from lagrange_ad import cli_models
from lagrange_ad.cli import main

# blocks the import of torch and jax in a child process, as if the extras were not installed
NO_TORCH_NO_JAX = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "jax", "jaxlib"):
            raise ImportError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Block())
"""

JAX_MODEL = """
import jax.numpy as jnp
import numpy as np


def model():
    w = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = np.array([1.0, -2.0])
    return (lambda w, x: jnp.sum(jnp.tanh(w @ x) ** 2)), (w, x)
"""

PLAIN_MODEL = """
import lagrange_ad as la


def model():
    return (lambda x, y: la.sin(x) * y), (0.5, 2.0)


def not_a_model():
    return 3.0


def raises():
    raise ValueError("no model today")
"""


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def answer(out: str) -> dict:
    data = json.loads(out)
    return data


def test_a_plain_pair_is_traced(tmp_path, capsys):
    (tmp_path / "plain.py").write_text(PLAIN_MODEL)
    status, out, _ = run(capsys, "compare", f"{tmp_path / 'plain.py'}:model", "--methods",
                         "reverse", "--format", "json")
    data = answer(out)
    assert status == 0 and np.isclose(data["value"], np.sin(0.5) * 2.0)
    assert np.allclose([data["gradient"]["x"], data["gradient"]["y"]],
                       [np.cos(0.5) * 2.0, np.sin(0.5)])


@pytest.mark.parametrize(("function", "message"), [
    ("not_a_model", "not_a_model() returned float; a function of no arguments must return "
                    "(model, (example inputs...))"),
    ("raises", "raises() raised ValueError: no model today"),
])
def test_a_function_of_no_arguments_that_is_no_model(tmp_path, capsys, function, message):
    (tmp_path / "plain.py").write_text(PLAIN_MODEL)
    status, _, err = run(capsys, "compare", f"{tmp_path / 'plain.py'}:{function}")
    assert status == 2 and len(err.strip().splitlines()) == 1 and message in err, err


def test_a_jax_pair_is_imported_and_its_gradient_is_jax_grad(tmp_path, capsys):
    jax = pytest.importorskip("jax")
    (tmp_path / "jax_model.py").write_text(JAX_MODEL)
    status, out, err = run(capsys, "compare", f"{tmp_path / 'jax_model.py'}:model", "--methods",
                           "reverse,gauss-seidel", "--format", "json")
    assert status == 0, err
    data = answer(out)
    w, x = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([1.0, -2.0])
    with jax.enable_x64(True):
        expected = jax.grad(lambda w, x: jax.numpy.sum(jax.numpy.tanh(w @ x) ** 2),
                            argnums=(0, 1))(w, x)
    assert np.allclose(data["gradient"]["w"], expected[0], rtol=1e-12)
    assert np.allclose(data["gradient"]["x"], expected[1], rtol=1e-12)
    assert {row["method"] for row in data["rows"]} >= {"reverse", "gauss-seidel"}


def test_the_kind_of_a_pair_is_read_without_importing_a_library():
    def plain(x):
        return x

    assert cli_models.library_of(plain, (1.0,)) is None
    assert cli_models.model_pair((plain, 1.0)) == (plain, (1.0,))
    assert cli_models.model_pair((1.0, 2.0)) is None
    assert cli_models.model_pair((plain, 1.0, 2.0)) is None
    jnp = pytest.importorskip("jax.numpy")

    def uses_jax(x):
        return jnp.sum(x)

    assert cli_models.library_of(uses_jax, (np.ones(2),)) == "jax"
    assert cli_models.library_of(plain, (jnp.ones(2),)) == "jax"


def test_missing_saved_program_is_one_line(tmp_path, capsys):
    status, _, err = run(capsys, "compare", tmp_path / "absent.pt2")
    assert status == 2 and "no such file" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------- through the installed command


def installed(argv, tmp: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(entry_point() + [str(a) for a in argv],
                            env={**os.environ, **(env or {})}, cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_missing_extras_are_named_by_the_installed_command(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "sitecustomize.py").write_text(NO_TORCH_NO_JAX)
    env = {"PYTHONPATH": os.pathsep.join([str(blocked)] + _pythonpath())}
    (tmp_path / "saved.pt2").write_bytes(b"not read: torch is missing")
    (tmp_path / "jax_model.py").write_text(JAX_MODEL)
    (tmp_path / "torch_model.py").write_text("import torch\n\ndef model():\n    pass\n")
    cases = [
        (["compare", tmp_path / "saved.pt2"], 'pip install "lagrange_ad[torch]"'),
        (["compare", f"{tmp_path / 'jax_model.py'}:model"], 'pip install "lagrange_ad[jax]"'),
        (["show", f"{tmp_path / 'torch_model.py'}:model"], 'pip install "lagrange_ad[torch]"'),
    ]
    running = [installed(argv, tmp_path, env) for argv, _ in cases]
    for (_, text), process in zip(cases, running):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 2, (out, err)
        assert len(err.strip().splitlines()) == 1 and text in err and "Traceback" not in err


def test_a_jax_model_through_the_installed_command(tmp_path):
    pytest.importorskip("jax")
    (tmp_path / "jax_model.py").write_text(JAX_MODEL)
    process = installed(["verify", f"{tmp_path / 'jax_model.py'}:model"], tmp_path)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, (out, err)
    assert "gradient" in out


def test_python_dash_m_reads_a_jax_model(tmp_path):
    pytest.importorskip("jax")
    (tmp_path / "jax_model.py").write_text(JAX_MODEL)
    done = subprocess.run([sys.executable, "-m", "lagrange_ad", "show", "--format", "dot",
                           f"{tmp_path / 'jax_model.py'}:model"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert textwrap.dedent(done.stdout).startswith("digraph")
