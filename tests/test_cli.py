"""The command line: tables for people, one JSON object with --json, clear errors (exit 2)."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import steepest
from steepest.cli import app
from steepest.diagnostics import expected_initial_loss, initial_report

runner = CliRunner()


def run_json(*args):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_gradcheck_json_names_every_tensor():
    out = run_json("gradcheck", "--hidden", "16,8", "--batchnorm", "--mode", "sampled", "--k", "3")
    assert out["ok"] is True
    assert [t["name"] for t in out["tensors"]] == [
        "fc1.W", "fc1.b", "bn1.gamma", "bn1.beta", "fc2.W", "fc2.b", "bn2.gamma", "bn2.beta",
        "fc3.W", "fc3.b",
    ]
    assert all(t["max_rel_error"] < 1e-6 for t in out["tensors"])
    assert out["model"] == "64-16-8-10" and out["dataset"] == "digits"


def test_gradcheck_table():
    result = runner.invoke(app, ["gradcheck", "--hidden", "", "--loss", "svm"])
    assert result.exit_code == 0, result.output
    assert "fc1.W" in result.stdout and "OK" in result.stdout


def test_inspect_json_reports_chance_loss():
    out = run_json("inspect", "--init", "small", "--hidden", "32")
    assert out["expected_data_loss"] == pytest.approx(np.log(10))
    assert out["data_loss"] == pytest.approx(np.log(10), abs=0.01)
    assert [row["name"] for row in out["layers"]] == ["fc1", "relu1", "fc2"]


def test_demo_runs_offline():
    out = run_json("demo")
    assert out["ok"] is True and out["gradcheck_full"]["mode"] == "full"


def test_data_info_json(tmp_path):
    out = run_json("data", "info", "digits")
    assert out["n_classes"] == 10
    missing = run_json("data", "info", "mnist", "--data-dir", str(tmp_path))
    assert missing["available"] is False and "download" in missing["hint"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["gradcheck", "--activation", "swish"], "unknown activation 'swish'"),
        (["gradcheck", "--mode", "slow"], "unknown gradcheck mode 'slow'"),
        (["gradcheck", "--dataset", "imagenet"], "imagenet"),
        (["gradcheck", "--dropout", "1.5"], "model.dropout: Input should be less than or equal "
                                            "to 1 (got 1.5)"),
        (["gradcheck", "--hidden", "0"], "model.hidden.0: Input should be greater than 0"),
        (["inspect", "--loss", "hinge"], "unknown loss 'hinge'"),
        (["data", "info", "svhn"], "svhn"),
    ],
)
def test_bad_input_exits_2_with_a_named_value(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_planted_bug_exits_1(monkeypatch):
    from steepest.nn import layers

    original = layers.Linear.backward

    def buggy(self, dout, cache, p, g, need_dx=True):
        dx = original(self, dout, cache, p, g, need_dx)
        if self.name == "fc2":
            g["b"] *= 1.01
        return dx

    monkeypatch.setattr(layers.Linear, "backward", buggy)
    result = runner.invoke(app, ["gradcheck", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failed"] == ["fc2.b"]


def test_expected_initial_losses():
    assert expected_initial_loss(steepest.linear(4, 10)) == pytest.approx(np.log(10))
    assert expected_initial_loss(steepest.linear(4, 10, loss="svm")) == 9.0
    assert expected_initial_loss(steepest.linear(4, 10, loss="svm", hinge="crammer-singer")) == 1.0
    assert expected_initial_loss(steepest.linear(4, 10, loss="l2")) is None


def test_initial_report_sees_dead_units_and_regularization(rng):
    model = steepest.mlp([5, 8, 3], reg=0.1)
    theta = model.init_params(0)
    model.params(theta)["fc1.b"][:4] = -100.0  # four units that no input can switch on
    X, y = rng.standard_normal((50, 5)), rng.integers(0, 3, 50)
    report = initial_report(model, theta, X, y)
    relu = next(row for row in report.layers if row["kind"] == "relu")
    assert relu["dead_fraction"] == 0.5
    W = [model.params(theta)[n] for n in ("fc1.W", "fc2.W")]
    assert report.reg_loss == pytest.approx(0.1 * sum(np.sum(w * w) for w in W))
