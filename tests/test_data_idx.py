"""IDX parsing and the MNIST / Fashion-MNIST loaders on small generated files."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from steepest.data import encode_idx, load_dataset, parse_idx, read_idx, write_idx
from steepest.errors import DataError, InputError

STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.setenv("STEEPEST_DATA", str(tmp_path / "cache"))
    for var in ("STEEPEST_MNIST_DIR", "STEEPEST_FASHION_MNIST_DIR", "STEEPEST_MIRROR_MNIST"):
        monkeypatch.delenv(var, raising=False)


def fake_mnist(folder, n_train=30, n_test=12, *, compress=True, seed=0, names=None):
    """Write a tiny MNIST-shaped dataset; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": (np.arange(n_train) % 10).astype(np.uint8),
        "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": (np.arange(n_test) % 10).astype(np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    for role, arr in arrays.items():
        name = (names or STEMS)[role] + (".gz" if compress else "")
        write_idx(folder / name, arr, compress=compress)
    return arrays


# ------------------------------------------------------------------------------ the format


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_roundtrip_every_dtype(tmp_path, dtype, compress):
    arr = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    path = write_idx(tmp_path / ("a.idx.gz" if compress else "a.idx"), arr)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(out, arr)
    assert out.flags.writeable


def test_header_is_big_endian():
    buf = encode_idx(np.array([[1, 2, 3]], dtype=np.int32))
    assert buf[:4] == b"\x00\x00\x0c\x02"
    assert struct.unpack(">II", buf[4:12]) == (1, 3)
    assert buf[12:16] == b"\x00\x00\x00\x01"


def test_compressed_output_is_reproducible(tmp_path):
    arr = np.arange(100, dtype=np.uint8)
    a = write_idx(tmp_path / "a.gz", arr).read_bytes()
    b = write_idx(tmp_path / "b.gz", arr).read_bytes()
    assert a == b


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.uint8, np.int16, np.int32, np.float64]),
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=5),
    )
)
def test_parse_inverts_encode(arr):
    out = parse_idx(encode_idx(arr))
    assert out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_encode_rejects_unsupported_dtype():
    with pytest.raises(InputError, match="int64"):
        encode_idx(np.zeros(3, dtype=np.int64))


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "not an IDX file"),
        (b"\x00\x00", "not an IDX file"),
        (b"\x01\x00\x08\x01" + b"\x00\x00\x00\x01" + b"\x05", "magic"),
        (b"\x00\x00\x0a\x01" + b"\x00\x00\x00\x01" + b"\x05", "magic"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x04\x01\x02", "truncated"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "trailing bytes"),
        (b"\x00\x00\x0c\x01\x00\x00\x00\x01\x00\x00\x01", "truncated"),
    ],
)
def test_malformed_files_name_the_file(tmp_path, payload, message):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(payload)
    with pytest.raises(DataError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_names_the_file(tmp_path):
    good = gzip.compress(encode_idx(np.arange(5000, dtype=np.uint8)))
    path = tmp_path / "x.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_dimensions_disagreeing_with_byte_count(tmp_path):
    # header says 3 x 28 x 28 but only two images follow
    body = struct.pack(">HBB3I", 0, 8, 3, 3, 28, 28) + bytes(2 * 28 * 28)
    path = tmp_path / "imgs"
    path.write_bytes(gzip.compress(body))
    with pytest.raises(DataError, match=r"\(3, 28, 28\).*2368 bytes.*1584"):
        read_idx(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="nope"):
        read_idx(tmp_path / "nope")


# ------------------------------------------------------------------------------ the loaders


@pytest.mark.parametrize("compress", [True, False])
def test_load_fake_mnist(tmp_path, compress):
    arrays = fake_mnist(tmp_path / "m", compress=compress)
    ds = load_dataset("mnist", data_dir=tmp_path / "m")
    assert ds.X_train.shape == (30, 784) and ds.X_test.shape == (12, 784)
    assert ds.X_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    assert ds.image_shape == (28, 28)
    assert ds.classes == [str(i) for i in range(10)]
    np.testing.assert_array_equal(ds.X_train * 255, arrays["train_images"].reshape(30, -1))
    np.testing.assert_array_equal(ds.y_test, arrays["test_labels"])
    assert ds.source["kind"] == "files" and ds.source["verified"] is False
    assert ds.source["train_images"].startswith(str(tmp_path / "m"))


def test_kaggle_spelling_is_accepted(tmp_path):
    names = {k: v.replace("-idx", ".idx") for k, v in STEMS.items()}
    fake_mnist(tmp_path / "k", compress=False, names=names)
    assert load_dataset("mnist", data_dir=tmp_path / "k").n_train == 30


def test_fashion_mnist_class_names(tmp_path):
    fake_mnist(tmp_path / "f")
    ds = load_dataset("fashion-mnist", data_dir=tmp_path / "f", download=False)
    assert ds.name == "fashion-mnist"
    assert ds.classes[0] == "T-shirt/top" and ds.classes[9] == "Ankle boot"
    assert load_dataset("fashion_mnist", data_dir=tmp_path / "f").name == "fashion-mnist"


def test_pixels_are_scaled_exactly(tmp_path):
    folder = tmp_path / "s"
    fake_mnist(folder)
    img = np.zeros((10, 28, 28), dtype=np.uint8)
    img[0, 0, :] = np.arange(28) * 9  # 0..243
    img[1, 0, 0] = 255
    write_idx(folder / "t10k-images-idx3-ubyte.gz", img)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(10, dtype=np.uint8))
    ds = load_dataset("mnist", data_dir=folder)
    np.testing.assert_array_equal(ds.X_test[0, :28], (np.arange(28) * 9).astype(np.float32) / 255)
    assert ds.X_test[1, 0] == 1.0 and ds.X_test.min() == 0.0


def test_count_mismatch_names_both_files(tmp_path):
    folder = tmp_path / "c"
    fake_mnist(folder)
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(29, dtype=np.uint8))
    with pytest.raises(DataError, match="30 images.*29 labels") as info:
        load_dataset("mnist", data_dir=folder)
    assert "train-images-idx3-ubyte.gz" in str(info.value)
    assert "train-labels-idx1-ubyte.gz" in str(info.value)


def test_label_out_of_range(tmp_path):
    folder = tmp_path / "r"
    fake_mnist(folder)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", np.full(12, 10, dtype=np.uint8))
    with pytest.raises(DataError, match="t10k-labels.*label 10"):
        load_dataset("mnist", data_dir=folder)


def test_wrong_kind_of_file(tmp_path):
    folder = tmp_path / "w"
    fake_mnist(folder)
    write_idx(folder / "train-images-idx3-ubyte.gz", np.zeros(30, dtype=np.uint8))
    with pytest.raises(DataError, match="train-images.*3-D uint8"):
        load_dataset("mnist", data_dir=folder)


def test_truncated_dataset_file(tmp_path):
    folder = tmp_path / "t"
    fake_mnist(folder, compress=False)
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated") as info:
        load_dataset("mnist", data_dir=folder)
    assert str(path) in str(info.value)


def test_missing_files_say_which_and_how(tmp_path):
    folder = tmp_path / "partial"
    fake_mnist(folder)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError) as info:
        load_dataset("mnist", data_dir=folder)
    msg = str(info.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "train-images-idx3-ubyte.gz" in msg
    assert "train-labels" not in msg
    assert "download=True" in msg and "--data-dir" in msg


def test_data_dir_that_does_not_exist(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        load_dataset("mnist", data_dir=tmp_path / "absent")


def test_mnist_takes_no_generator_options(tmp_path):
    with pytest.raises(InputError, match="n_classes"):
        load_dataset("mnist", data_dir=tmp_path, n_classes=3)
