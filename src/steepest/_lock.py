"""One writer per output folder: an exclusive lock held for the whole life of a run, a
comparison, a surface or a study.

The lock is ``flock`` on ``<folder>/.steepest.lock`` (released by the kernel when the process
ends, however it ends), and the file names its holder (process, host, command, start time).
A second process that asks for the folder stops at once with a :class:`LockedError` naming the
holder. A lock file that still names a holder while nobody holds the lock was left by a process
that died without releasing it: it is taken over, and the caller is told (``took_over``). While
it holds the lock, the holder also removes the temporary files that a killed atomic write left
in the folder.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from ._io import clean_temporaries, make_folder
from .errors import LockedError

LOCK_NAME = ".steepest.lock"

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the lock becomes advisory only
    fcntl = None


def _holder_text(info: dict) -> str:
    return (f"process {info.get('pid')} on {info.get('host')} "
            f"({info.get('command', '?')}, since {info.get('started', '?')})")


def _read(fd: int) -> dict:
    os.lseek(fd, 0, os.SEEK_SET)
    raw = os.read(fd, 4096)
    try:
        info = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {"pid": "?", "command": "unknown (unreadable lock file)"}
    return info if isinstance(info, dict) else {}


class FolderLock:
    """``with FolderLock(folder, "run"):`` holds ``folder`` exclusively (see module docstring).

    ``took_over`` is a sentence about a dead holder whose lock was taken over (else None);
    ``cleaned`` lists the stale temporary files removed.
    """

    def __init__(self, folder: str | os.PathLike, what: str = "output folder"):
        self.folder = Path(folder)
        self.what = what
        self.took_over: str | None = None
        self.cleaned: list[Path] = []
        self._fd: int | None = None

    def __enter__(self) -> FolderLock:
        make_folder(self.folder, self.what)
        fd = os.open(self.folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _read(fd)
                os.close(fd)
                raise LockedError(f"{self.folder} is in use by {_holder_text(holder)}; wait for "
                                  f"it to finish or choose another folder") from None
        previous = _read(fd)
        if previous:
            self.took_over = (f"took over {self.folder}: its lock was left by "
                              f"{_holder_text(previous)}, which ended without releasing it")
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "command": " ".join(os.path.basename(a) if i == 0 else a
                                  for i, a in enumerate(sys.argv))[:200],
              "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(me).encode("utf-8"))
        self._fd = fd
        self.cleaned = clean_temporaries(self.folder)
        return self

    def __exit__(self, *exc) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)  # an empty lock file: released cleanly
        finally:
            os.close(fd)  # closing releases the flock
