"""The Dataset container, load_dataset for bundled / synthetic data, and dataset_info."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from steepest.data import DATASETS, Dataset, canonical_name, dataset_info, load_dataset
from steepest.errors import DataError, InputError


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.setenv("STEEPEST_DATA", str(tmp_path / "cache"))
    for var in ("STEEPEST_MNIST_DIR", "STEEPEST_FASHION_MNIST_DIR", "STEEPEST_CIFAR10_DIR"):
        monkeypatch.delenv(var, raising=False)
    for var in ("MNIST", "FASHION_MNIST", "CIFAR10"):  # never the internet
        monkeypatch.setenv(f"STEEPEST_MIRROR_{var}", "http://127.0.0.1:9/")


def _small(**kw):
    args = dict(
        name="toy",
        X_train=np.arange(12, dtype=np.float64).reshape(4, 3),
        y_train=np.array([0, 1, 0, 1]),
        X_test=np.ones((2, 3)),
        y_test=np.array([1.0, 0.0]),
        classes=["a", "b"],
    )
    args.update(kw)
    return Dataset(**args)


# ------------------------------------------------------------------------------ container


def test_container_coerces_and_describes():
    ds = _small(image_shape=[3, 1])
    assert ds.X_train.dtype == np.float32 and ds.y_test.dtype == np.int64
    assert ds.n_features == 3 and ds.n_classes == 2 and ds.n_train == 4 and ds.n_test == 2
    assert ds.image_shape == (3, 1)
    assert ds.class_counts("test").tolist() == [1, 1]
    assert "toy" in repr(ds) and "(4, 3)" in repr(ds)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "other"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"X_train": np.zeros(4)}, "2-D"),
        ({"y_train": np.array([0, 1, 0])}, "3 labels but X has 4 rows"),
        ({"y_train": np.array([0, 1, 2, 0])}, r"label 2.*\[0, 2\)"),
        ({"y_test": np.array([0.5, 1.0])}, "integer"),
        ({"X_test": np.ones((2, 4))}, "3 features but X_test has 4"),
        ({"image_shape": (2, 2)}, "image_shape"),
        ({"classes": []}, "at least one class"),
    ],
)
def test_container_validation(kw, message):
    with pytest.raises(InputError, match=message):
        _small(**kw)


def test_class_counts_rejects_unknown_split():
    with pytest.raises(InputError, match="allowed: train, test"):
        _small().class_counts("val")


# ------------------------------------------------------------------------------ names


def test_unknown_name_lists_the_allowed_ones():
    with pytest.raises(InputError) as info:
        load_dataset("imagenet")
    msg = str(info.value)
    assert "'imagenet'" in msg and all(n in msg for n in DATASETS)


@pytest.mark.parametrize(
    ("alias", "name"),
    [("MNIST", "mnist"), ("Fashion_MNIST", "fashion-mnist"), ("CIFAR-10", "cifar10")],
)
def test_aliases(alias, name):
    assert canonical_name(alias) == name


def test_name_must_be_a_string():
    with pytest.raises(InputError, match="string"):
        load_dataset(3)


# ------------------------------------------------------------------------------ digits


def test_digits_bundled_and_stratified():
    ds = load_dataset("digits")
    assert ds.X_train.shape == (1438, 64) and ds.X_test.shape == (359, 64)
    assert ds.image_shape == (8, 8) and ds.n_classes == 10
    assert ds.X_train.min() == 0.0 and ds.X_train.max() == 1.0
    np.testing.assert_array_equal(ds.X_train * 16, np.round(ds.X_train * 16))
    total = ds.class_counts("train") + ds.class_counts("test")
    np.testing.assert_allclose(ds.class_counts("test") / total, 0.2, atol=0.02)
    assert ds.source["kind"] == "bundled"


def test_digits_split_is_deterministic_and_seeded():
    a, b = load_dataset("digits"), load_dataset("digits")
    np.testing.assert_array_equal(a.X_test, b.X_test)
    c = load_dataset("digits", seed=1)
    assert not np.array_equal(a.y_test, c.y_test)
    d = load_dataset("digits", test_fraction=0.5)
    assert d.n_test == 898 or d.n_test == 899


def test_digits_rejects_generator_options():
    with pytest.raises(InputError, match="no options"):
        load_dataset("digits", noise=0.1)


# ------------------------------------------------------------------------------ synthetic


def test_spiral_dataset():
    ds = load_dataset("spiral")
    assert ds.n_train == 240 and ds.n_test == 60 and ds.n_features == 2
    assert ds.image_shape is None and ds.n_classes == 3
    assert ds.source["kind"] == "synthetic" and ds.source["noise"] == 0.2
    big = load_dataset("spiral", n_per_class=50, n_classes=5, seed=3)
    assert big.n_train + big.n_test == 250 and big.classes == ["0", "1", "2", "3", "4"]


def test_blobs_dataset_options():
    ds = load_dataset("blobs", n_features=5, n_classes=4, std=0.5)
    assert ds.n_features == 5 and ds.n_classes == 4
    with pytest.raises(InputError, match="unknown option.*noise.*allowed"):
        load_dataset("blobs", noise=1.0)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"test_fraction": 0}, "test_fraction"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_bad_common_arguments(kw, message):
    with pytest.raises(InputError, match=message):
        load_dataset("spiral", **kw)


# ------------------------------------------------------------------------------ info


def test_info_of_bundled_and_synthetic():
    info = dataset_info("digits")
    assert info.available and info.location == "bundled"
    assert info.shapes == {
        "X_train": (1438, 64),
        "y_train": (1438,),
        "X_test": (359, 64),
        "y_test": (359,),
    }
    assert sum(info.class_counts["train"]) == 1438
    assert dataset_info("spiral").location == "synthetic"
    json.dumps(info.to_dict())  # plain data, ready for a CLI to render


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist", "cifar10"])
def test_info_of_missing_files(name, tmp_path):
    info = dataset_info(name)
    assert info.available is False and info.shapes is None
    assert info.missing and info.location is None
    assert info.cache_dir == str(tmp_path / "cache" / name)
    assert info.n_classes == 10 and len(info.classes) == 10
    assert "steepest data download" in info.hint
    json.dumps(info.to_dict())


def test_info_lists_partially_present_files(tmp_path):
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"x")
    info = dataset_info("mnist")
    assert "train-labels-idx1-ubyte.gz" not in info.missing
    assert len(info.missing) == 3
    assert info.files["train_labels"].endswith("train-labels-idx1-ubyte.gz")


def test_info_reports_corruption_as_an_error(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    for stem in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"):
        (folder / f"{stem}-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09")
    with pytest.raises(DataError, match="truncated"):
        dataset_info("mnist", data_dir=folder)


def test_missing_files_without_download_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="download=True"):
        load_dataset("fashion-mnist", download=False)
    with pytest.raises(DataError, match="cifar-10|data_batch_1"):
        load_dataset("cifar10", download=False)
