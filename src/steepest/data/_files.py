"""Small file helpers of the data loaders: hashing and gzip detection (atomic writes: ``_io``)."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

from .._io import atomic_write_bytes, atomic_writer, fsync_dir  # noqa: F401 - re-exported
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


