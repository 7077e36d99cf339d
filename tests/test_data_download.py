"""Downloading into the cache from a loopback HTTP server (never the internet)."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import io
import os
import pickle
import shutil
import tarfile
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from steepest.data import (
    dataset_info,
    download_dataset,
    download_file,
    get_cache_dir,
    load_dataset,
    resolve_mirrors,
    safe_extract_tar,
)
from steepest.data import download as dl
from steepest.errors import ChecksumError, DataError, InputError

TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
MNIST_NAMES = [f.name for f in dl.MNIST_FILES]
LABELS = "train-labels-idx1-ubyte.gz"
LABELS_SPEC = dl.MNIST_FILES[1]


def _shared_mnist() -> Path:
    default = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "mnist"
    return Path(os.environ.get("STEEPEST_MNIST_DIR") or default)


MNIST_DIR = _shared_mnist()
needs_mnist = pytest.mark.skipif(
    not all((MNIST_DIR / n).is_file() for n in MNIST_NAMES),
    reason=f"real MNIST files not found in {MNIST_DIR} (set STEEPEST_MNIST_DIR)",
)


@pytest.fixture(autouse=True)
def _offline(monkeypatch, tmp_path):
    """Point the cache at a temp folder and refuse any URL that is not loopback or file://."""
    monkeypatch.setenv("STEEPEST_DATA", str(tmp_path / "cache"))
    for var in (
        "STEEPEST_MNIST_DIR",
        "STEEPEST_MIRROR_MNIST",
        "STEEPEST_MIRROR_FASHION_MNIST",
        "STEEPEST_MIRROR_CIFAR10",
        "STEEPEST_CIFAR10_DIR",
    ):
        monkeypatch.delenv(var, raising=False)
    real = urllib.request.urlopen

    def guarded(req, *args, **kwargs):
        url = req.full_url if isinstance(req, urllib.request.Request) else req
        parts = urllib.parse.urlsplit(url)
        assert parts.scheme == "file" or parts.hostname == "127.0.0.1", f"network: {url}"
        return real(req, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)


# ------------------------------------------------------------------------------ the server


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, plus /error/* (HTTP 500), /trunc/* (short body with a full
    Content-Length) and /nolength/* (short body, no Content-Length)."""

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        head, _, rest = self.path.lstrip("/").partition("/")
        if head == "error":
            self.send_error(500, "deliberate failure")
            return
        if head in ("trunc", "nolength"):
            data = (Path(self.directory) / "good" / rest).read_bytes()
            self.send_response(200)
            if head == "trunc":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A loopback server over a folder: good/ holds real or fake files, bad/ corrupted ones."""
    root = tmp_path_factory.mktemp("www")
    (root / "good").mkdir()
    (root / "bad").mkdir()
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def mnist_server(served):
    if not all((MNIST_DIR / n).is_file() for n in MNIST_NAMES):
        pytest.skip(f"real MNIST files not found in {MNIST_DIR}")
    root, url = served
    for name in MNIST_NAMES:
        shutil.copyfile(MNIST_DIR / name, root / "good" / name)
        (root / "bad" / name).symlink_to(root / "good" / name)
    # flip a few label bytes, then re-gzip: still a valid gzip, wrong content
    content = bytearray(gzip.decompress((MNIST_DIR / LABELS).read_bytes()))
    for i in (100, 2000, 30000):
        content[i] = (content[i] + 1) % 10
    (root / "bad" / LABELS).unlink()
    (root / "bad" / LABELS).write_bytes(gzip.compress(bytes(content)))
    return root, url


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------------------ MNIST


@needs_mnist
def test_download_then_load_real_mnist(mnist_server, tmp_path):
    _, url = mnist_server
    cache = tmp_path / "c"
    ds = load_dataset("mnist", cache_dir=cache, mirrors=f"{url}/good/", timeout=10)
    assert ds.class_counts("train").tolist() == TRAIN_COUNTS
    assert ds.class_counts("test").tolist() == TEST_COUNTS
    folder = cache / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(MNIST_NAMES)
    for name in MNIST_NAMES:  # the bytes landed unchanged
        assert (folder / name).read_bytes() == (MNIST_DIR / name).read_bytes()
    # offline reload from the cache verifies the re-compressed files by content
    again = load_dataset("mnist", download=False, cache_dir=cache)
    assert again.source["verified"] is True
    np.testing.assert_array_equal(again.y_test, ds.y_test)
    info = dataset_info("mnist", cache_dir=cache)
    assert info.available and info.class_counts["train"] == TRAIN_COUNTS
    assert info.location == str(folder)


@needs_mnist
def test_corrupted_download_is_rejected(mnist_server, tmp_path):
    _, url = mnist_server
    cache = tmp_path / "c"
    with pytest.raises(ChecksumError) as info:
        download_dataset("mnist", cache_dir=cache, mirrors=[f"{url}/bad/"], timeout=10)
    msg = str(info.value)
    assert LABELS in msg and f"{url}/bad/{LABELS}" in msg and "a25bea736e30d166" in msg
    assert ".part" not in msg  # reasons name the real file, not the temporary one
    folder = cache / "mnist"
    assert not (folder / LABELS).exists()
    assert (folder / MNIST_NAMES[0]).exists()  # the file before it was fine and was kept
    assert _leftovers(folder) == []


@needs_mnist
def test_next_mirror_after_failures(mnist_server, tmp_path):
    _, url = mnist_server
    dest = tmp_path / LABELS
    mirrors = [f"{url}/error/", f"{url}/missing/", f"{url}/bad/", f"{url}/good/"]
    download_file([m + LABELS for m in mirrors], dest, spec=LABELS_SPEC, timeout=10)
    assert dest.read_bytes() == (MNIST_DIR / LABELS).read_bytes()


@needs_mnist
def test_all_mirrors_failing_lists_every_url(mnist_server, tmp_path):
    _, url = mnist_server
    urls = [f"{url}/error/{LABELS}", f"{url}/missing/{LABELS}", "http://127.0.0.1:9/x.gz"]
    with pytest.raises(DataError) as info:
        download_file(urls, tmp_path / LABELS, spec=LABELS_SPEC, timeout=5)
    assert not isinstance(info.value, ChecksumError)
    msg = str(info.value)
    assert LABELS in msg and all(u in msg for u in urls)
    assert "HTTP 500" in msg and "HTTP 404" in msg and "cannot connect" in msg
    assert list(tmp_path.iterdir()) == []


@needs_mnist
def test_truncated_response(mnist_server, tmp_path):
    _, url = mnist_server
    with pytest.raises(DataError, match=r"truncated response: received \d+ of \d+ bytes"):
        download_file([f"{url}/trunc/{LABELS}"], tmp_path / LABELS, spec=LABELS_SPEC, timeout=10)
    assert list(tmp_path.iterdir()) == []


@needs_mnist
def test_truncated_response_without_length(mnist_server, tmp_path):
    _, url = mnist_server
    with pytest.raises(ChecksumError, match="does not decompress"):
        download_file([f"{url}/nolength/{LABELS}"], tmp_path / LABELS, spec=LABELS_SPEC, timeout=10)
    assert list(tmp_path.iterdir()) == []


@needs_mnist
def test_corrupted_cache_is_detected_and_repaired(mnist_server, tmp_path):
    root, url = mnist_server
    cache = tmp_path / "c"
    download_dataset("mnist", cache_dir=cache, mirrors=f"{url}/good/", timeout=10)
    cached = cache / "mnist" / LABELS
    shutil.copyfile(root / "bad" / LABELS, cached)
    with pytest.raises(ChecksumError, match=LABELS):
        load_dataset("mnist", download=False, cache_dir=cache)
    download_dataset("mnist", cache_dir=cache, mirrors=f"{url}/good/", timeout=10)
    assert cached.read_bytes() == (MNIST_DIR / LABELS).read_bytes()


@needs_mnist
def test_mirror_from_environment(mnist_server, tmp_path, monkeypatch):
    _, url = mnist_server
    monkeypatch.setenv("STEEPEST_MIRROR_MNIST", f"{url}/error/, {url}/good/")
    assert resolve_mirrors("mnist") == [f"{url}/error/", f"{url}/good/"]
    folder = download_dataset("mnist", cache_dir=tmp_path, timeout=10)
    assert sorted(p.name for p in folder.iterdir()) == sorted(MNIST_NAMES)


def test_missing_cache_without_download(tmp_path):
    with pytest.raises(DataError) as info:
        load_dataset("mnist", download=False)
    msg = str(info.value)
    assert str(tmp_path / "cache" / "mnist") in msg
    assert "train-images-idx3-ubyte.gz" in msg and "download=True" in msg and "--data-dir" in msg


def test_file_mirror_and_checksum(tmp_path):
    """A file:// mirror works too; a file matching no checksum is refused."""
    src = tmp_path / "mirror"
    src.mkdir()
    payload = gzip.compress(b"hello")
    (src / "f.gz").write_bytes(payload)
    good = dl.RemoteFile("f.gz", content_md5=hashlib.md5(b"hello").hexdigest())
    dest = download_file([(src / "f.gz").as_uri()], tmp_path / "out" / "f.gz", spec=good)
    assert dest.read_bytes() == payload
    bad = dl.RemoteFile("f.gz", md5="0" * 32)
    with pytest.raises(ChecksumError, match="f.gz"):
        download_file([(src / "f.gz").as_uri()], tmp_path / "out2" / "f.gz", spec=bad)
    assert not (tmp_path / "out2" / "f.gz").exists()


# ------------------------------------------------------------------------------ settings


def test_cache_dir_resolution(monkeypatch, tmp_path):
    assert get_cache_dir() == tmp_path / "cache"
    assert get_cache_dir(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("STEEPEST_DATA")
    assert get_cache_dir() == Path.home() / ".cache" / "steepest"


def test_mirror_validation():
    assert resolve_mirrors("cifar10") == ["https://www.cs.toronto.edu/~kriz/"]
    assert resolve_mirrors("mnist", "http://a/ https://b/") == ["http://a/", "https://b/"]
    with pytest.raises(InputError, match="ftp://x"):
        resolve_mirrors("mnist", ["ftp://x/"])
    with pytest.raises(InputError, match="allowed: mnist, fashion-mnist, cifar10"):
        resolve_mirrors("digits")
    with pytest.raises(InputError, match="timeout"):
        download_file(["http://127.0.0.1/x"], "x", spec=LABELS_SPEC, timeout=0)


# ------------------------------------------------------------------------------ CIFAR-10


def _fake_cifar_tar(n: int = 3, *, level: int = 9, tamper: bool = False) -> tuple[bytes, dict]:
    """A tar.gz laid out like cifar-10-python.tar.gz; returns (bytes, member md5s)."""
    rng = np.random.default_rng(7)
    members: dict[str, bytes] = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "labels": [int(v) for v in rng.integers(0, 10, n)],
        }
        members[name] = pickle.dumps(batch, protocol=2)
    names = ["airplane", "automobile", "bird", "cat", "deer"]
    names += ["dog", "frog", "horse", "ship", "truck"]
    members["batches.meta"] = pickle.dumps({"label_names": names}, protocol=2)
    md5s = {k: hashlib.md5(v).hexdigest() for k, v in members.items()}
    if tamper:
        members["test_batch"] = members["test_batch"][:-3] + b"xx."
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=level) as tar:
        d = tarfile.TarInfo("cifar-10-batches-py")
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        tar.addfile(d)
        for k, v in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{k}")
            info.size = len(v)
            tar.addfile(info, io.BytesIO(v))
    return buf.getvalue(), md5s


@pytest.fixture
def cifar_spec(monkeypatch, served):
    """Serve a fake archive and make the registry expect its checksums."""
    root, url = served
    data, md5s = _fake_cifar_tar()
    (root / "good" / "cifar-10-python.tar.gz").write_bytes(data)
    other, _ = _fake_cifar_tar(level=1)  # same members, different archive bytes
    (root / "recompressed").mkdir(exist_ok=True)
    (root / "recompressed" / "cifar-10-python.tar.gz").write_bytes(other)
    tampered, _ = _fake_cifar_tar(level=1, tamper=True)
    (root / "bad" / "cifar-10-python.tar.gz").write_bytes(tampered)
    spec = dl.RemoteFile("cifar-10-python.tar.gz", md5=hashlib.md5(data).hexdigest(), members=md5s)
    src = dl.RemoteSource(
        files=(spec,),
        mirrors=(),
        mirror_env="STEEPEST_MIRROR_CIFAR10",
        extract_to="cifar-10-batches-py",
    )
    monkeypatch.setitem(dl.SOURCES, "cifar10", src)
    return url


def test_cifar_download_extract_and_load(cifar_spec, tmp_path):
    url = cifar_spec
    ds = load_dataset("cifar10", cache_dir=tmp_path, mirrors=f"{url}/good/", timeout=10)
    assert ds.X_train.shape == (15, 3072) and ds.X_test.shape == (3, 3072)
    folder = tmp_path / "cifar10"
    assert [p.name for p in folder.iterdir()] == ["cifar-10-batches-py"]  # archive removed
    again = load_dataset("cifar10", download=False, cache_dir=tmp_path)
    assert again.source["verified"] is True
    np.testing.assert_array_equal(again.X_test, ds.X_test)


def test_cifar_accepted_by_member_checksums(cifar_spec, tmp_path):
    url = cifar_spec
    folder = download_dataset("cifar10", cache_dir=tmp_path, mirrors=f"{url}/recompressed/")
    assert (folder / "cifar-10-batches-py" / "test_batch").is_file()


def test_cifar_tampered_member_is_rejected(cifar_spec, tmp_path):
    url = cifar_spec
    with pytest.raises(ChecksumError, match="test_batch"):
        download_dataset("cifar10", cache_dir=tmp_path, mirrors=f"{url}/bad/")
    assert list((tmp_path / "cifar10").iterdir()) == []


def test_cifar_tampered_cache_is_detected(cifar_spec, tmp_path):
    url = cifar_spec
    folder = download_dataset("cifar10", cache_dir=tmp_path, mirrors=f"{url}/good/")
    batch = folder / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:-3] + b"xx.")
    with pytest.raises(ChecksumError, match="data_batch_2"):
        load_dataset("cifar10", download=False, cache_dir=tmp_path)


# ------------------------------------------------------------------------------ safe extraction


def _tar_with(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        ok = tarfile.TarInfo("folder/ok.txt")
        ok.size = 2
        tar.addfile(ok, io.BytesIO(b"ok"))
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def _member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("member", "message"),
    [
        (_member("/etc/evil"), "absolute"),
        (_member("folder/../../evil"), "leaves the folder"),
        (_member("../evil"), "leaves the folder"),
        (_member("folder/link", tarfile.SYMTYPE, "/etc/passwd"), "link"),
        (_member("folder/hard", tarfile.LNKTYPE, "folder/ok.txt"), "link"),
        (_member("folder/dev", tarfile.CHRTYPE), "special"),
        (_member("folder/fifo", tarfile.FIFOTYPE), "special"),
    ],
)
def test_safe_extract_refuses(tmp_path, member, message):
    archive = _tar_with(tmp_path, member, b"evil" if member.isfile() else b"")
    dest = tmp_path / "out"
    with pytest.raises(DataError, match=message):
        safe_extract_tar(archive, dest)
    assert not dest.exists()  # refused before anything was written


def test_safe_extract_regular_files(tmp_path):
    archive = _tar_with(tmp_path, _member("folder/sub/b.bin"), b"\x00\x01")
    written = safe_extract_tar(archive, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "folder/ok.txt",
        "folder/sub/b.bin",
    ]
    assert (tmp_path / "out" / "folder" / "sub" / "b.bin").read_bytes() == b"\x00\x01"


def test_safe_extract_corrupted_archive(tmp_path):
    path = tmp_path / "x.tar.gz"
    path.write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DataError, match="x.tar.gz"):
        safe_extract_tar(path, tmp_path / "out")
