"""The newer update rules and schedules through configs, the Trainer, checkpoints and the CLI."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from steepest.build import build
from steepest.cli import app
from steepest.config import parse_config
from steepest.optim import SAM, ScheduleFreeSGD
from steepest.runs import resume_run, train_run
from steepest.train import EpochEnded

runner = CliRunner()
RULES = ["nadam", "radam", "adamax", "adadelta", "adafactor", "lion", "muon",
         "sgd_schedule_free", "adamw_schedule_free", "sam", "lookahead", "shampoo"]


@pytest.mark.parametrize("name", RULES)
def test_every_rule_trains_from_a_config_and_resumes_exactly(tmp_path, name):
    cfg = parse_config({"optim": {"name": name, "lr": 0.01, "clip_norm": 5.0},
                        "model": {"hidden": [16], "dropout": 0.9},
                        "train": {"epochs": 3, "batch_size": 64}})
    full = train_run(cfg, tmp_path / "full", plots=False)
    assert full.status in ("completed", "diverged")

    class Stop(Exception):
        pass

    def stop(ev):
        if isinstance(ev, EpochEnded) and ev.epoch == 1:
            raise Stop

    with pytest.raises(Stop):
        train_run(cfg, tmp_path / "cut", on_event=stop, plots=False)
    resumed = resume_run(tmp_path / "cut", plots=False)
    np.testing.assert_array_equal(resumed.theta, full.theta)
    np.testing.assert_array_equal(resumed.losses, full.losses)


def test_rule_defaults_are_kept_unless_the_config_sets_them():
    lion = build(parse_config({"optim": {"name": "lion"}})).optimizer
    assert lion.hyperparameters()["beta2"] == pytest.approx(0.99)
    sam = build(parse_config({"optim": {"name": "sam", "base": "adam", "rho": 0.1}})).optimizer
    assert isinstance(sam, SAM) and sam.hyperparameters()["rho"] == pytest.approx(0.1)


def test_schedule_free_returns_its_averaged_point(tmp_path):
    pieces = build(parse_config({"optim": {"name": "sgd_schedule_free", "lr": 0.5},
                                 "train": {"epochs": 2}, "model": {"hidden": [8]}}))
    assert isinstance(pieces.optimizer, ScheduleFreeSGD)
    result = train_run(pieces.config, tmp_path / "r", plots=False)
    from steepest._io import load_npz

    last = load_npz(tmp_path / "r" / "checkpoints" / "last.npz")
    state = pieces.optimizer.state_from_arrays(
        {k[4:]: v for k, v in last.items() if k.startswith("opt.")})
    x = pieces.optimizer.eval_params(last["theta"], state)
    assert not np.array_equal(x, last["theta"])  # the gradient point y is not the average x
    if result.restored_epoch is None:
        np.testing.assert_array_equal(result.theta, x)


def test_reduce_on_plateau_follows_the_validation_metric():
    cfg = parse_config({"optim": {"name": "momentum", "lr": 0.05,
                                  "schedule": {"kind": "plateau", "patience": 0,
                                               "factor": 0.5, "threshold": 0.5}},
                        "train": {"epochs": 4}, "model": {"hidden": [8]}})
    result = train_run(cfg)
    rates = [row["lr"] for row in result.history]  # the rate of each epoch's last step
    assert rates[0] == pytest.approx(0.05) and rates[-1] < rates[0]
    assert rates == sorted(rates, reverse=True)


@pytest.mark.parametrize("kind", ["one_cycle", "cosine_restarts", "polynomial"])
def test_the_newer_schedules_run(kind):
    cfg = parse_config({"optim": {"schedule": {"kind": kind, "every_epochs": 1}},
                        "train": {"epochs": 2}, "model": {"hidden": [8]}})
    result = train_run(cfg)
    assert result.status == "completed"
    steps = [row["step"] for row in result.history]
    rates = [result_rate(cfg, s) for s in (0, steps[0] // 2, steps[-1] - 1)]
    assert len(set(rates)) == 3  # the rate moves within the run


def result_rate(cfg, step):
    return build(cfg).optimizer.hyperparameters(step)["lr"]


def test_the_cli_reaches_the_newer_rules(tmp_path):
    res = runner.invoke(app, ["train", "-o", "lion", "--lr", "1e-3", "--clip-norm", "1",
                              "--epochs", "1", "--hidden", "8", "--out", str(tmp_path / "r"),
                              "--json", "--no-plots"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["compare", "--vary", "optim.name=nadam,muon", "--epochs", "1",
                              "--hidden", "8", "--out", str(tmp_path / "c"), "--json"])
    assert res.exit_code == 0, res.output
    assert [r["optim.name"] for r in json.loads(res.stdout)["runs"]] == ["nadam", "muon"]
    bad = runner.invoke(app, ["train", "-o", "adamx"])
    assert bad.exit_code == 2 and "unknown name 'adamx'" in bad.output
