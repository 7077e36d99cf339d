"""CIFAR-10 "python version" batches, read without executing code from the files.

Each batch (``data_batch_1`` .. ``data_batch_5``, ``test_batch``) is a pickled dict with

* ``data``: ``(N, 3072)`` uint8; each row holds the 1024 red values, then the 1024 green, then
  the 1024 blue ones, each plane in row-major order of the 32 x 32 image;
* ``labels``: ``N`` integers in ``[0, 10)``.

``batches.meta`` holds ``label_names``. The originals were written by Python 2 with pickle
protocol 2, so their keys come back as bytes (``b"data"``); both bytes and str keys are accepted.

Pickle can run arbitrary callables, so :class:`RestrictedUnpickler` resolves only the few globals
a NumPy array needs (``_reconstruct``, ``ndarray``, ``dtype``, and ``_codecs.encode`` restricted to
latin-1, which is how Python 3 writes bytes at protocol 2); anything else raises
:class:`DataError` before it is called.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .._bounded import check_size, short_repr
from ..errors import ChecksumError, DataError, InputError
from ._files import md5_bytes, read_bytes

CIFAR10_DIRNAME = "cifar-10-batches-py"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST_FILE = "test_batch"
CIFAR10_META_FILE = "batches.meta"
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CIFAR10_IMAGE_SHAPE = (32, 32, 3)

# ``ndarray.__reduce__`` names the reconstruct helper under whichever module this NumPy uses,
# so take the function from there instead of importing the deprecated ``numpy.core``.
_reconstruct = np.ndarray((0,), np.uint8).__reduce__()[0]


def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    """Stand-in for ``_codecs.encode`` that only turns a str into bytes via latin-1."""
    if not isinstance(obj, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(
            f"refusing _codecs.encode({type(obj).__name__}, {encoding!r}); only latin-1 "
            "encoding of a str is allowed"
        )
    return obj.encode("latin-1", errors)


_ALLOWED_GLOBALS: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


MAX_PICKLE_ELEMENTS = 200_000  # a CIFAR batch: one array, 10,000 labels, 10,000 file names


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals listed in ``_ALLOWED_GLOBALS``."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}; only NumPy array reconstruction "
                "is allowed in dataset files"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed in dataset files")


def safe_unpickle(data: bytes, source: str | os.PathLike = "<bytes>") -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler` (``encoding="bytes"``).

    Any refusal or malformed stream raises :class:`DataError` naming ``source``.
    """
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
        # shared references let a small pickle stand for a huge tree: bound it before use
        check_size(obj, f"{source}", max_elements=MAX_PICKLE_ELEMENTS)
        return obj
    except InputError as exc:
        raise DataError(f"{source}: refusing the pickled data: {exc}") from None
    except pickle.UnpicklingError as exc:
        raise DataError(f"{source}: unsafe or malformed pickle: {exc}") from exc
    except Exception as exc:  # any failure decoding untrusted bytes is a data problem
        raise DataError(
            f"{source}: corrupted or truncated pickle ({type(exc).__name__}: "
            f"{short_repr(str(exc))})"
        ) from None


def _str_keys(obj: Any, source: Path) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise DataError(f"{source}: expected a pickled dict, got {type(obj).__name__}")
    out: dict[str, Any] = {}
    for k, v in obj.items():
        if isinstance(k, bytes):
            k = k.decode("latin-1")
        if isinstance(k, str):
            out[k] = v
    return out


def read_cifar_batch(
    path: str | os.PathLike, *, md5: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR-10 batch file; return ``(images, labels)``.

    ``images`` is ``(N, 32, 32, 3)`` uint8 (height, width, channel), converted from the stored
    channel-major rows; ``labels`` is ``(N,)`` int64 in ``[0, 10)``. When ``md5`` is given the
    file's bytes must hash to it (else :class:`~steepest.errors.ChecksumError`).
    """
    path = Path(path)
    raw = read_bytes(path)
    if md5 is not None:
        _check_md5(raw, md5, path)
    batch = _str_keys(safe_unpickle(raw, path), path)
    for key in ("data", "labels"):
        if key not in batch:
            raise DataError(f"{path}: CIFAR batch has no {key!r} entry (found {sorted(batch)})")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' must be a 2-D uint8 array, got {desc}")
    if data.shape[1] != 3072:
        raise DataError(f"{path}: 'data' rows must have 3072 = 3*32*32 values, got {data.shape}")
    try:
        labels = np.asarray(batch["labels"])
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: 'labels' is not a list of integers ({exc})") from exc
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise DataError(f"{path}: 'labels' must be a list of integers, got {labels.dtype}")
    if labels.shape[0] != data.shape[0]:
        raise DataError(
            f"{path}: {data.shape[0]} images but {labels.shape[0]} labels; the counts must match"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise DataError(f"{path}: labels must be in [0, 10), found {labels.min()}..{labels.max()}")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels.astype(np.int64)


def read_cifar_meta(path: str | os.PathLike, *, md5: str | None = None) -> list[str]:
    """Read ``batches.meta`` and return the 10 class names."""
    path = Path(path)
    raw = read_bytes(path)
    if md5 is not None:
        _check_md5(raw, md5, path)
    meta = _str_keys(safe_unpickle(raw, path), path)
    names = meta.get("label_names")
    if not isinstance(names, list) or len(names) != len(CIFAR10_CLASSES):
        raise DataError(f"{path}: 'label_names' must be a list of 10 names, got "
                        f"{short_repr(names)}")
    out = []
    for n in names:
        if isinstance(n, bytes):
            n = n.decode("latin-1")
        if not isinstance(n, str):
            raise DataError(f"{path}: class name {short_repr(n)} is not a string")
        out.append(n)
    return out


def _check_md5(raw: bytes, expected: str, path: Path) -> None:
    got = md5_bytes(raw)
    if got != expected:
        raise ChecksumError(
            f"{path}: md5 {got} does not match the published checksum {expected}; "
            "delete the file and download it again"
        )
