"""The research notebooks run from top to bottom, and are stored without outputs.

Each notebook in ``notebooks/`` is executed in a fresh ``python3`` kernel with nbclient
(a kernel of the current interpreter, as ipykernel provides when no kernel spec is
installed). The kernel imports the package from this checkout, draws with matplotlib's Agg
backend, and a failing cell fails the test with that cell's source and traceback. A notebook
that needs optional packages (torch, jax) lists them in its metadata,
``{"lagrange_ad": {"requires": ["torch", "jax"]}}``, and is skipped when one is missing.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from nbclient.exceptions import CellExecutionError, CellTimeoutError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds; every notebook runs in well under a minute on two cores
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")  # colors of IPython tracebacks


def _kernel_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel inherits this process's environment: headless plots, this checkout first."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT)] + ([path] if path else [])))


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 7, [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_without_outputs(path: Path):
    raw = json.loads(path.read_text(encoding="utf-8"))
    assert raw["metadata"]["kernelspec"]["name"] == "python3"
    for k, cell in enumerate(raw["cells"]):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {k} of {path.name} has stored outputs"
            assert cell["execution_count"] is None, f"cell {k} of {path.name} was executed"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch):
    _kernel_environment(monkeypatch)
    notebook = nbformat.read(path, as_version=4)
    for package in notebook.metadata.get("lagrange_ad", {}).get("requires", []):
        pytest.importorskip(package)
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellTimeoutError as exc:
        pytest.fail(f"{path.name}: a cell ran longer than {CELL_TIMEOUT} s\n{exc}",
                    pytrace=False)
    except CellExecutionError as exc:
        # the message holds the failing cell's source and its traceback
        pytest.fail(f"{path.name} failed:\n{ANSI_ESCAPE.sub('', str(exc))}", pytrace=False)
    errors = [output for cell in notebook.cells for output in cell.get("outputs", [])
              if output.get("output_type") == "error"]
    assert not errors, f"{path.name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"


def test_readme_lists_every_notebook():
    readme = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in NOTEBOOKS if p.name not in readme]
    assert not missing, f"notebooks/README.md does not mention {missing}"
