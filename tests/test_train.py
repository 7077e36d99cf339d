"""The training loop: it learns, stops early, detects divergence without losing the best
checkpoint, writes a complete run directory, and resumes bit-identically after a SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

import steepest
from steepest._io import load_npz
from steepest.cli import app
from steepest.config import parse_config
from steepest.data import make_spiral, train_val_split
from steepest.optim import SGD, Momentum
from steepest.runs import resume_run, train_run
from steepest.train import EpochEnded, Trainer, TrainSettings

runner = CliRunner()


@pytest.fixture(scope="module")
def spiral():
    X, y = make_spiral(n_per_class=100, n_classes=3, seed=0)
    return train_val_split(X, y, 0.2, seed=0)


def test_mlp_learns_the_spiral(spiral):
    X_tr, X_val, y_tr, y_val = spiral
    model = steepest.mlp([2, 100, 3], reg=1e-3)
    spec = TrainSettings(epochs=200, batch_size=32, seed=0, dtype="float64")
    result = Trainer(model, Momentum(lr=0.1, mu=0.9), X_tr, y_tr, X_val, y_val, spec).run()
    assert result.status == "completed"
    assert result.train_acc > 0.95 and result.val_acc > 0.9
    # a linear classifier cannot separate the spiral
    lin = steepest.linear(2, 3)
    res_lin = Trainer(lin, SGD(lr=0.5), X_tr, y_tr, X_val, y_val, spec).run()
    assert res_lin.train_acc < 0.7


def test_history_and_monitors(spiral):
    X_tr, X_val, y_tr, y_val = spiral
    model = steepest.mlp([2, 20, 3])
    spec = TrainSettings(epochs=3, batch_size=16, monitor_every=5, dtype="float64")
    result = Trainer(model, SGD(lr=0.1), X_tr, y_tr, X_val, y_val, spec).run()
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    row = result.history[-1]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "grad_norm",
                "update_ratio.fc1.W", "update_ratio.fc2.W", "dead.relu1", "act_mean.relu1",
                "act_std.relu1"):
        assert key in row, key
    assert 0 <= row["dead.relu1"] <= 1
    assert 1e-6 < row["update_ratio.fc1.W"] < 1
    assert row["lr"] == 0.1
    assert result.losses.shape == (3 * 15,)  # 240 rows / 16 per batch = 15 steps per epoch


@pytest.mark.parametrize("lr, patience, restore", [(0.1, None, False), (1e-6, 2, True)])
def test_result_figures_are_those_of_its_weights(spiral, lr, patience, restore):
    """The result's accuracies and loss (taken from the epoch row that evaluated the same
    point, to save a pass) equal a fresh evaluation of the returned weights, with and without
    a restored best epoch."""
    from steepest.contract import evaluate

    X_tr, X_val, y_tr, y_val = spiral
    model = steepest.mlp([2, 20, 3])
    spec = TrainSettings(epochs=12, batch_size=32, patience=patience, restore_best=restore,
                         dtype="float64")
    trainer = Trainer(model, SGD(lr=lr), X_tr, y_tr, X_val, y_val, spec)
    result = trainer.run()
    rows = trainer.eval_rows
    assert restore == (result.restored_epoch is not None)
    assert evaluate(model, result.theta, X_tr[rows], y_tr[rows]) == (result.final_loss,
                                                                     result.train_acc)
    assert evaluate(model, result.theta, X_val, y_val)[1] == result.val_acc


def test_all_finite_proves_finiteness_by_a_sum_and_falls_back_when_it_overflows():
    from steepest._validate import all_finite

    X = np.ones((5, 3), np.float32)
    assert all_finite(X)
    for bad in (np.nan, np.inf, -np.inf):
        Y = X.copy()
        Y[2, 1] = bad
        assert not all_finite(Y)
    huge = np.full((4, 2), 3e38, np.float32)  # finite entries whose float32 sum overflows
    assert all_finite(huge)
    huge[0, 0] = -np.inf
    assert not all_finite(huge)


def test_update_ratio_is_lr_times_grad_over_weight_for_sgd():
    from steepest.train.monitors import update_ratios

    model = steepest.linear(3, 2)
    before = model.init_params(0)
    grad = np.arange(1.0, model.n_params + 1)
    after = before - 0.01 * grad
    W = model.layout["fc1.W"].slice
    expected = 0.01 * np.linalg.norm(grad[W]) / np.linalg.norm(before[W])
    assert update_ratios(model.layout, before, after)["fc1.W"] == pytest.approx(expected)


def test_early_stopping_restores_the_best(spiral):
    X_tr, X_val, y_tr, y_val = spiral
    model = steepest.mlp([2, 20, 3])
    spec = TrainSettings(epochs=100, batch_size=32, patience=3, dtype="float64")
    result = Trainer(model, SGD(lr=1e-6), X_tr, y_tr, X_val, y_val, spec).run()
    assert result.status == "early_stopped"
    assert result.epochs == result.best_epoch + 3
    assert result.val_acc == pytest.approx(result.best_metric)


def test_divergence_stops_and_keeps_the_best_checkpoint(spiral, tmp_path):
    X_tr, X_val, y_tr, y_val = spiral
    model = steepest.mlp([2, 20, 3])
    # a sane rate for three epochs (24 steps), then an absurd one
    lr = steepest.optim.schedules.step_decay(0.05, 1.0, 1000)

    class Explode(SGD):
        pass

    opt = Explode(lr=lr)
    spec = TrainSettings(epochs=50, batch_size=30, dtype="float64")
    trainer = Trainer(model, opt, X_tr, y_tr, X_val, y_val, spec, run_dir=tmp_path)
    original_step = opt.step

    def step(theta, grad, state):
        if int(state["step"]) >= 24:
            grad = grad * 1e6
        return original_step(theta, grad, state)

    opt.step = step
    result = trainer.run()
    assert result.status == "diverged"
    assert "smaller learning rate" in result.message
    best = load_npz(tmp_path / "checkpoints" / "best.npz")
    assert np.all(np.isfinite(best["theta"])) and int(best["epoch"]) <= 3
    np.testing.assert_array_equal(result.theta, best["theta"])
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "diverged"


def test_run_directory_is_complete(tmp_path):
    cfg = parse_config({"train": {"epochs": 2}, "model": {"hidden": [16]}})
    result = train_run(cfg, tmp_path / "run")
    run = tmp_path / "run"
    for name in ("config.yaml", "metrics.csv", "iterations.csv", "summary.json", "final.npz",
                 "checkpoints/last.npz", "checkpoints/best.npz", "plots/loss.png",
                 "plots/accuracy.png", "plots/update_ratios.png", "plots/weights.png"):
        assert (run / name).exists(), name
    assert parse_config(yaml.safe_load((run / "config.yaml").read_text())) == cfg
    header = (run / "metrics.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["epoch", "step", "train_loss"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["test_acc"] == pytest.approx(result.test_acc)
    assert not list(run.rglob("*.part")), "no temporary files left behind"
    with pytest.raises(steepest.InputError, match="already holds a run"):
        train_run(cfg, run)


def test_interrupted_run_resumes_bit_identically_in_process(tmp_path):
    cfg = parse_config({"train": {"epochs": 6, "batch_size": 32}, "model": {"hidden": [16],
                        "dropout": 0.8, "batchnorm": True}, "optim": {"name": "adam",
                        "lr": 1e-3}})
    full = train_run(cfg, tmp_path / "full", plots=False)

    class Stop(Exception):
        pass

    def stop_after_3(ev):
        if isinstance(ev, EpochEnded) and ev.epoch == 3:
            raise Stop

    with pytest.raises(Stop):
        train_run(cfg, tmp_path / "cut", on_event=stop_after_3, plots=False)
    resumed = resume_run(tmp_path / "cut", plots=False)
    np.testing.assert_array_equal(resumed.theta, full.theta)
    np.testing.assert_array_equal(resumed.losses, full.losses)
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in full.history]
    assert [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history] == strip


def _cli(*args):
    return [sys.executable, "-m", "steepest.cli", *args]


@pytest.mark.slow
def test_sigkill_then_resume_is_bit_identical(tmp_path):
    args = ["train", "--epochs", "40", "--hidden", "32", "--optimizer", "nesterov",
            "--dropout", "0.9", "--no-plots", "--json"]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run(_cli(*args, "--out", str(tmp_path / "whole")), check=True, env=env,
                   capture_output=True)
    cut = tmp_path / "cut"
    proc = subprocess.Popen(_cli(*args, "--out", str(cut)), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = cut / "checkpoints" / "last.npz"
    deadline = time.time() + 60
    while time.time() < deadline:
        if last.exists() and int(load_npz(last)["epoch"]) >= 3:
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (cut / "summary.json").exists(), "the run finished before it could be killed"
    killed_at = int(load_npz(last)["epoch"])
    assert 3 <= killed_at < 40
    done = subprocess.run(_cli("train", "--resume", str(cut), "--no-plots", "--json"),
                          check=True, env=env, capture_output=True, text=True)
    assert json.loads(done.stdout)["epochs"] == 40
    a, b = load_npz(tmp_path / "whole" / "final.npz"), load_npz(cut / "final.npz")
    np.testing.assert_array_equal(a["theta"], b["theta"])
    np.testing.assert_array_equal(a["buffers"], b["buffers"])
    ia = (tmp_path / "whole" / "iterations.csv").read_text()
    assert ia == (cut / "iterations.csv").read_text()


def test_cli_train_json(tmp_path):
    result = runner.invoke(app, ["train", "--epochs", "2", "--hidden", "16", "--out",
                                 str(tmp_path / "r"), "--json", "--no-plots"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    for key in ("train_acc", "val_acc", "test_acc", "final_loss", "epochs", "seconds", "run_dir"):
        assert key in out
    assert out["epochs"] == 2 and Path(out["run_dir"]) == tmp_path / "r"


def test_config_file_errors_are_reported_at_once(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  hidden: [0]\n  activation: swish\n  colour: red\n"
                   "optim:\n  lr: -1\ntrain:\n  epochs: many\n")
    result = runner.invoke(app, ["train", "--config", str(bad)])
    assert result.exit_code == 2
    for fragment in ("5 problem(s)", "model.hidden.0", "model.activation", "model.colour",
                     "optim.lr", "train.epochs"):
        assert fragment in result.output, fragment


def test_cli_overrides_config_file(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text("model:\n  hidden: [8]\ntrain:\n  epochs: 1\n  batch_size: 50\n")
    result = runner.invoke(app, ["train", "--config", str(good), "--epochs", "2", "--out",
                                 str(tmp_path / "r"), "--json", "--no-plots"])
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert cfg["train"]["epochs"] == 2 and cfg["train"]["batch_size"] == 50
    assert cfg["model"]["hidden"] == [8]
