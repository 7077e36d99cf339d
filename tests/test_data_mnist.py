"""The real MNIST files (found via STEEPEST_MNIST_DIR, else <repo>/../shared/data/mnist)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from steepest.data import Preprocessor, dataset_info, load_dataset, verify_file
from steepest.data import download as dl

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def _shared_mnist() -> Path:
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"
    return Path(os.environ.get("STEEPEST_MNIST_DIR") or default)


MNIST_DIR = _shared_mnist()
pytestmark = pytest.mark.skipif(
    not all((MNIST_DIR / f.name).is_file() for f in dl.MNIST_FILES),
    reason=f"real MNIST files not found in {MNIST_DIR} (set STEEPEST_MNIST_DIR)",
)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.setenv("STEEPEST_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("STEEPEST_MNIST_DIR", raising=False)
    monkeypatch.setenv("STEEPEST_MIRROR_MNIST", "http://127.0.0.1:9/")  # never the internet


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist", data_dir=MNIST_DIR, download=False)


def test_shapes_and_types(mnist):
    assert mnist.X_train.shape == (60000, 784) and mnist.X_test.shape == (10000, 784)
    assert mnist.X_train.dtype == np.float32 and mnist.y_train.dtype == np.int64
    assert mnist.image_shape == (28, 28) and mnist.n_features == 784 and mnist.n_classes == 10
    assert mnist.classes == [str(i) for i in range(10)]


def test_label_counts(mnist):
    assert mnist.class_counts("train").tolist() == TRAIN_COUNTS
    assert mnist.class_counts("test").tolist() == TEST_COUNTS
    assert mnist.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.y_test[:3].tolist() == [7, 2, 1]


def test_pixels_in_unit_interval_and_exact(mnist):
    X = mnist.X_train
    assert X.min() == 0.0 and X.max() == 1.0
    scaled = X[:2000] * 255
    np.testing.assert_array_equal(scaled, np.round(scaled))
    # the average digit has about 19% of its 784 pixels inked
    assert 0.12 < float(X[:2000].mean()) < 0.14


def test_shared_files_match_the_content_checksums():
    for spec in dl.MNIST_FILES:
        verify_file(MNIST_DIR / spec.name, spec)  # raises ChecksumError on mismatch


def test_found_through_environment_variable(monkeypatch):
    monkeypatch.setenv("STEEPEST_MNIST_DIR", str(MNIST_DIR))
    info = dataset_info("mnist")
    assert info.available is True
    assert info.location == str(MNIST_DIR)
    assert info.shapes["X_train"] == (60000, 784)
    assert info.class_counts == {"train": TRAIN_COUNTS, "test": TEST_COUNTS}
    assert info.image_shape == (28, 28) and info.n_classes == 10
    assert set(info.files) == {"train_images", "train_labels", "test_images", "test_labels"}


def test_standardize_handles_constant_pixels(mnist):
    X_train, X_test = mnist.X_train[:5000], mnist.X_test[:1000]
    pre = Preprocessor("standardize").fit(X_train)
    constant = X_train.max(axis=0) == X_train.min(axis=0)
    assert constant.sum() > 50  # MNIST's empty borders
    Z_train, Z_test = pre.transform(X_train), pre.transform(X_test)
    assert np.isfinite(Z_train).all() and np.isfinite(Z_test).all()
    assert (Z_train[:, constant] == 0).all() and (Z_test[:, constant] == 0).all()
    live = ~constant
    np.testing.assert_allclose(Z_train[:, live].mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(Z_train[:, live].std(axis=0), 1, rtol=1e-3)
