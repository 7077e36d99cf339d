"""What a new user and a hostile input run into: every boundary gives a clear error, nothing is
lost or overwritten, and no hostile file hangs, floods memory or runs code."""

import gzip
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import steepest
from steepest._bounded import parse_yaml
from steepest._io import load_npz
from steepest.cli import app
from steepest.config import load_config, parse_config
from steepest.data.idx import read_idx
from steepest.errors import DataError, InputError, OutputError, SteepestError
from steepest.runs import load_run, resume_run, train_run
from steepest.tune import parse_space

runner = CliRunner()
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
SMALL = {"train": {"epochs": 2}, "model": {"hidden": [8]}}
BILLION_LAUGHS = """\
a: &a [x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


def _cli(*args):
    return [sys.executable, "-m", "steepest.cli", *args]


def _invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs") / "small"
    train_run(parse_config({**SMALL, "train": {"epochs": 2, "keep_path_every": 5}}), folder,
              plots=False)
    return folder


# ----------------------------------------------------------------------------- 1. locks
def _wait_for_lock(folder: Path, timeout=60):
    lock = folder / ".steepest.lock"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if lock.exists() and lock.read_text().strip():
            return json.loads(lock.read_text())
        time.sleep(0.05)
    raise AssertionError("the first process never took the lock")


@pytest.mark.slow
def test_a_second_process_on_the_same_folder_stops_at_once(tmp_path):
    out = tmp_path / "race"
    first = subprocess.Popen(_cli("train", "--epochs", "300", "--hidden", "32", "--no-plots",
                                  "--out", out), env=ENV, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        holder = _wait_for_lock(out)
        assert holder["pid"] == first.pid
        t0 = time.perf_counter()
        second = subprocess.run(_cli("train", "--epochs", "1", "--lr", "0.5", "--out", out),
                                env=ENV, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2, second.stderr
        assert f"is in use by process {first.pid}" in second.stderr
        assert time.perf_counter() - t0 < 15
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    # the dead process's lock is taken over, with a message
    resumed = subprocess.run(_cli("train", "--resume", out, "--no-plots"), env=ENV,
                             capture_output=True, text=True, timeout=300)
    if (out / "checkpoints" / "last.npz").exists():
        assert resumed.returncode == 0, resumed.stderr
        assert f"took over {out}" in resumed.stderr
        assert str(first.pid) in resumed.stderr


def test_stale_temporaries_are_removed_when_the_folder_is_taken(tmp_path):
    folder = tmp_path / "run"
    train_run(parse_config({"train": {"epochs": 1}, "model": {"hidden": [8]}}), folder,
              plots=False)
    (folder / "checkpoints" / ".last.npz.x1y2.part").write_bytes(b"\0" * 1000)
    (folder / ".summary.json.abc.part").write_text("{")
    notices = []
    resume_run(folder, plots=False, on_event=lambda ev: notices.append(ev))
    assert not list(folder.rglob("*.part"))
    assert any("temporary file" in getattr(ev, "message", "") for ev in notices)


def test_kill_during_a_write_leaves_nothing_after_resume(tmp_path):
    folder = tmp_path / "killed"
    script = f"""
import os, signal, numpy as np
from steepest.config import parse_config
from steepest.runs import train_run
real = np.savez
def savez(fh, **arrays):
    if str(getattr(fh, 'name', '')).endswith('.part') and 'last.npz' in str(fh.name):
        fh.write(b'half a checkpoint')
        os.kill(os.getpid(), signal.SIGKILL)   # killed in the middle of the atomic write
    real(fh, **arrays)
np.savez = savez
train_run(parse_config({SMALL!r}), {str(folder)!r}, plots=False)
"""
    proc = subprocess.run([sys.executable, "-c", script], env=ENV, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert list(folder.rglob("*.part")), "the kill should have left a temporary file"
    assert not (folder / "checkpoints" / "last.npz").exists()
    with pytest.raises(InputError, match="no checkpoint to resume from"):
        resume_run(folder, plots=False)
    assert not list(folder.rglob("*.part"))  # taking the folder cleaned it


# ----------------------------------------------------------------------------- 2. overwrites
def test_landscape_outputs_are_named_after_their_settings_and_not_overwritten(run_dir, tmp_path):
    a = _invoke("landscape", run_dir, "--grid", "3", "--subset", "50", "--no-plots", "--json")
    b = _invoke("landscape", run_dir, "--grid", "3", "--subset", "50", "--norm", "none",
                "--no-plots", "--json")
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    fa, fb = (Path(json.loads(r.stdout)["surface_file"]).parent for r in (a, b))
    assert fa != fb and "filter" in fa.name and "none" in fb.name
    out = tmp_path / "surface"
    assert _invoke("landscape", run_dir, "--grid", "3", "--subset", "50", "--out", out,
                   "--no-plots").exit_code == 0
    again = _invoke("landscape", run_dir, "--grid", "3", "--subset", "50", "--norm", "layer",
                    "--out", out, "--no-plots")
    assert again.exit_code == 2 and "other settings (norm)" in again.output
    assert "--force" in again.output
    assert _invoke("landscape", run_dir, "--grid", "3", "--subset", "50", "--norm", "layer",
                   "--out", out, "--no-plots", "--force").exit_code == 0


def test_trajectories_never_write_over_a_figure(tmp_path):
    out = tmp_path / "t.png"
    assert _invoke("trajectories", "--steps", "5", "--out", out).exit_code == 0
    again = _invoke("trajectories", "--steps", "5", "-f", "booth", "--out", out)
    assert again.exit_code == 2 and "--force" in again.output
    assert _invoke("trajectories", "--steps", "5", "--out", tmp_path).exit_code == 2


# ----------------------------------------------------------------------------- 3-4. divergence
def test_divergence_keeps_the_blow_up_and_no_diverged_weights(tmp_path):
    out = tmp_path / "boom"
    res = _invoke("train", "-o", "sgd", "--lr", "1e4", "--hidden", "16", "--epochs", "3",
                  "--out", out, "--json")
    assert res.exit_code == 3, res.output
    summary = json.loads(res.stdout)
    assert summary["status"] == "diverged" and summary["epochs"] == 0
    assert "no weights were kept" in summary["message"]
    steps = (out / "iterations.csv").read_text().splitlines()[1:]
    assert len(steps) >= 2  # the first step and the one that tripped the detector
    last = float(steps[-1].split(",")[1])
    assert not np.isfinite(last) or last > 10 * float(steps[0].split(",")[1])
    assert not (out / "final.npz").exists()
    assert json.loads((out / "summary.json").read_text())["final_weights"] is None
    assert (out / "plots" / "loss.png").stat().st_size > 5000
    assert "exit status" in _invoke("train", "--help").output
    assert "3 the run diverged" in Path(__file__).parents[1].joinpath("README.md").read_text()


def test_restored_weights_are_explained(tmp_path):
    cfg = parse_config({"train": {"epochs": 6, "patience": 2}, "model": {"hidden": [8]},
                        "optim": {"lr": 0.8, "name": "sgd"}})
    result = train_run(cfg, tmp_path / "r", plots=False)
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert summary["last_epoch"]["epoch"] == result.epochs
    if result.best_epoch != result.epochs:
        assert summary["restored_epoch"] == result.best_epoch
        assert "were restored" in _invoke("train", "--resume", tmp_path / "r").output


# ----------------------------------------------------------------------------- 5. re-running
def test_compare_continues_and_varies_any_key(tmp_path):
    args = ["compare", "--vary", "optim.lr=0.1,0.01", "--epochs", "1", "--hidden", "8",
            "--out", tmp_path, "--json"]
    first = _invoke(*args)
    assert first.exit_code == 0, first.output
    labels = [r["label"] for r in json.loads(first.stdout)["runs"]]
    assert labels == ["optim.lr=0.1", "optim.lr=0.01"]
    again = json.loads(_invoke(*args).stdout)
    assert again["resumed"] == labels  # nothing retrained, nothing refused
    bad = _invoke("compare", "--vary", "optim.colour=1,2", "--out", tmp_path / "x")
    assert bad.exit_code == 2 and "dotted config key" in bad.output


def test_a_study_folder_holds_one_study_with_its_settings(tmp_path):
    (tmp_path / "space.yaml").write_text("optim.lr: {low: 0.01, high: 0.5, log: true}\n")
    base = ["tune", "--space", tmp_path / "space.yaml", "--epochs", "1", "--train-subset",
            "100", "--no-plots", "--out", tmp_path / "s"]
    assert _invoke(*base, "--trials", "2").exit_code == 0
    again = _invoke(*base, "--trials", "2", "--json")
    assert json.loads(again.stdout)["ran"] == 0  # already done: said, not silently nothing
    assert "nothing to run" in _invoke(*base, "--trials", "2").output
    other = _invoke(*base, "--trials", "2", "--sampler", "tpe")
    assert other.exit_code == 2 and "other settings (sampler)" in other.output
    assert _invoke(*base, "--trials", "3", "--sampler", "tpe", "--continue").exit_code == 0
    second = _invoke(*base, "--trials", "2", "--study", "another")
    assert second.exit_code == 2 and "holds the study 's'" in second.output


def test_narrowing_waits_for_enough_completed_trials(tmp_path):
    from steepest.tune import run_search

    space = parse_space({"optim.lr": {"low": 0.01, "high": 0.5, "log": True}})
    events = []
    run_search(space, {"train": {"epochs": 1, "batch_size": 64}, "model": {"hidden": [4]},
                       "data": {"train_subset": 64}}, tmp_path / "s", trials=4, stages=2,
               on_event=events.append, plots=False)
    narrow = [e for e in events if e["type"] == "narrow"]
    assert narrow and narrow[0]["narrowed"] is False and narrow[0]["minimum"] == 4


# ----------------------------------------------------------------------------- 6. leftovers
@pytest.mark.slow
def test_landscape_workers_end_with_their_parent(run_dir, tmp_path):
    proc = subprocess.Popen(_cli("landscape", run_dir, "--grid", "400", "--workers", "2",
                                 "--no-plots", "--out", tmp_path / "big"), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    deadline = time.time() + 60
    while time.time() < deadline and len(workers) < 2 and proc.poll() is None:
        time.sleep(0.1)
        workers = _children(proc.pid)
    assert workers, "the landscape never started its workers"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.1)
    alive = [w for w in workers if Path(f"/proc/{w}").exists()
             and "Z" not in Path(f"/proc/{w}/stat").read_text().split()[2]]
    assert not alive, f"workers {alive} outlived their parent"


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            if f"\nPPid:\t{pid}\n" in status:
                out.append(int(entry.name))
    return out


def test_files_get_the_users_umask(tmp_path):
    folder = tmp_path / "perm"
    old = os.umask(0o022)
    try:
        train_run(parse_config({"train": {"epochs": 1}, "model": {"hidden": [4]}}), folder,
                  plots=False)
    finally:
        os.umask(old)
    assert (folder / "summary.json").stat().st_mode & 0o777 == 0o644
    assert (folder / "checkpoints" / "last.npz").stat().st_mode & 0o777 == 0o644


# ----------------------------------------------------------------------------- 7. hostile YAML
@pytest.mark.parametrize("where", ["known", "unknown", "section"])
def test_a_billion_laughs_config_fails_fast(tmp_path, where):
    body = {"known": BILLION_LAUGHS + "model:\n  hidden: *i\n",
            "unknown": BILLION_LAUGHS + "model:\n  colour: *i\n",
            "section": BILLION_LAUGHS + "train: *i\n"}[where]
    (tmp_path / "bomb.yaml").write_text(body)
    t0 = time.perf_counter()
    res = _invoke("train", "--config", tmp_path / "bomb.yaml", "--epochs", "1")
    assert res.exit_code == 2 and "100,000 values" in res.output
    assert time.perf_counter() - t0 < 1.0
    space = tmp_path / "space.yaml"
    space.write_text(BILLION_LAUGHS + "optim.lr: {choices: *i}\n")
    with pytest.raises(InputError, match="100,000 values"):
        steepest.tune.load_space(space)


def test_deep_yaml_and_binary_files_are_refused(tmp_path):
    with pytest.raises(InputError, match="nested more than"):
        parse_yaml("a: " + "[" * 5000 + "]" * 5000, "deep")
    binary = tmp_path / "config.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="not a text file"):
        load_config(binary)
    res = _invoke("tune", "--space", binary)
    assert res.exit_code == 2 and "not a text file" in res.output


def test_hostile_cifar_meta_is_bounded(tmp_path):
    import pickle

    from steepest.data.cifar import read_cifar_batch, read_cifar_meta

    shared = [b"x"] * 10
    for _ in range(8):
        shared = [shared] * 10
    meta = tmp_path / "batches.meta"
    meta.write_bytes(pickle.dumps({b"label_names": shared}, protocol=2))
    t0 = time.perf_counter()
    with pytest.raises(DataError, match="refusing the pickled data"):
        read_cifar_meta(meta)
    batch = tmp_path / "data_batch_1"
    batch.write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": shared},
                                   protocol=2))
    with pytest.raises(DataError):
        read_cifar_batch(batch)
    assert time.perf_counter() - t0 < 2.0


# ----------------------------------------------------------------------------- 8. damaged runs
def _damage(run_dir: Path, tmp_path: Path, **fields):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    last = copy / "checkpoints" / "last.npz"
    z = load_npz(last)
    for key, value in fields.items():
        if value is None:
            z.pop(key)
        else:
            z[key] = value
    np.savez(last, **z)
    return copy


@pytest.mark.parametrize("fields, message", [
    ({"rng": "{not json"}, "field 'rng' is not valid JSON"),
    ({"history": "[1, 2"}, "field 'history' is not valid JSON"),
    ({"rng": json.dumps({"bit_generator": "MT19937", "state": {}})}, "'MT19937' generator"),
    ({"step": "abc"}, "field 'step' must be a single int"),
    ({"losses": np.zeros((2, 3))}, "field 'losses' must be a 1-D float vector"),
    ({"theta": None}, "no 'theta' field"),
    ({"buffers": None}, "no 'buffers' field"),
    ({"step": np.array(3)}, "does not match epoch"),
])
def test_damaged_checkpoints_are_named(run_dir, tmp_path, fields, message):
    copy = _damage(run_dir, tmp_path, **fields)
    with pytest.raises(SteepestError, match=message) as info:
        resume_run(copy, plots=False)
    assert "last.npz" in str(info.value)


def test_truncated_and_flipped_weights_are_named(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    last = copy / "checkpoints" / "last.npz"
    data = bytearray(last.read_bytes())
    last.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(DataError, match="last.npz.*damaged"):
        resume_run(copy, plots=False)
    final = copy / "final.npz"
    data = bytearray(final.read_bytes())
    for i in range(40, len(data), 97):
        data[i] ^= 0xFF
    final.write_bytes(bytes(data))
    res = _invoke("landscape", copy, "--grid", "3")
    assert res.exit_code == 2 and "final.npz" in res.output
    res = _invoke("hessian", copy, "--top", "1")
    assert res.exit_code == 2 and "final.npz" in res.output


def test_an_empty_config_never_means_defaults(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "config.yaml").write_text("")
    with pytest.raises(InputError, match="config.yaml is empty"):
        resume_run(copy, plots=False)
    with pytest.raises(InputError, match="is empty"):
        load_run(copy)


# ----------------------------------------------------------------------------- 9. data files
def test_a_gzip_bomb_idx_stops_where_its_header_says(tmp_path):
    header = struct.pack(">HBB", 0, 0x08, 1) + struct.pack(">I", 100)
    bomb = tmp_path / "bomb-idx1-ubyte.gz"
    bomb.write_bytes(gzip.compress(header + b"\0" * (50 << 20)))  # 52 MB behind 100 bytes
    t0 = time.perf_counter()
    with pytest.raises(DataError, match="more than the 108 bytes its header announces"):
        read_idx(bomb)
    assert time.perf_counter() - t0 < 1.0


def test_an_idx_dataset_with_no_images_is_refused(tmp_path):
    from steepest.data import load_dataset
    from steepest.data.idx import write_idx

    for part, n in (("train", 0), ("t10k", 3)):
        write_idx(tmp_path / f"{part}-images-idx3-ubyte.gz", np.zeros((n, 28, 28), np.uint8))
        write_idx(tmp_path / f"{part}-labels-idx1-ubyte.gz", np.zeros(n, np.uint8))
    with pytest.raises(DataError, match="holds no data"):
        load_dataset("mnist", data_dir=tmp_path)


# ----------------------------------------------------------------------------- 10. I/O
def test_outputs_that_cannot_be_written_are_named(tmp_path, monkeypatch):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    res = _invoke("train", "--epochs", "1", "--out", a_file)
    assert res.exit_code == 2 and f"{a_file}" in res.output and "is a file" in res.output
    res = _invoke("train", "--epochs", "1", "--out", "/proc/version/run")
    assert res.exit_code == 2 and "/proc/version/run" in res.output
    folder = tmp_path / "full"
    train_run(parse_config(SMALL), folder, plots=False)
    before = (folder / "checkpoints" / "last.npz").read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", no_space)
    with pytest.raises(OutputError, match="last.npz: No space left on device"):
        train_run(parse_config(SMALL), tmp_path / "other", plots=False)
    monkeypatch.undo()
    assert (folder / "checkpoints" / "last.npz").read_bytes() == before


# ----------------------------------------------------------------------------- 11. numbers
@pytest.mark.parametrize("args, message", [
    (["train", "--decay-every", "inf"], "finite number"),
    (["train", "--warmup-epochs", "inf"], "finite number"),
    (["train", "--set", "optim.momentum_anneal_epochs=.inf"], "finite number"),
    (["train", "--set", "train.epochs=true"], "not true"),
    (["train", "--hidden", "100000,100000"], "GiB of memory"),
    (["gradcheck", "--batch", "-1"], "--batch must be a positive integer"),
    (["gradcheck", "--tol", "nan"], "tol must be a positive finite number"),
    (["gradcheck", "--tol", "-1"], "tol must be a positive finite number"),
    (["inspect", "--sample", "-1"], "--sample must be a positive integer"),
    (["compare", "--lr", "nan", "--epochs", "1"], "positive finite"),
    (["compare", "--lr", "sgd=-1", "--epochs", "1"], "positive finite"),
    (["compare", "--optimizers", "sgd", "--lr", "adam=0.1"], "not among the compared rules"),
    (["tune", "--space", "space.yaml", "--heartbeat", "nan"], "heartbeat"),
])
def test_bad_numbers_are_named(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    Path("space.yaml").write_text("optim.lr: {low: 0.01, high: 0.5}\n")
    res = _invoke(*args)
    assert res.exit_code == 2, res.output
    assert message in res.output


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed must be a non-negative integer"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--workers", "-2"], "--workers must be at least 1"),
    (["--grid", "1000000"], "GiB of memory"),
])
def test_bad_landscape_options_are_named(run_dir, args, message):
    res = _invoke("landscape", run_dir, *args)
    assert res.exit_code == 2 and message in res.output, res.output


def test_search_space_oddities_are_named():
    with pytest.raises(InputError, match="not a key of the run configuration"):
        parse_space({1: {"low": 0, "high": 1}})
    with pytest.raises(InputError, match="finite numbers"):
        parse_space(yaml.safe_load("optim.lr: {low: 1.0e-3, high: 1.0e400}"))


def test_complex_inputs_are_refused():
    model = steepest.mlp([2, 3])
    with pytest.raises(InputError, match="real numbers"):
        model.loss_and_grad(model.init_params(), np.ones((2, 2), complex), [0, 1])


# ----------------------------------------------------------------------------- 12-14. first hour
def test_help_shows_defaults_choices_and_no_bool_metavars():
    raw = _invoke("train", "--help").output
    text = " ".join(raw.replace("│", " ").split())  # undo the help's wrapping in a box
    assert "default 64" in text and "one of relu, leaky_relu" in text
    flags = [line for line in raw.splitlines() if "--json" in line or "--plots" in line
             or "--batchnorm" in line]
    assert flags and not any("<bool>" in line for line in flags)


def test_json_errors_and_version():
    res = subprocess.run(_cli("train", "--epochs", "abc", "--json"), capture_output=True,
                         text=True, env=ENV)
    assert res.returncode == 2
    assert json.loads(res.stdout)["exit_code"] == 2
    res = _invoke("gradcheck", "--activation", "swish", "--json")
    assert res.exit_code == 2 and "unknown activation" in json.loads(res.stdout)["error"]
    assert json.loads(_invoke("version", "--json").stdout)["version"] == steepest.__version__


def test_messages_keep_their_brackets(tmp_path):
    (tmp_path / "space.yaml").write_text("optim.lr[x]: {low: 0.01, high: 0.5}\n")
    res = _invoke("tune", "--space", tmp_path / "space.yaml")
    assert res.exit_code == 2 and "optim.lr[x]" in res.output


def test_piped_tables_keep_whole_rows(run_dir, tmp_path):
    out = tmp_path / ("a-long-folder-name-" * 3) / "surface"
    res = _invoke("landscape", run_dir, "--grid", "3", "--subset", "50", "--out", out,
                  "--no-plots")
    assert res.exit_code == 0, res.output
    assert str(out / "surface.npz") in res.output and "…" not in res.output


def test_data_download_of_an_unknown_dataset():
    res = _invoke("data", "download", "imagenet")
    assert res.exit_code == 2 and "imagenet" in res.output


def test_hessian_writes_its_results_and_figures(run_dir, tmp_path):
    res = _invoke("hessian", run_dir, "--top", "2", "--subset", "100", "--path", "--out",
                  tmp_path / "h", "--format", "svg", "--json")
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "h" / "hessian.json").read_text())
    assert len(saved["eigenvalues"]) == 2 and saved["path"]["reports"]
    assert (tmp_path / "h" / "spectrum.svg").exists() and (tmp_path / "h" / "path.svg").exists()


def test_inspect_warns_when_activations_collapse():
    res = _invoke("inspect", "--activation", "tanh", "--init", "small", "--hidden",
                  "64,64,64,64,64")
    assert res.exit_code == 0 and "activations collapsed" in res.output


def test_figures_in_any_format(tmp_path):
    res = _invoke("train", "--epochs", "1", "--hidden", "8", "--out", tmp_path / "r",
                  "--format", "pdf", "--dpi", "72")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "plots" / "loss.pdf").read_bytes().startswith(b"%PDF")
    assert _invoke("train", "--format", "gif").exit_code == 2


def test_a_non_objective_is_named():
    from steepest.landscape import plane

    with pytest.raises(InputError, match="has no layout, init_params, loss_and_grad"):
        plane(object(), np.zeros(3), np.zeros((2, 3)), np.zeros(2))


@pytest.mark.parametrize("call, message", [
    (lambda m: m.init_params(seed=-1), "seed must be a non-negative integer, got -1"),
    (lambda m: m.init_params(seed=1.5), "seed must be a non-negative integer, got 1.5"),
    (lambda m: m.init_params(seed=True), "seed must be a non-negative integer, got True"),
    (lambda m: m.init_params(dtype=np.int32), "dtype must be float32 or float64"),
    (lambda m: m.init_params(dtype="float16"), "dtype must be float32 or float64, got 'float16'"),
    (lambda m: m.loss_and_grad(m.init_params(0), np.ones((2, 4)), np.array([0, 1]), rng=42),
     "rng must be a numpy.random.Generator"),
])
def test_model_arguments_are_checked_where_they_enter(call, message):
    model = steepest.mlp([4, 5, 3], dropout=0.5)
    with pytest.raises(InputError, match=re.escape(message)):
        call(model)
