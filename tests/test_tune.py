"""Hyperparameter search: space validation, real trials, pruning, failures, coarse-to-fine,
shared storages with several worker processes (SQLite, journal, PostgreSQL), a SIGKILLed
worker, an unreachable storage, and the CLI."""

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
import yaml
from typer.testing import CliRunner

from steepest import InputError
from steepest.cli import app
from steepest.tune import make_storage, parse_space, run_search

runner = CliRunner()
BASE = {"train": {"epochs": 3}, "model": {"hidden": [16]}}
LR_REG = {"optim.lr": {"low": 1e-3, "high": 0.3, "log": True},
          "model.reg": {"low": 1e-6, "high": 1e-2, "log": True}}


def _trials(storage, name):
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def test_space_problems_are_reported_at_once():
    with pytest.raises(InputError) as err:
        parse_space({
            "optim.lr": {"low": 0.0, "high": 1.0, "log": True},
            "model.reg": {"low": 1.0, "high": 0.5},
            "model.colour": {"choices": ["red"]},
            "model.dropout": {"low": 0.5, "high": 1.5},
            "train.batch_size": {"type": "int", "low": 8.5, "high": 64},
            "optim.name": {"choices": []},
        }, base={})
    text = str(err.value)
    assert text.startswith("6 problem(s) in the search space")
    for fragment in ("optim.lr: a log range must be positive", "model.reg: low must be below",
                     "model.colour: not a key", "model.dropout: the value 1.5",
                     "train.batch_size: an int range needs integer bounds",
                     "optim.name: choices must be a non-empty list"):
        assert fragment in text, fragment


def test_space_values_grid_and_narrowing():
    space = parse_space({"optim.lr": {"low": 1e-4, "high": 1e-1, "log": True, "grid": 4},
                         "model.hidden": {"choices": [[64], [128, 64]]},
                         "train.batch_size": {"type": "int", "low": 16, "high": 128}}, base={})
    grid = space.grid()
    np.testing.assert_allclose(grid["optim.lr"], [1e-4, 1e-3, 1e-2, 1e-1])
    assert grid["model.hidden"] == ["[64]", "[128, 64]"]
    assert space["model.hidden"].decode("[128, 64]") == [128, 64]
    narrow = space.narrowed([{"optim.lr": 1e-3, "train.batch_size": 32},
                             {"optim.lr": 1e-2, "train.batch_size": 64}], margin=0.5)
    lr = narrow["optim.lr"]  # the span 1e-3..1e-2, widened by half its width in log space
    assert lr.low == pytest.approx(10**-3.5) and lr.high == pytest.approx(10**-1.5)
    assert narrow["train.batch_size"].low == 16 and narrow["train.batch_size"].high == 80
    assert narrow["model.hidden"] == space["model.hidden"]


def test_search_trains_records_and_writes_a_runnable_best_config(tmp_path):
    space = parse_space(LR_REG, base=BASE)
    events = []
    res = run_search(space, BASE, tmp_path / "s", trials=4, on_event=events.append, seed=3)
    assert (res.trials, res.completed, res.failed, res.pruned) == (4, 4, 0, 0)
    assert [e["number"] for e in events if e["type"] == "trial"] == [0, 1, 2, 3]
    trials = _trials(res.storage, res.study_name)
    for t in trials:  # each trial is a real run with its own seed and folder
        run = Path(t.user_attrs["run_dir"])
        cfg = yaml.safe_load((run / "config.yaml").read_text())
        assert cfg["train"]["seed"] == t.number
        assert cfg["optim"]["lr"] == pytest.approx(t.params["optim.lr"])
        assert len(t.intermediate_values) == 3  # one report per epoch
    assert res.best_value == max(t.value for t in trials)
    result = runner.invoke(app, ["train", "--config", str(res.best_config), "--out",
                                 str(tmp_path / "again"), "--no-plots", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["best_trial"] == res.best_trial
    assert (tmp_path / "s" / "trials.csv").read_text().count("\n") == 5
    # continuing the same study with a larger budget runs only the missing trials
    res2 = run_search(space, BASE, tmp_path / "s", trials=5, seed=3)
    assert res2.trials == 5 and res2.stages[0]["resumed"] == 4


def test_diverged_trials_are_failed_with_their_reason_and_the_search_goes_on(tmp_path):
    base = {**BASE, "optim": {"name": "sgd"}}
    space = parse_space({"optim.lr": {"choices": [1e4, 0.05]}}, base=base)
    records = []
    sink = logging.Handler()
    sink.emit = records.append
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)  # a user's setting: Optuna's default
    logging.getLogger("optuna").addHandler(sink)
    try:
        res = run_search(space, base, tmp_path / "s", trials=6, seed=0)
        assert optuna.logging.get_verbosity() == optuna.logging.INFO  # restored
    finally:
        logging.getLogger("optuna").removeHandler(sink)
        optuna.logging.set_verbosity(level)
    # the library prints nothing: failures are results, not Optuna's logged tracebacks
    assert [r.getMessage() for r in records] == []
    trials = _trials(res.storage, res.study_name)
    failed = [t for t in trials if t.state.name == "FAIL"]
    assert failed and res.completed >= 1 and res.failed == len(failed)
    for t in failed:
        assert t.params["optim.lr"] == 1e4
        assert "smaller learning rate" in t.user_attrs["fail_reason"]


def test_hopeless_trials_are_pruned(tmp_path):
    base = {"train": {"epochs": 6}, "model": {"hidden": [16]}}
    space = parse_space({"optim.lr": {"choices": [1e-7, 0.05]}}, base=base)
    res = run_search(space, base, tmp_path / "s", trials=10, pruner="median", seed=1)
    trials = _trials(res.storage, res.study_name)
    pruned = [t for t in trials if t.state.name == "PRUNED"]
    assert res.pruned == len(pruned) >= 1
    for t in pruned:
        assert t.params["optim.lr"] == 1e-7  # the rate that cannot learn
        assert len(t.intermediate_values) < 6  # stopped before the last epoch


def test_coarse_to_fine_narrows_the_second_stage(tmp_path):
    space = parse_space(LR_REG, base=BASE)
    events = []
    res = run_search(space, BASE, tmp_path / "s", trials=8, stages=2, sampler="tpe",
                     on_event=events.append, seed=0)
    narrow = [e for e in events if e["type"] == "narrow"]
    assert len(narrow) == 1 and narrow[0]["stage"] == 2
    lr = narrow[0]["space"]["optim.lr"]
    assert 1e-3 <= lr["low"] < lr["high"] <= 0.3 and (lr["low"], lr["high"]) != (1e-3, 0.3)
    for t in _trials(res.storage, res.study_name):
        if t.user_attrs["stage"] == 2:
            assert lr["low"] <= t.params["optim.lr"] <= lr["high"]


def test_grid_sampler_covers_the_grid(tmp_path):
    space = parse_space({"optim.lr": {"low": 0.01, "high": 0.1, "log": True, "grid": 2},
                         "model.reg": {"choices": [0.0, 1e-3]}}, base=BASE)
    res = run_search(space, BASE, tmp_path / "s", trials=4, sampler="grid")
    seen = {(round(t.params["optim.lr"], 6), t.params["model.reg"])
            for t in _trials(res.storage, res.study_name)}
    assert seen == {(0.01, 0.0), (0.01, 1e-3), (0.1, 0.0), (0.1, 1e-3)}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_worker_processes_share_one_study(tmp_path, kind):
    space = parse_space(LR_REG, base=BASE)
    storage = None if kind == "sqlite" else f"journal:{tmp_path / 'study.log'}"
    res = run_search(space, BASE, tmp_path / "s", trials=6, workers=2, storage=storage,
                     study_name="shared")
    trials = _trials(make_storage(res.storage), "shared")
    assert len(trials) == 6 == res.completed
    assert sorted(t.number for t in trials) == list(range(6))  # none lost, none twice
    assert len({t.user_attrs["run_dir"] for t in trials}) == 6


@pytest.mark.slow
def test_postgresql_server_with_two_workers(tmp_path):
    pg = pytest.importorskip("pgserver", reason="tests/pgserver.py helper")
    ok, why = pg.available()
    if not ok:
        pytest.skip(why)
    space = parse_space(LR_REG, base=BASE)
    with pg.postgres_server(tmp_path) as url:
        res = run_search(space, BASE, tmp_path / "s", trials=4, workers=2, storage=url,
                         study_name="pg")
        trials = _trials(make_storage(url), "pg")
    assert res.completed == 4 and sorted(t.number for t in trials) == [0, 1, 2, 3]


def test_unreachable_storage_fails_fast(tmp_path):
    space = parse_space(LR_REG, base=BASE)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="cannot use the storage 'postgresql"):
        run_search(space, BASE, tmp_path / "s", trials=1,
                   storage="postgresql+psycopg2://nobody@127.0.0.1:1/nothing")
    assert time.perf_counter() - t0 < 30


@pytest.mark.slow
def test_sigkilled_worker_leaves_a_readable_study(tmp_path):
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(LR_REG))
    url = f"sqlite:///{tmp_path / 'study.db'}"
    cmd = [sys.executable, "-m", "steepest.cli", "tune", "--space", str(tmp_path / "space.yaml"),
           "--trials", "3", "--epochs", "400", "--storage", url, "--study", "kill",
           "--heartbeat", "1", "--no-plots", "--json"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    victim = subprocess.Popen([*cmd, "--out", str(tmp_path / "a")], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    running = []
    while time.time() < deadline and not running:
        time.sleep(0.2)
        try:
            running = [t for t in _trials(make_storage(url), "kill")
                       if t.state.name == "RUNNING"]
        except Exception:  # the study may not exist yet
            running = []
    # Optuna creates the trial (RUNNING) just before its first heartbeat: kill after one beat
    time.sleep(1.5)
    assert victim.poll() is None, "the first worker finished before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert running, "the first worker never started a trial"
    killed = running[0].number
    time.sleep(3)  # past the heartbeat's grace period (2 s)
    other = subprocess.run([*cmd[:-4], "--epochs", "2", "--heartbeat", "1", "--no-plots",
                            "--json", "--out", str(tmp_path / "b")], env=env,
                           capture_output=True, text=True, timeout=300)
    assert other.returncode == 0, other.stderr
    trials = {t.number: t for t in _trials(make_storage(url), "kill")}
    assert trials[killed].state.name in ("FAIL", "RUNNING")  # failed (or at least stale)
    assert trials[killed].state.name == "FAIL"  # SQLite keeps heartbeats: it is failed
    others = [t for n, t in trials.items() if n != killed]
    assert others and all(t.state.name == "COMPLETE" for t in others)
    assert len(trials) == 3 and sorted(trials) == [0, 1, 2]


def test_cli_tune_json(tmp_path):
    (tmp_path / "space.yaml").write_text(yaml.safe_dump(LR_REG))
    (tmp_path / "base.yaml").write_text(yaml.safe_dump({**BASE, "train": {"epochs": 3,
                                                                          "seed": 7}}))
    result = runner.invoke(app, ["tune", "--space", str(tmp_path / "space.yaml"), "--config",
                                 str(tmp_path / "base.yaml"), "--trials", "3", "--out",
                                 str(tmp_path / "study"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("best_value", "best_params", "trials", "pruned", "failed", "seconds"):
        assert key in out
    assert out["trials"] == 3 and set(out["best_params"]) == set(LR_REG)
    cfg = yaml.safe_load(Path(out["best_config"]).read_text())
    assert cfg["train"]["seed"] == 7 + out["best_trial"]  # the config's seed, not a default
    bad = runner.invoke(app, ["tune", "--space", str(tmp_path / "space.yaml"), "--sampler",
                              "bayes", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown sampler 'bayes'" in bad.output
