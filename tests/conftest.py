import json
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def mnist_dir() -> Path | None:
    """Where the real MNIST files are: $STEEPEST_MNIST_DIR, else ../shared/data/mnist."""
    env = os.environ.get("STEEPEST_MNIST_DIR")
    d = Path(env) if env else ROOT.parent / "shared" / "data" / "mnist"
    return d if (d / "train-images-idx3-ubyte.gz").exists() else None


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="session")
def mnist_path():
    d = mnist_dir()
    if d is None:
        pytest.skip("real MNIST files not found (set STEEPEST_MNIST_DIR)")
    return d


def _check_lab_result(result, tmp_path):
    """A lab result whose every claim held, with figures, table and text, saved whole."""
    from matplotlib.figure import Figure

    failed = [f"{v.claim}: {v.measured}" for v in result.verdicts if not v.held]
    assert result.held, failed
    assert result.verdicts and result.table and result.text
    assert result.figures and all(isinstance(f, Figure) for f in result.figures.values())
    result.save(tmp_path)
    for stem in result.figures:
        for fmt in ("png", "svg", "pdf"):
            assert (tmp_path / f"{stem}.{fmt}").stat().st_size > 0
    assert (tmp_path / "table.csv").read_text().count("\n") == len(result.table) + 1
    saved = json.loads((tmp_path / "result.json").read_text())
    assert saved["name"] == result.name and saved["held"] is True
    assert len(saved["verdicts"]) == len(result.verdicts)
    assert "Verdicts:" in (tmp_path / "README.txt").read_text()


@pytest.fixture
def check_lab_result():
    """The checks every lab experiment's quick result must pass (tests/test_lab_*.py)."""
    return _check_lab_result
