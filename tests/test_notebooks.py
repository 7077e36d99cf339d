"""The course notebooks in examples/: one per part of the course, committed without outputs,
and each runs headless (nbclient and an ipykernel kernel of this interpreter) on the bundled
digits without an error, showing its results and figures inline."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
COURSE = [
    "01-gradients-and-gradient-checking",
    "02-optimizers-and-schedules",
    "03-babysitting-a-run",
    "04-loss-landscapes-and-curvature",
    "05-hyperparameter-search",
    "06-your-own-pytorch-model",
]
NEEDS = {"06-your-own-pytorch-model": "torch"}  # notebooks skipped where a package is absent
KERNEL = "steepest-notebooks"


def _cells(name: str) -> list[dict]:
    raw = json.loads((EXAMPLES / f"{name}.ipynb").read_text(encoding="utf-8"))
    assert raw["nbformat"] == 4, name
    return raw["cells"]


def test_the_course_has_one_notebook_per_part():
    assert sorted(p.stem for p in EXAMPLES.glob("*.ipynb")) == COURSE


@pytest.mark.parametrize("name", COURSE)
def test_committed_notebooks_carry_no_outputs(name):
    cells = _cells(name)
    code = [c for c in cells if c["cell_type"] == "code"]
    for cell in code:
        assert cell["outputs"] == [], f"{name}: a cell keeps its outputs"
        assert cell["execution_count"] is None, f"{name}: a cell keeps its execution count"
        assert "execution" not in cell.get("metadata", {}), f"{name}: execution timings kept"
    # each step is explained: a markdown cell before the code, and about one per code cell
    assert cells[0]["cell_type"] == "markdown"
    assert sum(c["cell_type"] == "markdown" for c in cells) >= len(code) // 2
    # the figures that plot() returns (built without pyplot) display inline in Jupyter
    assert "".join(code[0]["source"]).startswith("%matplotlib inline")


@pytest.fixture
def kernel(tmp_path, monkeypatch):
    """A kernelspec of this interpreter under a private name (a user's own "python3" kernel
    may be another Python); IPython's history and the notebooks' temporary run folders go
    into the test's folder."""
    pytest.importorskip("ipykernel")
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "steepest (tests)", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    return KERNEL


@pytest.mark.slow
@pytest.mark.parametrize("name", COURSE)
def test_notebook_runs(name, kernel, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    needed = NEEDS.get(name)
    if needed is not None and importlib.util.find_spec(needed) is None:
        pytest.skip(f"{name} needs {needed}")
    nb = nbformat.read(EXAMPLES / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name=kernel, timeout=180, startup_timeout=120,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o for o in outputs if {"image/png", "text/html"} & set(o.get("data", {}))]
    assert shown, f"{name} shows no result or figure inline"
    # every figure the notebook returns is drawn, none is left as "<Figure size ...>" text
    for o in outputs:
        data = o.get("data", {})
        if str(data.get("text/plain", "")).startswith("<Figure size"):
            assert "image/png" in data, f"{name}: a figure was not drawn"
