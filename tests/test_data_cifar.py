"""CIFAR-10 batches: the format, the restricted unpickler, and refusal of malicious pickles."""

from __future__ import annotations

import io
import os
import pickle
import struct

import numpy as np
import pytest

from steepest.data import load_dataset, read_cifar_batch, read_cifar_meta, safe_unpickle
from steepest.errors import ChecksumError, DataError

NAMES = [b"airplane", b"automobile", b"bird", b"cat", b"deer"] + [
    b"dog",
    b"frog",
    b"horse",
    b"ship",
    b"truck",
]
BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    monkeypatch.setenv("STEEPEST_DATA", str(tmp_path / "cache"))
    monkeypatch.delenv("STEEPEST_CIFAR10_DIR", raising=False)


# ------------------------------------------------------------------------------ writers


def _py2_emit(obj, out: io.BytesIO) -> None:
    """Emit protocol-2 opcodes the way Python 2 wrote the original CIFAR files.

    Python 2 stores byte strings with SHORT_BINSTRING / BINSTRING and numpy arrays through
    ``numpy.core.multiarray._reconstruct``; Python 3's pickler cannot produce either.
    """
    if isinstance(obj, dict):
        out.write(b"}(")
        for k, v in obj.items():
            _py2_emit(k, out)
            _py2_emit(v, out)
        out.write(b"u")
    elif isinstance(obj, bytes):
        if len(obj) < 256:
            out.write(b"U" + bytes([len(obj)]) + obj)
        else:
            out.write(b"T" + struct.pack("<I", len(obj)) + obj)
    elif isinstance(obj, bool):
        out.write(b"\x88" if obj else b"\x89")
    elif isinstance(obj, int):
        out.write(b"K" + bytes([obj]) if 0 <= obj < 256 else b"J" + struct.pack("<i", obj))
    elif obj is None:
        out.write(b"N")
    elif isinstance(obj, list):
        out.write(b"](")
        for v in obj:
            _py2_emit(v, out)
        out.write(b"e")
    elif isinstance(obj, tuple):
        out.write(b"(")
        for v in obj:
            _py2_emit(v, out)
        out.write(b"t")
    elif isinstance(obj, np.ndarray):
        out.write(b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n")
        _py2_emit((0,), out)
        _py2_emit(b"b", out)
        out.write(b"\x87R(")  # TUPLE3, REDUCE, then the __setstate__ tuple
        _py2_emit(1, out)
        _py2_emit(tuple(obj.shape), out)
        out.write(b"cnumpy\ndtype\n")
        _py2_emit((b"u1", 0, 1), out)
        out.write(b"R")
        _py2_emit((3, b"|", None, None, None, -1, -1, 0), out)
        out.write(b"b")
        _py2_emit(False, out)
        _py2_emit(obj.tobytes(), out)
        out.write(b"tb")
    else:  # pragma: no cover - test helper
        raise TypeError(type(obj))


def py2_pickle(obj) -> bytes:
    out = io.BytesIO()
    out.write(b"\x80\x02")
    _py2_emit(obj, out)
    out.write(b".")
    return out.getvalue()


def make_images(n: int, seed: int) -> np.ndarray:
    """(n, 32, 32, 3) uint8 pictures in height-width-channel order."""
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def to_rows(images: np.ndarray) -> np.ndarray:
    """The on-disk layout: all red values, then green, then blue (channel-major)."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072).copy()


def write_cifar(folder, n=4, *, style="py2", meta=True):
    """Write a complete tiny CIFAR-10 folder; return {batch name: (images, labels)}."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for i, name in enumerate(BATCHES):
        images = make_images(n, seed=i)
        labels = [(i + j) % 10 for j in range(n)]
        batch = {
            b"batch_label": f"batch {i}".encode(),
            b"labels": labels,
            b"data": to_rows(images),
            b"filenames": [f"img{j}.png".encode() for j in range(n)],
        }
        if style == "py2":
            raw = py2_pickle(batch)
        else:  # what a Python 3 user would write: str keys, protocol 2
            raw = pickle.dumps({k.decode(): v for k, v in batch.items()}, protocol=2)
        (folder / name).write_bytes(raw)
        written[name] = (images, np.array(labels))
    if meta:
        meta_obj = {b"label_names": NAMES, b"num_cases_per_batch": n, b"num_vis": 3072}
        (folder / "batches.meta").write_bytes(py2_pickle(meta_obj))
    return written


# ------------------------------------------------------------------------------ loading


@pytest.mark.parametrize("style", ["py2", "py3"])
def test_read_batch_converts_channel_major_rows(tmp_path, style):
    written = write_cifar(tmp_path / "cifar-10-batches-py", style=style)
    images, labels = read_cifar_batch(tmp_path / "cifar-10-batches-py" / "data_batch_3")
    want_images, want_labels = written["data_batch_3"]
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(images, want_images)
    np.testing.assert_array_equal(labels, want_labels)
    assert labels.dtype == np.int64


def test_py2_style_pickle_has_bytes_keys():
    raw = py2_pickle({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0]})
    obj = safe_unpickle(raw)
    assert set(obj) == {b"data", b"labels"}


@pytest.mark.parametrize("point_at", ["parent", "folder"])
def test_load_dataset_cifar10(tmp_path, point_at):
    folder = tmp_path / "cifar-10-batches-py"
    written = write_cifar(folder)
    ds = load_dataset("cifar10", data_dir=tmp_path if point_at == "parent" else folder)
    assert ds.X_train.shape == (20, 3072) and ds.X_test.shape == (4, 3072)
    assert ds.image_shape == (32, 32, 3)
    assert ds.classes[0] == "airplane" and ds.classes[9] == "truck"
    # row k of the second batch reshapes to the original picture, scaled to [0, 1]
    pic = ds.X_train[4 + 2].reshape(ds.image_shape)
    np.testing.assert_array_equal(pic * 255, written["data_batch_2"][0][2])
    assert np.isclose(pic, written["data_batch_2"][0][2] / 255.0, atol=0, rtol=1e-7).all()
    np.testing.assert_array_equal(ds.y_test, written["test_batch"][1])
    assert ds.X_train.min() >= 0 and ds.X_train.max() <= 1


def test_missing_meta_falls_back_to_standard_names(tmp_path):
    write_cifar(tmp_path, meta=False)
    ds = load_dataset("cifar-10", data_dir=tmp_path)
    assert ds.classes[3] == "cat"


def test_missing_batches_are_listed(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "data_batch_4").unlink()
    with pytest.raises(DataError, match="data_batch_4") as info:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "download=True" in str(info.value)


def test_read_meta(tmp_path):
    write_cifar(tmp_path)
    assert read_cifar_meta(tmp_path / "batches.meta")[1] == "automobile"


# ------------------------------------------------------------------------------ safety


class _RunsShell:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Evaluates:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


@pytest.mark.parametrize("payload", [_RunsShell, _Evaluates])
def test_malicious_pickle_is_refused_and_not_run(tmp_path, payload):
    marker = tmp_path / "pwned"
    folder = tmp_path / "c"
    write_cifar(folder)
    evil = {"data": payload(marker), "labels": [0]}
    (folder / "data_batch_1").write_bytes(pickle.dumps(evil, protocol=2))
    with pytest.raises(DataError, match="refusing to load global") as info:
        load_dataset("cifar10", data_dir=folder)
    assert "data_batch_1" in str(info.value)
    assert not marker.exists()


@pytest.mark.parametrize(
    "global_ref",
    [
        b"cposix\nsystem\n",
        b"cbuiltins\neval\n",
        b"c__builtin__\neval\n",
        b"csubprocess\nPopen\n",
        b"cnumpy\nload\n",
        b"cnumpy.core.multiarray\nscalar\n",
        b"cnumpy.lib.npyio\nload\n",
    ],
)
def test_any_other_global_is_refused(global_ref):
    raw = b"\x80\x02" + global_ref + b"U\x04argsq\x00\x85R."
    with pytest.raises(DataError, match="refusing"):
        safe_unpickle(raw, "evil.pkl")


def test_codecs_encode_only_for_latin1():
    raw = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R."
    with pytest.raises(DataError, match="latin-1"):
        safe_unpickle(raw)
    ok = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00latin1\x86R."
    assert safe_unpickle(ok) == b"a"


def test_persistent_ids_are_refused():
    raw = b"\x80\x02U\x03pidQ."  # BINPERSID
    with pytest.raises(DataError, match="persistent"):
        safe_unpickle(raw)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({b"labels": [0]}, "no 'data'"),
        ({b"data": np.zeros((1, 3072), np.uint8)}, "no 'labels'"),
        ({b"data": np.zeros((2, 3000), np.uint8), b"labels": [0, 1]}, "3072"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "2 images but 1 labels"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, r"\[0, 10\)"),
        ({b"data": b"not an array", b"labels": [0]}, "2-D uint8"),
        ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [b"cat"]}, "integers"),
    ],
)
def test_malformed_batches(tmp_path, batch, message):
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_pickle(batch))
    with pytest.raises(DataError, match=message) as info:
        read_cifar_batch(path)
    assert str(path) in str(info.value)


def test_non_dict_pickle(tmp_path):
    path = tmp_path / "test_batch"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(DataError, match="expected a pickled dict"):
        read_cifar_batch(path)


def test_float_array_is_rejected(tmp_path):
    path = tmp_path / "test_batch"
    bad = {"data": np.zeros((1, 3072), np.float32), "labels": [0]}
    path.write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DataError, match="uint8"):
        read_cifar_batch(path)


def test_truncated_batch(tmp_path):
    write_cifar(tmp_path)
    path = tmp_path / "test_batch"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(DataError, match="truncated") as info:
        load_dataset("cifar10", data_dir=tmp_path)
    assert "test_batch" in str(info.value)


def test_checksum_is_checked_when_given(tmp_path):
    write_cifar(tmp_path)
    with pytest.raises(ChecksumError, match="data_batch_1"):
        read_cifar_batch(tmp_path / "data_batch_1", md5="0" * 32)
