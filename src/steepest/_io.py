"""Atomic file writes and safe array loading, shared by checkpoints, runs, surfaces and data.

A write goes to a temporary file in the destination's folder, is flushed and fsynced, then
renamed over the destination with ``os.replace``; a crash leaves either the old file or the new
one, never a torn one, and no temporary file behind. Arrays are read with
``allow_pickle=False``: nothing in a loaded file can execute code.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import DataError


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry to disk where the platform allows it (best effort)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(dest: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``dest``; on clean exit fsync it and rename it onto ``dest``.

    If the body raises, the temporary file is removed and ``dest`` is left untouched, so a
    reader never sees a half-written file at the final path.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:  # opened by name so ``fh.name`` is the temp path
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(dest.parent)


def atomic_write_bytes(dest: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``dest`` atomically; return the path."""
    with atomic_writer(dest) as fh:
        fh.write(data)
    return Path(dest)


def atomic_write_text(dest: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``dest`` atomically; return the path."""
    return atomic_write_bytes(dest, text.encode("utf-8"))


def atomic_write_json(dest: str | os.PathLike, obj) -> Path:
    """Write ``obj`` as indented JSON atomically (NumPy scalars and arrays become numbers/lists)."""
    return atomic_write_text(dest, json.dumps(obj, indent=2, default=json_default) + "\n")


def json_default(o):
    """``json.dumps`` fallback: NumPy scalars and arrays become numbers/lists, paths strings."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


def atomic_savez(dest: str | os.PathLike, **arrays) -> Path:
    """``np.savez`` to ``dest`` atomically. Strings are stored as 0-d unicode arrays."""
    with atomic_writer(dest) as fh:
        np.savez(fh, **{k: np.asarray(v) for k, v in arrays.items()})
    return Path(dest)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` file, loaded without pickle; DataError names a bad file."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"cannot read {path}: {e}") from None
