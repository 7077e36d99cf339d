"""Download dataset files into a local cache, verified by checksum, written atomically.

Cache layout: ``<cache>/<dataset>/<file>`` where ``<cache>`` is the ``cache_dir`` argument,
else ``$STEEPEST_DATA``, else ``~/.cache/steepest``. CIFAR-10 is kept extracted as
``<cache>/cifar10/cifar-10-batches-py/`` (the archive is deleted after extraction).

Each file is fetched from a list of mirrors (argument, else ``$STEEPEST_MIRROR_<NAME>`` with
several base URLs separated by commas or spaces, else the built-in list); a mirror is a base URL
to which the file name is appended. Every failure (network error, HTTP error, short body,
checksum mismatch) moves on to the next mirror, and the final error names the file, every URL
tried and why it failed. Bytes go to a temporary file beside the destination and are renamed
into place only after verification, so the final path never holds a partial or unverified file.

Verification: a file passes if the MD5 of its bytes equals the published one, or, where the
content checksum is known, if the MD5 of its decompressed content does (the MNIST copies some
mirrors serve were re-compressed: their ``.gz`` bytes differ, their content does not).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .._validate import choice
from ..errors import ChecksumError, DataError, InputError
from ._files import atomic_writer, fsync_dir, md5_file
from .cifar import CIFAR10_DIRNAME

DEFAULT_TIMEOUT = 60.0
_CHUNK = 1 << 20
_USER_AGENT = "steepest-data/0.1 (urllib)"
_MAX_ARCHIVE_BYTES = 2 << 30  # refuse archives that would expand beyond 2 GiB


@dataclass(frozen=True)
class RemoteFile:
    """A file published on the mirrors, with its checksums.

    ``md5`` is the MD5 of the bytes as served; ``content_md5`` the MD5 of the gzip-decompressed
    content; ``members`` maps archive member names (relative to the extraction folder) to their
    MD5s for tar archives.
    """

    name: str
    md5: str | None = None
    content_md5: str | None = None
    members: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteSource:
    """Where a dataset's files come from."""

    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]
    mirror_env: str
    extract_to: str | None = None  # folder name inside the archive, for archives


MNIST_FILES = (
    RemoteFile(
        "train-images-idx3-ubyte.gz",
        md5="f68b3c2dcbeaaa9fbdd348bbdeb94873",
        content_md5="6bbc9ace898e44ae57da46a324031adb",
    ),
    RemoteFile(
        "train-labels-idx1-ubyte.gz",
        md5="d53e105ee54ea40749a09fcbcd1e9432",
        content_md5="a25bea736e30d166cdddb491f175f624",
    ),
    RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        md5="9fb629c4189551a2d022fa330f9573f3",
        content_md5="2646ac647ad5339dbf082846283269ea",
    ),
    RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        md5="ec29112dd5afa0611ce80d1b7f02629c",
        content_md5="27ae3e4e09519cfbb04c329615203637",
    ),
)

FASHION_MNIST_FILES = (
    RemoteFile("train-images-idx3-ubyte.gz", md5="8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
    RemoteFile("train-labels-idx1-ubyte.gz", md5="25c81989df183df01b3e8a0aad5dffbe"),
    RemoteFile("t10k-images-idx3-ubyte.gz", md5="bef4ecab320f06d8554ea6380940ec79"),
    RemoteFile("t10k-labels-idx1-ubyte.gz", md5="bb300cfdad3c16e7a12a480ee83cd310"),
)

CIFAR10_ARCHIVE = RemoteFile(
    "cifar-10-python.tar.gz",
    md5="c58f30108f718f92721af3b95e74349a",
    members={
        "data_batch_1": "c99cafc152244af753f735de768cd75f",
        "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "634d18415352ddfa80567beed471001a",
        "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "40351d587109b95175f43aff81a1287e",
        "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
    },
)

SOURCES: dict[str, RemoteSource] = {
    "mnist": RemoteSource(
        files=MNIST_FILES,
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        mirror_env="STEEPEST_MIRROR_MNIST",
    ),
    "fashion-mnist": RemoteSource(
        files=FASHION_MNIST_FILES,
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        mirror_env="STEEPEST_MIRROR_FASHION_MNIST",
    ),
    "cifar10": RemoteSource(
        files=(CIFAR10_ARCHIVE,),
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        mirror_env="STEEPEST_MIRROR_CIFAR10",
        extract_to=CIFAR10_DIRNAME,
    ),
}


# --------------------------------------------------------------------------------------------
# cache and mirrors


def get_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache root: ``cache_dir``, else ``$STEEPEST_DATA``, else ``~/.cache/steepest``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get("STEEPEST_DATA")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "steepest"


def dataset_cache_dir(name: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder of one downloadable dataset (``<cache>/<name>``)."""
    choice(name, SOURCES, "downloadable dataset")
    return get_cache_dir(cache_dir) / name


def resolve_mirrors(name: str, mirrors: str | Sequence[str] | None = None) -> list[str]:
    """Mirror base URLs for ``name``: the argument, else ``$STEEPEST_MIRROR_<NAME>``, else defaults.

    A string may hold several URLs separated by commas or whitespace. Only ``http``, ``https``
    and ``file`` URLs are accepted.
    """
    src = SOURCES[choice(name, SOURCES, "downloadable dataset")]
    if mirrors is None:
        mirrors = os.environ.get(src.mirror_env) or list(src.mirrors)
    if isinstance(mirrors, str):
        mirrors = [m for m in re.split(r"[,\s]+", mirrors) if m]
    out = [str(m) for m in mirrors]
    if not out:
        raise InputError(f"no mirrors given for {name}; pass at least one base URL")
    for m in out:
        scheme = m.split(":", 1)[0].lower() if ":" in m else ""
        if scheme not in ("http", "https", "file"):
            raise InputError(f"mirror {m!r} must be an http, https or file URL")
    return out


def _join(base: str, filename: str) -> str:
    return base + filename if base.endswith("/") else f"{base}/{filename}"


# --------------------------------------------------------------------------------------------
# verification


def verify_file(path: str | os.PathLike, spec: RemoteFile, *, name: str | None = None) -> None:
    """Raise :class:`ChecksumError` unless ``path`` matches ``spec.md5`` or ``spec.content_md5``.

    A spec with neither checksum passes trivially. ``name`` labels the file in messages
    (default: the file's own name; downloads pass the final name, not the temp file's).
    """
    path = Path(path)
    label = name or path.name
    if spec.md5 is None and spec.content_md5 is None:
        return
    got = md5_file(path)
    if spec.md5 is not None and got == spec.md5:
        return
    expected = f"published md5 {spec.md5}" if spec.md5 else "no published archive checksum"
    if spec.content_md5 is not None:
        try:
            content = md5_file(path, decompress=True)
        except DataError as exc:
            raise ChecksumError(
                f"{label}: md5 {got} does not match the {expected}, and the file does not "
                f"decompress ({exc})"
            ) from exc
        if content == spec.content_md5:
            return
        raise ChecksumError(
            f"{label}: md5 {got} does not match the {expected}, and the md5 of its "
            f"decompressed content {content} does not match {spec.content_md5}"
        )
    raise ChecksumError(f"{label}: md5 {got} does not match the {expected}")


def _verify_archive(path: Path, spec: RemoteFile) -> None:
    """Accept an archive by its own MD5, else by the MD5 of every expected member."""
    got = md5_file(path)
    if spec.md5 is None or got == spec.md5:
        return
    if not spec.members:
        raise ChecksumError(f"{spec.name}: md5 {got} does not match the published md5 {spec.md5}")
    found = _member_md5s(path)
    bad = [m for m, h in spec.members.items() if found.get(m) != h]
    if bad:
        raise ChecksumError(
            f"{spec.name}: md5 {got} does not match the published md5 {spec.md5}, and the "
            f"members {', '.join(bad)} are missing or do not match their checksums"
        )


def _member_md5s(archive: Path) -> dict[str, str]:
    """MD5 of every regular member, keyed by its name with the first folder stripped."""
    out: dict[str, str] = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                parts = PurePosixPath(m.name).parts
                key = "/".join(parts[1:]) if len(parts) > 1 else m.name
                fh = tar.extractfile(m)
                if fh is None:
                    continue
                digest = hashlib.md5(usedforsecurity=False)
                for block in iter(lambda fh=fh: fh.read(_CHUNK), b""):
                    digest.update(block)
                out[key] = digest.hexdigest()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ChecksumError(f"{archive.name}: not a readable tar archive ({exc})") from exc
    return out


# --------------------------------------------------------------------------------------------
# fetching


def _fetch_one(url: str, dest: Path, verify: Callable[[Path], None], timeout: float) -> None:
    """Stream ``url`` into a temp file beside ``dest``, verify it, then rename it onto ``dest``."""
    req = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp, atomic_writer(dest) as fh:
            length = resp.headers.get("Content-Length")
            received = 0
            while True:
                block = resp.read(_CHUNK)
                if not block:
                    break
                fh.write(block)
                received += len(block)
            if length is not None and length.isdigit() and received != int(length):
                raise DataError(f"truncated response: received {received} of {int(length)} bytes")
            if received == 0:
                raise DataError("empty response")
            fh.flush()
            verify(Path(fh.name))
    except urllib.error.HTTPError as exc:
        exc.close()  # the error carries the open response; release its socket
        raise DataError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        verb = "open" if url.lower().startswith("file:") else "connect"
        raise DataError(f"cannot {verb}: {exc.reason}") from exc
    except (http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        raise DataError(f"{type(exc).__name__}: {exc}") from exc
    except DataError:
        raise
    except OSError as exc:
        raise DataError(f"{type(exc).__name__}: {exc}") from exc


def download_file(
    urls: Sequence[str],
    dest: str | os.PathLike,
    *,
    spec: RemoteFile | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Download the first URL that yields a verified file to ``dest``; return ``dest``.

    ``verify`` (default: :func:`verify_file` against ``spec``) receives the temporary file and
    raises :class:`ChecksumError` to reject it. When every URL fails, raises
    :class:`ChecksumError` if any attempt got a file with the wrong checksum, else
    :class:`DataError`; either message names the file and lists each URL with its failure.
    No file is left at ``dest`` (nor any temporary file) after a failure.
    """
    dest = Path(dest)
    if not urls:
        raise InputError(f"no URLs given to download {dest.name}")
    if timeout is None or not timeout > 0:
        raise InputError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if verify is None:
        if spec is None:
            raise InputError("download_file needs a RemoteFile spec or a verify callback")

        def verify(p: Path, _spec: RemoteFile = spec) -> None:
            verify_file(p, _spec, name=dest.name)

    failures: list[tuple[str, DataError]] = []
    for url in urls:
        try:
            _fetch_one(url, dest, verify, timeout)
            return dest
        except DataError as exc:
            failures.append((url, exc))
    lines = "\n".join(f"  {url}: {exc}" for url, exc in failures)
    cls = ChecksumError if any(isinstance(e, ChecksumError) for _, e in failures) else DataError
    raise cls(
        f"could not download {dest.name} into {dest.parent}; tried {len(failures)} URL(s):\n{lines}"
    )


# --------------------------------------------------------------------------------------------
# archives


def safe_extract_tar(archive: str | os.PathLike, dest: str | os.PathLike) -> list[Path]:
    """Extract the regular files and folders of a tar archive below ``dest``; return the files.

    Refuses (with :class:`DataError`, before writing anything) absolute member names, names
    with a ``..`` component, symbolic and hard links, device and FIFO members, and archives
    expanding beyond 2 GiB. Members are written with mode 0644 (folders 0755).
    """
    archive, dest = Path(archive), Path(dest)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            total = 0
            for m in members:
                name = m.name
                parts = PurePosixPath(name).parts
                if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
                    raise DataError(f"{archive.name}: refusing absolute member path {name!r}")
                if ".." in parts or "\\" in name:
                    raise DataError(
                        f"{archive.name}: refusing member path {name!r} that leaves the folder"
                    )
                if m.issym() or m.islnk():
                    raise DataError(f"{archive.name}: refusing link member {name!r}")
                if not (m.isfile() or m.isdir()):
                    raise DataError(f"{archive.name}: refusing special member {name!r}")
                total += m.size if m.isfile() else 0
            if total > _MAX_ARCHIVE_BYTES:
                raise DataError(f"{archive.name}: expands to {total} bytes, more than allowed")
            written: list[Path] = []
            dest.mkdir(parents=True, exist_ok=True)
            for m in members:
                target = dest.joinpath(*PurePosixPath(m.name).parts)
                if m.isdir():
                    target.mkdir(mode=0o755, parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                if src is None:  # pragma: no cover - regular files always have data
                    raise DataError(f"{archive.name}: cannot read member {m.name!r}")
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, _CHUNK)
                    out.flush()
                    os.fsync(out.fileno())
                target.chmod(0o644)
                written.append(target)
    except DataError:
        raise
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{archive.name}: corrupted or truncated archive ({exc})") from exc
    return written


def _verify_members(folder: Path, members: dict[str, str]) -> None:
    missing = [m for m in members if not (folder / m).is_file()]
    if missing:
        raise DataError(f"{folder}: missing {', '.join(missing)}")
    for m, h in members.items():
        got = md5_file(folder / m)
        if got != h:
            raise ChecksumError(f"{folder / m}: md5 {got} does not match the published md5 {h}")


# --------------------------------------------------------------------------------------------
# public entry point


def download_dataset(
    name: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    mirrors: str | Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    force: bool = False,
) -> Path:
    """Make sure the verified files of ``name`` are in the cache; return its cache folder.

    Files already present are re-verified and kept when they pass; a cached file that fails is
    deleted and fetched again. ``force`` re-downloads everything. Prints nothing.
    """
    src = SOURCES[choice(name, SOURCES, "downloadable dataset")]
    folder = dataset_cache_dir(name, cache_dir)
    folder.mkdir(parents=True, exist_ok=True)
    urls_for = resolve_mirrors(name, mirrors)
    if src.extract_to is None:
        for spec in src.files:
            dest = folder / spec.name
            if dest.exists() and not force:
                try:
                    verify_file(dest, spec)
                    continue
                except DataError:
                    dest.unlink()
            download_file([_join(m, spec.name) for m in urls_for], dest, spec=spec, timeout=timeout)
        return folder

    (spec,) = src.files
    target = folder / src.extract_to
    if target.is_dir() and not force:
        try:
            _verify_members(target, spec.members)
            return folder
        except DataError:
            shutil.rmtree(target)
    archive = folder / spec.name
    download_file(
        [_join(m, spec.name) for m in urls_for],
        archive,
        timeout=timeout,
        verify=lambda p: _verify_archive(p, spec),
    )
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=folder))
    try:
        safe_extract_tar(archive, tmp)
        extracted = tmp / src.extract_to
        _verify_members(extracted, spec.members)
        if target.exists():
            shutil.rmtree(target)
        os.replace(extracted, target)
        fsync_dir(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            archive.unlink()
    return folder
