"""Optimizer comparisons, step-size sweeps and 2-D trajectories, through the CLI and the API."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from steepest.cli import app
from steepest.config import parse_config
from steepest.experiments import compare, optimizer_variants
from steepest.gradcheck import numerical_gradient
from steepest.trajectories import compare_on, function2d

runner = CliRunner()


def test_compare_uses_the_same_start_and_batches(tmp_path):
    cfg = parse_config({"train": {"epochs": 2}, "model": {"hidden": [16]}})
    comparison = compare(cfg, optimizer_variants(["sgd", "momentum", "adam"]), tmp_path)
    assert [r["optim.name"] for r in comparison.rows] == ["sgd", "momentum", "adam"]
    comparison.save()
    assert (tmp_path / "comparison.json").exists() and (tmp_path / "comparison.csv").exists()
    # same initial weights and batches: the first mini-batch loss is identical for every rule
    firsts = {(tmp_path / n / "iterations.csv").read_text().splitlines()[1] for n in
              ("sgd", "momentum", "adam")}
    assert len(firsts) == 1
    seconds = {(tmp_path / n / "iterations.csv").read_text().splitlines()[2] for n in
               ("sgd", "momentum", "adam")}
    assert len(seconds) == 3  # and the rules differ from the first update on


def test_compare_cli_json(tmp_path):
    result = runner.invoke(app, ["compare", "--optimizers", "sgd,nesterov", "--epochs", "1",
                                 "--hidden", "8", "--lr", "sgd=0.2,nesterov=0.01", "--out",
                                 str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [(r["optim.name"], r["optim.lr"]) for r in out["runs"]] == [("sgd", 0.2),
                                                                        ("nesterov", 0.01)]
    assert (tmp_path / "comparison.png").exists() and (tmp_path / "comparison.csv").exists()
    bad = runner.invoke(app, ["compare", "--optimizers", "sgd,adamx", "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown optimizer(s) adamx" in bad.output


def test_lr_sweep_cli(tmp_path):
    result = runner.invoke(app, ["lr-sweep", "--hidden", "16", "--steps", "40", "--out",
                                 str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    sweep = out["sweep"]
    assert sweep["step_sizes"][0] == pytest.approx(1e-10) and len(sweep["step_sizes"]) == 10
    losses = np.array(sweep["losses"])
    # tiny steps barely move the loss; a good step lowers it
    assert abs(losses[0] - sweep["loss0"]) < 1e-6 and min(losses) < sweep["loss0"]
    assert 1e-7 <= out["range_test"]["suggestion"] <= 10
    assert (tmp_path / "lr_sweep.png").exists()


@pytest.mark.parametrize("name", ["quadratic", "rosenbrock", "beale", "booth", "himmelblau",
                                  "saddle"])
def test_test_function_gradients(name):
    fn = function2d(name, kappa=7.0)
    p = np.array([0.7, -0.4])
    _, g = fn(p)
    num = numerical_gradient(lambda q: fn(q)[0], p)
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)
    for m in fn.minima:
        assert fn(np.array(m))[0] == pytest.approx(0.0, abs=1e-9)
        assert np.linalg.norm(fn(np.array(m))[1]) < 1e-4


def test_momentum_beats_plain_descent_on_an_ill_conditioned_quadratic():
    result = compare_on("quadratic", ["sgd", "momentum"], steps=100, kappa=50)
    rows = {r["optimizer"]: r for r in result.rows}
    assert rows["momentum"]["distance"] < 0.1 * rows["sgd"]["distance"]
    assert len(result.plot().axes[0].lines) >= 2


def test_adaptive_methods_leave_the_saddle_faster():
    rows = {r["optimizer"]: r for r in compare_on("saddle", ["sgd", "adagrad", "rmsprop",
                                                             "adam"], steps=50).rows}
    for name in ("adagrad", "rmsprop", "adam"):
        assert rows[name]["escape_y"] > 100 * rows["sgd"]["escape_y"], name


def test_trajectories_cli_and_bad_input(tmp_path):
    result = runner.invoke(app, ["trajectories", "-f", "booth", "--steps", "30", "--out",
                                 str(tmp_path / "b.png"), "--json"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["rows"]) == 6
    assert (tmp_path / "b.png").exists()
    bad = runner.invoke(app, ["trajectories", "-f", "ackley"])
    assert bad.exit_code == 2 and "unknown test function 'ackley'" in bad.output
    bad = runner.invoke(app, ["trajectories", "--kappa", "0.5"])
    assert bad.exit_code == 2 and "kappa must be >= 1" in bad.output
