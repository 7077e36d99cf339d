"""Throwaway PostgreSQL servers for tests.

``postgres_server(tmp_dir)`` starts a real, private PostgreSQL server (``initdb`` + ``pg_ctl``)
listening on 127.0.0.1 at a free port, yields a SQLAlchemy URL for it, and stops it and deletes
its files on exit. ``available()`` says whether that can work on this machine, and why not.

PostgreSQL refuses to run as root. When the tests run as root (as they do in CI), the server is
run as an unprivileged system user, ``steepest-pg``, created on first use with ``useradd``.

The binaries are looked for in ``$STEEPEST_PG_BINDIR`` (if set), then on ``PATH``, then in
``/usr/lib/postgresql/<version>/bin`` (highest version first).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

PG_USER = "steepest-pg"  # system account that runs the server when we are root
DB_ROLE = "steepest"  # superuser role created by initdb, used in the URL
DB_NAME = "optuna"  # database created for the tests
START_TIMEOUT = 30.0  # seconds to wait for the server to accept connections
_BINARIES = ("initdb", "pg_ctl", "postgres")


class PostgresServerError(RuntimeError):
    """The throwaway server could not be set up, started or reached."""


# ---------------------------------------------------------------------------- finding things


def _version_key(bindir: str) -> tuple[int, ...]:
    """Sort key for /usr/lib/postgresql/<version>/bin: numeric version, unknown ones last."""
    name = Path(bindir).parent.name
    try:
        return tuple(int(part) for part in name.split("."))
    except ValueError:
        return (-1,)


def find_bindir() -> Path | None:
    """The directory that holds initdb, pg_ctl and postgres, or None."""
    candidates: list[str] = []
    env = os.environ.get("STEEPEST_PG_BINDIR")
    if env:
        candidates.append(env)
    on_path = shutil.which("pg_ctl")
    if on_path:
        # pg_ctl finds postgres next to its real location, so follow symlinks.
        candidates.append(str(Path(on_path).resolve().parent))
        candidates.append(str(Path(on_path).parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for cand in candidates:
        d = Path(cand)
        if all(os.access(d / name, os.X_OK) for name in _BINARIES):
            return d
    return None


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _ensure_user() -> tuple[int, int]:
    """uid and gid of PG_USER, creating it as a system user (no home) if it does not exist."""
    import pwd

    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        proc = subprocess.run(
            [useradd, "--system", "--no-create-home", "--user-group",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", PG_USER],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        try:  # another process may have created it meanwhile
            entry = pwd.getpwnam(PG_USER)
        except KeyError:
            raise PostgresServerError(
                f"could not create user {PG_USER!r} ({useradd} exited with {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()}"
            ) from None
    if entry.pw_uid == 0:
        raise PostgresServerError(f"user {PG_USER!r} is root; PostgreSQL will not run as root")
    return entry.pw_uid, entry.pw_gid


def available() -> tuple[bool, str]:
    """Whether ``postgres_server`` can work here, and if not, why.

    When running as root this creates the unprivileged user if needed (that is the only way to
    know that it can be created).
    """
    if os.name != "posix":
        return False, "throwaway PostgreSQL servers need a POSIX system"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return False, "psycopg2 is not installed"
    bindir = find_bindir()
    if bindir is None:
        return False, "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found"
    if _is_root():
        try:
            _ensure_user()
        except (PostgresServerError, OSError, subprocess.SubprocessError) as exc:
            return False, f"running as root and no unprivileged user for PostgreSQL: {exc}"
        return True, f"PostgreSQL binaries in {bindir}, run as user {PG_USER!r}"
    return True, f"PostgreSQL binaries in {bindir}"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tmp_parent() -> str:
    """A temporary directory that any user can traverse (the server user must reach its files)."""

    def traversable(path: str) -> bool:
        p = Path(path).resolve()
        try:
            return p.is_dir() and all(q.stat().st_mode & stat.S_IXOTH for q in (p, *p.parents))
        except OSError:
            return False

    for cand in (tempfile.gettempdir(), "/tmp", "/var/tmp", "/dev/shm"):
        if traversable(cand) and os.access(cand, os.W_OK):
            return cand
    raise PostgresServerError("no temporary directory that other users can traverse")


# ---------------------------------------------------------------------------- the server


class _Runner:
    """Runs PostgreSQL's programs, as PG_USER when we are root."""

    def __init__(self, bindir: Path, cwd: Path, ids: tuple[int, int] | None) -> None:
        self.bindir = bindir
        self.cwd = cwd
        self.ids = ids
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        self.env.update(HOME=str(cwd), LC_ALL="C", LANG="C")

    def __call__(self, prog: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        kwargs: dict = {}
        if self.ids is not None:
            kwargs = {"user": self.ids[0], "group": self.ids[1], "extra_groups": []}
        return subprocess.run(
            [str(self.bindir / prog), *args],
            cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
            text=True, timeout=timeout, **kwargs,
        )  # fmt: skip


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no server log: {exc})"
    return "\n".join(text.splitlines()[-lines:]) or "(server log is empty)"


def _conf_value(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _postmaster_pid(datadir: Path) -> int | None:
    try:
        return int((datadir / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _wait_for_connections(port: int, deadline: float, log: Path, datadir: Path) -> None:
    import psycopg2

    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            conn = psycopg2.connect(
                host="127.0.0.1", port=port, user=DB_ROLE, dbname="postgres", connect_timeout=2
            )
        except psycopg2.OperationalError as exc:
            last = exc
            if not (datadir / "postmaster.pid").exists():
                break  # the server is gone; waiting longer will not help
            time.sleep(0.1)
            continue
        conn.close()
        return
    raise PostgresServerError(
        f"PostgreSQL on 127.0.0.1:{port} did not accept connections within "
        f"{START_TIMEOUT:g} s: {last}\n--- server log (tail) ---\n{_tail(log)}"
    )


def _stop(run: _Runner, datadir: Path) -> None:
    """Stop the server at once; kill its postmaster if pg_ctl cannot."""
    pid = _postmaster_pid(datadir)
    if pid is None:
        return
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        run("pg_ctl", "stop", "-D", str(datadir), "-m", "immediate", "-w", "-t", "15", timeout=30)
    if not (datadir / "postmaster.pid").exists():
        return
    # pg_ctl failed: end the postmaster we started (it takes its children with it).
    for sig, wait in ((signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


@contextlib.contextmanager
def postgres_server(tmp_dir: Path) -> Iterator[str]:
    """Start a throwaway PostgreSQL server; yield its SQLAlchemy URL; stop and delete it.

    The URL is ``postgresql+psycopg2://steepest@127.0.0.1:PORT/optuna``: role ``steepest`` is the
    cluster's superuser, authentication is ``trust``, and only 127.0.0.1 is listened on. The
    cluster lives in a fresh directory under the system temporary directory (``tmp_dir`` may be
    private to root, which the server user could not enter); its log is copied to
    ``tmp_dir / "postgres.log"`` when the server stops. Raises ``PostgresServerError`` (with the
    log's tail) if the server cannot be started.
    """
    ok, reason = available()
    if not ok:
        raise PostgresServerError(reason)
    bindir = find_bindir()
    assert bindir is not None
    ids = _ensure_user() if _is_root() else None

    base = Path(tempfile.mkdtemp(prefix="steepest-pg-", dir=_tmp_parent()))
    datadir, log = base / "data", base / "postgres.log"
    run = _Runner(bindir, base, ids)
    try:
        base.chmod(0o700)
        if ids is not None:
            os.chown(base, *ids)

        proc = run(
            "initdb", "-D", str(datadir), "-U", DB_ROLE, "--auth=trust", "--encoding=UTF8",
            "--no-locale", "--no-sync", "--no-instructions",
        )  # fmt: skip
        if proc.returncode != 0:
            raise PostgresServerError(
                f"initdb failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
            )

        settings = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(base),
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            "shared_buffers": "16MB",
        }
        with open(datadir / "postgresql.conf", "a") as conf:  # appending keeps the file's owner
            conf.write("\n# steepest test server\n")
            for key, value in settings.items():
                conf.write(f"{key} = {_conf_value(value)}\n")

        deadline = time.monotonic() + START_TIMEOUT
        for attempt in range(3):  # another program may take the free port before the server
            port = _free_port()
            log_size = log.stat().st_size if log.exists() else 0
            try:
                proc = run(
                    "pg_ctl", "start", "-D", str(datadir), "-l", str(log), "-o", f"-p {port}",
                    "-w", "-t", str(max(1, int(deadline - time.monotonic()))),
                    timeout=START_TIMEOUT + 10,
                )  # fmt: skip
            except subprocess.TimeoutExpired:
                raise PostgresServerError(
                    f"pg_ctl start timed out\n--- server log (tail) ---\n{_tail(log)}"
                ) from None
            if proc.returncode == 0:
                break
            try:
                with open(log, "rb") as f:  # only what this attempt wrote
                    f.seek(log_size)
                    port_taken = b"could not bind" in f.read()
            except OSError:
                port_taken = False
            if not port_taken or attempt == 2:
                raise PostgresServerError(
                    f"pg_ctl start failed (exit {proc.returncode}): {proc.stdout}{proc.stderr}\n"
                    f"--- server log (tail) ---\n{_tail(log)}"
                )
        _wait_for_connections(port, deadline, log, datadir)

        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1", port=port, user=DB_ROLE, dbname="postgres", connect_timeout=5
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{DB_NAME}"')
        finally:
            conn.close()

        yield f"postgresql+psycopg2://{DB_ROLE}@127.0.0.1:{port}/{DB_NAME}"
    finally:
        try:
            _stop(run, datadir)
        finally:
            with contextlib.suppress(OSError):
                if log.exists() and Path(tmp_dir).is_dir():
                    shutil.copyfile(log, Path(tmp_dir) / "postgres.log")
            shutil.rmtree(base, ignore_errors=True)
