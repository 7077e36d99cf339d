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
