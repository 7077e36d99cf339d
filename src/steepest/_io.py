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
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import DataError, OutputError, SteepestError

TEMP_SUFFIX = ".part"  # atomic writes go to ".<name>.<random>.part" beside their destination


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


def _umask() -> int:
    """The process's umask, read without changing it (Linux), else the usual 0o022."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def make_folder(folder: str | os.PathLike, what: str = "output folder") -> Path:
    """``folder`` created with its parents; an OutputError names it when that is impossible."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"cannot use {folder} as the {what}: it is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the {what} {folder}: {e.strerror or e}") from None
    return folder


@contextlib.contextmanager
def atomic_writer(dest: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file beside ``dest``; on clean exit fsync it and rename it onto ``dest``.

    If the body raises, the temporary file is removed and ``dest`` is left untouched, so a
    reader never sees a half-written file at the final path. The file gets the permissions a
    plain ``open`` would give it (0666 less the umask), not the private 0600 of a temporary.
    A write that fails (full disk, read-only folder) raises :class:`OutputError` naming ``dest``.
    """
    dest = Path(dest)
    make_folder(dest.parent)
    if dest.is_dir():
        raise OutputError(f"cannot write {dest}: it is a folder")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=TEMP_SUFFIX,
                                        dir=dest.parent)
    except OSError as e:
        raise OutputError(f"cannot write in {dest.parent}: {e.strerror or e}") from None
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        os.close(fd)
        with open(tmp, "wb") as fh:  # opened by name so ``fh.name`` is the temp path
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, dest)
    except BaseException as e:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        if isinstance(e, OSError) and not isinstance(e, SteepestError):
            raise OutputError(f"cannot write {dest}: {e.strerror or e}") from None
        raise
    fsync_dir(dest.parent)


def clean_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Remove the temporary files an interrupted atomic write left below ``folder``.

    Only safe while no other process writes there (steepest holds the folder's lock then).
    """
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in folder.rglob(f".*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed.append(path)
    return removed


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


def read_record(path: str | os.PathLike) -> dict | None:
    """The JSON object steepest wrote at ``path`` earlier (a folder's settings, a saved rerun),
    or None when the file is absent, unreadable, damaged or holds something else: callers treat
    all of those as "no record" and compare or rewrite it."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


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
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise DataError(f"cannot read {path}: it is damaged or not a NumPy .npz file "
                        f"({type(e).__name__}: {_shorten(str(e))})") from None


def _shorten(text: str, limit: int = 120) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask the kernel to end this (worker) process when its parent dies (Linux
    ``PR_SET_PDEATHSIG``), so a killed command leaves no workers behind holding memory.
    Elsewhere, or if the parent is already gone, nothing is set up or the process exits."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if parent_pid is not None and os.getppid() != parent_pid:  # died before prctl took hold
        os._exit(1)
