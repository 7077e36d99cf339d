"""Small file helpers shared by the data loaders: atomic writes, hashing, gzip detection."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ..errors import DataError

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


def md5_bytes(data: bytes) -> str:
    """Hex MD5 of ``data`` (used for integrity against published sums, not for security)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_file(path: str | os.PathLike, *, decompress: bool = False) -> str:
    """Hex MD5 of a file's bytes, or of its gzip-decompressed content when ``decompress``.

    Raises :class:`DataError` naming the file when it cannot be read or decompressed.
    """
    path = Path(path)
    digest = hashlib.md5(usedforsecurity=False)
    try:
        opener = gzip.open if decompress else open
        with opener(path, "rb") as fh:
            for block in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(block)
    except (OSError, EOFError, zlib.error) as exc:
        what = "decompress" if decompress else "read"
        raise DataError(f"cannot {what} {path}: {exc}") from exc
    return digest.hexdigest()


def read_bytes(path: str | os.PathLike) -> bytes:
    """Return a file's bytes; raise :class:`DataError` naming the file if it cannot be read."""
    path = Path(path)
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc


def gunzip_if_needed(raw: bytes, path: str | os.PathLike) -> bytes:
    """Return ``raw`` decompressed when it starts with the gzip magic, else ``raw`` itself.

    Detection is by content, not by file name, so ``foo.gz`` holding plain bytes also works.
    A truncated or corrupted gzip stream raises :class:`DataError` naming ``path``.
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: corrupted or truncated gzip data ({exc})") from exc


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
    """Write ``data`` to ``dest`` atomically (temp file, fsync, ``os.replace``); return the path."""
    with atomic_writer(dest) as fh:
        fh.write(data)
    return Path(dest)
