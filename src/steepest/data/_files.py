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
MAX_DECOMPRESSED = 1 << 30  # no dataset file steepest reads is larger (MNIST: 47 MB)


def md5_bytes(data: bytes) -> str:
    """Hex MD5 of ``data`` (used for integrity against published sums, not for security)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_file(path: str | os.PathLike, *, decompress: bool = False,
             max_bytes: int = MAX_DECOMPRESSED) -> str:
    """Hex MD5 of a file's bytes, or of its gzip-decompressed content when ``decompress``
    (at most ``max_bytes`` of content: a gzip bomb is refused, not expanded).

    Raises :class:`DataError` naming the file when it cannot be read or decompressed.
    """
    path = Path(path)
    digest = hashlib.md5(usedforsecurity=False)
    total = 0
    try:
        opener = gzip.open if decompress else open
        with opener(path, "rb") as fh:
            for block in iter(lambda: fh.read(_CHUNK), b""):
                total += len(block)
                if decompress and total > max_bytes:
                    raise DataError(f"{path}: decompresses to more than {max_bytes:,} bytes; "
                                    f"not a dataset file steepest knows")
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


def gunzip_if_needed(raw: bytes, path: str | os.PathLike, max_bytes: int = MAX_DECOMPRESSED,
                     size_of=None) -> bytes:
    """Return ``raw`` decompressed when it starts with the gzip magic, else ``raw`` itself.

    Detection is by content, not by file name, so ``foo.gz`` holding plain bytes also works.
    Decompression stops at ``max_bytes``; ``size_of(head)``, given the first decompressed
    bytes, may announce the exact size the content must have (an IDX header does), which then
    caps it. A truncated or corrupted stream, or content beyond the cap, raises
    :class:`DataError` naming ``path``.
    """
    if not raw.startswith(GZIP_MAGIC):
        return raw
    inflate = zlib.decompressobj(wbits=31)
    try:
        head = inflate.decompress(raw, 1024)
        limit = max_bytes
        if size_of is not None:
            announced = size_of(head)
            if announced is not None:
                limit = min(limit, announced)
        body = inflate.decompress(inflate.unconsumed_tail, max(limit - len(head), 0) + 1)
    except zlib.error as exc:
        raise DataError(f"{path}: corrupted or truncated gzip data ({exc})") from exc
    content = head + body
    if len(content) > limit or inflate.unconsumed_tail:
        raise DataError(f"{path}: decompresses to more than the {limit:,} bytes "
                        f"{'its header announces' if limit < max_bytes else 'allowed'}")
    if not inflate.eof:
        raise DataError(f"{path}: corrupted or truncated gzip data (the stream ends early)")
    return content
