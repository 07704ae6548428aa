"""The command line on models: saved torch.export programs (model.pt2) and functions returning
(model, (example inputs...)) from PyTorch, JAX or plain la. code; one-line errors, exit 2."""

import importlib.util
import json
import os
import re
import subprocess
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


TORCH_MODEL = """
import torch


def model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))

    class Loss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = net

        def forward(self, x):
            return (self.net(x) ** 2).mean()

    return Loss(), (torch.linspace(-1.0, 1.0, 6).reshape(2, 3),)
"""


def torch_model(tmp_path):
    """The module and input of `TORCH_MODEL`, its file, and torch's gradient by input name."""
    pytest.importorskip("torch")
    (tmp_path / "torch_model.py").write_text(TORCH_MODEL)
    namespace: dict = {}
    exec(TORCH_MODEL, namespace)
    module, (x,) = namespace["model"]()
    module = module.double()
    x = x.double().requires_grad_()
    module(x).backward()
    expected = {name: p.grad.numpy() for name, p in module.named_parameters()}
    expected["x"] = x.grad.numpy()
    return module, x.detach(), expected


def assert_gradient(data: dict, expected: dict) -> None:
    assert sorted(data["gradient"]) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(data["gradient"][name], value, rtol=1e-10, atol=1e-14)


def test_a_torch_pair_is_imported_and_its_gradient_is_torchs(tmp_path, capsys):
    _, _, expected = torch_model(tmp_path)
    status, out, err = run(capsys, "compare", f"{tmp_path / 'torch_model.py'}:model",
                           "--methods", "reverse,jacobi", "--format", "json")
    assert status == 0, err
    assert_gradient(answer(out), expected)


def test_a_saved_program_is_read_and_named_models_run(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    module, x, expected = torch_model(tmp_path)
    torch.export.save(torch.export.export(module, (x,)), tmp_path / "model.pt2")
    status, out, err = run(capsys, "compare", tmp_path / "model.pt2", "--methods", "reverse",
                           "--format", "json")
    assert status == 0, err
    data = answer(out)
    assert_gradient(data, expected)
    status, out, _ = run(capsys, "verify", "torch:mlp")
    assert status == 0 and "passed" in out.lower()
    status, _, err = run(capsys, "compare", "torch:nope")
    assert status == 2 and "unknown torch model 'nope'; torch models are: mlp" in err


def test_an_imported_model_is_drawn_with_one_cluster_per_module(capsys):
    pytest.importorskip("torch")
    status, out, err = run(capsys, "show", "torch:transformer", "--format", "dot", "--full")
    assert status == 0, err
    clusters = re.findall(r'subgraph cluster_\d+ \{\s*label="([^"]*)"', out)
    assert clusters[0] == "layer"  # the encoder layer, holding its parts
    assert {"self_attn", "linear1", "linear2", "norm1", "norm2"} <= set(clusters)
    status, out, _ = run(capsys, "show", "torch:transformer", "--format", "dot")
    boxes = re.findall(r'b\d+ \[label="([^\\"]*)', out)
    assert status == 0 and "one box per scope" in out
    # the layer's own nodes (residual sums, the activation) are parts between its modules
    assert boxes[:5] == ["inputs", "(outside every scope)", "layer.self_attn",
                         "layer (part 1 of 3)", "layer.norm1"]


# ------------------------------------------------------------- through the installed command


def installed(argv, tmp: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(entry_point() + [str(a) for a in argv],
                            env={**os.environ, **(env or {})}, cwd=tmp,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def installed_runs(tmp_path_factory):
    """Every installed-command case started at once: ``{id: (status, out, err, expected)}``.

    Without the extras (torch and jax blocked in the child) each model input fails in one
    line naming the extra; with them, a JAX pair and a saved program run.
    """
    tmp = tmp_path_factory.mktemp("cli_models")
    blocked = tmp / "blocked"
    blocked.mkdir()
    (blocked / "sitecustomize.py").write_text(NO_TORCH_NO_JAX)
    no_extras = {"PYTHONPATH": os.pathsep.join([str(blocked)] + _pythonpath())}
    (tmp / "fake.pt2").write_bytes(b"not read: torch is missing")
    (tmp / "jax_model.py").write_text(JAX_MODEL)
    (tmp / "torch_model.py").write_text(TORCH_MODEL)
    cases = {
        "pt2-without-torch": (["compare", tmp / "fake.pt2"], no_extras, 2,
                              'pip install "lagrange_ad[torch]"'),
        "jax-pair-without-jax": (["compare", f"{tmp / 'jax_model.py'}:model"], no_extras, 2,
                                 'pip install "lagrange_ad[jax]"'),
        "torch-pair-without-torch": (["show", f"{tmp / 'torch_model.py'}:model"], no_extras, 2,
                                     'pip install "lagrange_ad[torch]"'),
        "named-model-without-torch": (["verify", "torch:mlp"], no_extras, 2,
                                      'pip install "lagrange_ad[torch]"'),
    }
    if importlib.util.find_spec("jax"):
        cases["jax-pair"] = (["verify", f"{tmp / 'jax_model.py'}:model"], {}, 0, "gradient")
    if importlib.util.find_spec("torch"):
        cases["torch-pair"] = (["compare", f"{tmp / 'torch_model.py'}:model", "--methods",
                                "reverse", "--format", "json"], {}, 0, '"net.0.weight"')
    running = {case: installed(argv, tmp, env) for case, (argv, env, _, _) in cases.items()}
    results = {}
    for case, process in running.items():
        out, err = process.communicate(timeout=300)
        results[case] = (process.returncode, out, err, cases[case])
    return results


@pytest.mark.parametrize("case", ["pt2-without-torch", "jax-pair-without-jax",
                                  "torch-pair-without-torch", "named-model-without-torch",
                                  "jax-pair", "torch-pair"])
def test_the_installed_command_on_models(installed_runs, case):
    if case not in installed_runs:
        pytest.importorskip(case.split("-")[0])
    status, out, err, (_, _, want, text) = installed_runs[case]
    assert status == want, (out, err)
    assert "Traceback" not in err
    if want == 2:
        assert len(err.strip().splitlines()) == 1 and text in err, err
    else:
        assert text in out, out
