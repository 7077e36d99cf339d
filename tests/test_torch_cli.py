"""``--torch-model FILE.py:FACTORY`` on the command line: a PyTorch module trained, resumed,
checked and analysed like steepest's own MLPs, its run folder holding data only (a model.json
that pins the file, plain arrays), and every bad input named in one line with exit status 2.

Small convolutional networks on the bundled 8x8 digits keep each test to a few seconds; skips
cleanly where torch is absent.
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from steepest._io import load_npz
from steepest.cli import app
from steepest.config import load_config, parse_config, with_values
from steepest.errors import InputError
from steepest.train.events import EpochEnded

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]

MODELS = '''
import torch
from torch import nn


def cnn(channels=4, batchnorm=False, dropout=0.0, in_channels=1):
    """conv 3x3 -> [BatchNorm] -> ReLU -> max-pool -> [dropout] -> Linear, for 8x8 images."""
    return nn.Sequential(
        nn.Conv2d(in_channels, channels, 3, padding=1),
        nn.BatchNorm2d(channels) if batchnorm else nn.Identity(),
        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Dropout(dropout) if dropout else nn.Identity(),
        nn.Linear(channels * 16, 10))


class Flat(nn.Module):
    input_shape = (64,)  # flat rows, not the digits' 8x8 image

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(64, 16), nn.Linear(16, 10)

    def forward(self, x):
        return self.fc2(torch.tanh(self.fc1(x)))


class Scale(torch.autograd.Function):
    """Identity forward, a backward 1% too large: the planted bug."""

    @staticmethod
    def forward(ctx, w):
        return w.view_as(w)

    @staticmethod
    def backward(ctx, g):
        return 1.01 * g


class Buggy(nn.Module):
    input_shape = (64,)

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(64, 8), nn.Linear(8, 10)

    def forward(self, x):
        return torch.nn.functional.linear(torch.tanh(self.a(x)), Scale.apply(self.b.weight),
                                          self.b.bias)


def broken():
    raise RuntimeError("out of coffee")


def not_a_module():
    return 42
'''


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "models.py"
    path.write_text(MODELS)
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def run_json(*args):
    result = invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def train_args(models, out, *extra, epochs=3):
    return ("train", "--torch-model", f"{models}:cnn", "-o", "adam", "--lr", "0.01", "-e",
            epochs, "-b", 64, "--out", out, *extra)


@pytest.fixture(scope="module")
def run_dir(models, tmp_path_factory) -> Path:
    """One trained run of the small CNN (BatchNorm: buffers in the weights files)."""
    out = tmp_path_factory.mktemp("runs") / "cnn"
    run_json(*train_args(models, out, "--set", "model.torch.kwargs.batchnorm=true",
                         "--keep-path-every", 10))
    return out


# ----------------------------------------------------------------------------- train
def test_the_run_folder_holds_data_and_the_model_reference(run_dir, models):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert summary["test_acc"] > 0.5  # ten classes: chance is 0.1
    description = json.loads((run_dir / "model.json").read_text())
    assert description["path"] == str(models.resolve()) and description["factory"] == "cnn"
    assert description["kwargs"] == {"batchnorm": True} and len(description["sha256"]) == 64
    assert [t["name"] for t in description["layout"]][:2] == ["0.weight", "0.bias"]
    cfg = load_config(run_dir / "config.yaml")
    assert cfg.model.torch.factory == f"{models}:cnn" and cfg.torch_model == f"{models}:cnn"
    assert "hidden" not in yaml.safe_load((run_dir / "config.yaml").read_text())["model"]
    final = load_npz(run_dir / "final.npz")  # no pickle allowed
    assert json.loads(str(final["layout"])) == description["layout"]
    assert final["buffers"].size > 0  # BatchNorm's running statistics
    files = [p.name for p in run_dir.rglob("*") if p.is_file()]
    assert not [f for f in files if f.endswith((".pt", ".pth", ".pkl", ".pickle"))]
    assert {"loss.png", "accuracy.png"} <= set(files)


def test_a_torch_mlp_gets_first_layer_weight_pictures(models, tmp_path):
    out = run_json("train", "--torch-model", f"{models}:Flat", "-o", "adam", "--lr", "0.01",
                   "-e", 1, "--out", tmp_path / "flat")
    assert out["status"] == "completed"
    assert (tmp_path / "flat" / "plots" / "weights.png").exists()  # fc1.weight read as (out, in)


def test_resume_after_a_stop_equals_the_uninterrupted_run(models, tmp_path):
    extra = ("--set", "model.torch.kwargs.batchnorm=true", "--set",
             "model.torch.kwargs.dropout=0.3")
    run_json(*train_args(models, tmp_path / "full", *extra, epochs=4))

    class Stop(Exception):
        pass

    def stop_after_2(event):
        if isinstance(event, EpochEnded) and event.epoch == 2:
            raise Stop

    cfg = with_values(load_config(tmp_path / "full" / "config.yaml"), {})
    from steepest.runs import train_run

    with pytest.raises(Stop):
        train_run(cfg, tmp_path / "cut", on_event=stop_after_2, plots=False)
    assert not (tmp_path / "cut" / "final.npz").exists()
    resumed = run_json("train", "--resume", tmp_path / "cut")
    assert resumed["epochs"] == 4
    a, b = load_npz(tmp_path / "full" / "final.npz"), load_npz(tmp_path / "cut" / "final.npz")
    for key in ("theta", "buffers"):
        np.testing.assert_array_equal(a[key], b[key])
    full_losses = (tmp_path / "full" / "iterations.csv").read_text()
    assert (tmp_path / "cut" / "iterations.csv").read_text() == full_losses


def test_cifar_like_rows_reach_the_model_channels_first(models, tmp_path):
    """Rows stored height x width x channels are permuted once, to PyTorch's (C, H, W)."""
    from steepest.build import build_data, build_objective

    rng = np.random.default_rng(0)
    X = np.broadcast_to(np.arange(3.0), (120, 8, 8, 3)) + 0.01 * rng.random((120, 8, 8, 3))
    np.savez(tmp_path / "colour.npz", X=X, y=np.arange(120) % 10)
    cfg = with_values(None, {"data.name": str(tmp_path / "colour.npz"),
                             "model.torch.factory": f"{models}:cnn",
                             "model.torch.kwargs.in_channels": 3})
    data = build_data(cfg)
    assert data.image_shape == (8, 8, 3)
    model, moved = build_objective(cfg, data)
    assert model.input_shape == (3, 8, 8) and moved.channels_first
    images = moved.X_train.reshape(-1, 3, 8, 8)
    np.testing.assert_allclose(images.mean(axis=(0, 2, 3)), [0.005, 1.005, 2.005], atol=2e-3)
    out = run_json("train", "--torch-model", f"{models}:cnn", "--set",
                   "model.torch.kwargs.in_channels=3", "-d", tmp_path / "colour.npz", "-e", 1,
                   "--out", tmp_path / "run")
    assert out["status"] == "completed"


def test_every_trial_of_a_search_names_the_model(models, tmp_path):
    space = tmp_path / "space.yaml"
    space.write_text("optim.lr: {low: 1.0e-3, high: 3.0e-2, log: true}\n"
                     "model.torch.kwargs.channels: {choices: [2, 4]}\n")
    out = run_json("tune", "--torch-model", f"{models}:cnn", "--space", space, "--trials", 2,
                   "-e", 1, "--out", tmp_path / "study", "--no-plots")
    assert out["completed"] == 2
    for trial in sorted((tmp_path / "study" / "trials").iterdir()):
        cfg = load_config(trial / "config.yaml")
        assert cfg.torch_model == f"{models}:cnn" and cfg.model.torch.kwargs["channels"] in (2, 4)
        assert json.loads((trial / "model.json").read_text())["factory"] == "cnn"


# ----------------------------------------------------------------------------- checks
def test_gradcheck_passes_and_names_a_planted_bug(models):
    ok = run_json("gradcheck", "--torch-model", f"{models}:cnn", "--mode", "sampled", "--k", 3)
    assert ok["ok"] is True and ok["model"] == f"{models}:cnn"
    assert [t["name"] for t in ok["tensors"]] == ["0.weight", "0.bias", "6.weight", "6.bias"]
    result = invoke("gradcheck", "--torch-model", f"{models}:Buggy", "--json")
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["failed"] == ["b.weight"]
    table = invoke("gradcheck", "--torch-model", f"{models}:Buggy")
    assert "FAILED" in table.stdout and "b.weight" in table.stdout


def test_inspect_reports_a_torch_model(models):
    out = run_json("inspect", "--torch-model", f"{models}:cnn", "--sample", 200)
    assert out["expected_data_loss"] == pytest.approx(np.log(10))
    assert abs(out["data_loss"] - np.log(10)) < 0.5 and out["reg_loss"] == 0.0
    assert out["n_classes"] == 10 and [row["name"] for row in out["layers"]] == ["2"]
    assert out["loss"] == "cross_entropy"
    assert "PyTorch model" in invoke("inspect", "--torch-model", f"{models}:cnn").stdout


# ----------------------------------------------------------------------------- analyses
def test_landscape_of_a_torch_run_uses_one_process(run_dir):
    out = run_json("landscape", run_dir, "--grid", 3, "--subset", 100)
    assert out["points"] == 9 and out["mode"] == "in-process"
    assert np.isfinite(out["min_loss"]) and out["max_acc"] > 0.3
    assert {Path(p).stem for p in out["plots"]} >= {"contour", "heatmap_loss"}
    init = run_json("landscape", run_dir, "--interpolate", "init", "--grid", 3, "--subset", 50)
    assert init["kind"] == "interpolation"
    path = run_json("landscape", run_dir, "--path", "--grid", 3, "--subset", 50)
    assert path["kind"] == "path"


def test_hessian_of_a_torch_run_with_its_density(run_dir):
    out = run_json("hessian", run_dir, "--top", 2, "--subset", 100, "--density", "--probes", 1,
                   "--lanczos-steps", 8)
    assert out["exact"] is True and len(out["eigenvalues"]) == 2
    assert out["eigenvalues"][0] >= out["eigenvalues"][1] > 0
    assert out["density"]["n_probes"] == 1 and len(out["density"]["nodes"]) == 8
    assert {Path(p).stem for p in out["plots"]} == {"spectrum", "density"}
    saved = json.loads((Path(out["run_dir"]) / "hessian" / "final-train-n100" / "hessian.json")
                       .read_text())
    assert saved["eigenvalues"] == out["eigenvalues"]


# ----------------------------------------------------------------------------- config
def test_the_config_round_trips_and_keeps_one_kind_of_model(models):
    cfg = with_values(None, {"model.torch.factory": f"{models}:cnn",
                             "model.torch.kwargs.channels": 2, "model.torch.loss": "mse",
                             "model.torch.input_shape": [1, 8, 8]})
    again = parse_config(yaml.safe_load(cfg.to_yaml()))
    assert again == cfg
    assert "torch" not in yaml.safe_load(parse_config({}).to_yaml())["model"]
    with pytest.raises(InputError, match="model.hidden is a setting of steepest's MLPs"):
        with_values(cfg, {"model.hidden": [8]})
    with pytest.raises(InputError, match="need model.torch.factory"):
        with_values(None, {"model.torch.loss": "mse"})


# ----------------------------------------------------------------------------- bad input
BAD = [
    ("{dir}/nope.py:cnn", (), "model file '{dir}/nope.py' does not exist"),
    ("{models}:missing", (), "has no 'missing'; it defines Buggy, Flat, Scale, broken, cnn, "
                             "not_a_module"),
    ("{models}:broken", (), "raised RuntimeError: out of coffee"),
    ("{models}:not_a_module", (), "returned int, not a torch.nn.Module"),
    ("{models}:cnn", ("--set", "model.torch.kwargs.colour=1"), "unexpected keyword argument "
                                                              "'colour'"),
    ("{models}", (), "FILE.py:FACTORY"),
    ("{models}:cnn", ("--hidden", "32"), "--hidden is an option of steepest's MLPs"),
    ("{models}:cnn", ("--activation", "tanh"), "--activation is an option of steepest's MLPs"),
    ("{models}:cnn", ("--init", "he"), "--init is an option of steepest's MLPs"),
    ("{models}:cnn", ("--model", "linear"), "--model is an option of steepest's MLPs"),
    ("{models}:cnn", ("--set", "model.reg=0.1"), "--set model.reg is an option of steepest's"),
    ("{models}:Flat", ("--input-shape", "1,8,8"), "examples of shape (1, 8, 8)"),
    ("{models}:cnn", ("-d", "spiral"), "was given flat rows of 2 features"),
]


@pytest.mark.parametrize("command, spec, extra, message", [
    (command, *case) for case in BAD for command in ("train", "gradcheck")
    if command == "train" or "--model" not in case[1]])  # gradcheck has no --model
def test_bad_input_exits_2_naming_the_culprit(models, tmp_path, command, spec, extra, message):
    where = {"models": models, "dir": models.parent}
    args = [command, "--torch-model", spec.format(**where), *extra]
    if command == "train":
        args += ["--out", tmp_path / "run", "--no-plots"]
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message.format(**where) in result.output
    assert "Traceback" not in result.output
    as_json = invoke(*args, "--json")
    assert as_json.exit_code == 2
    assert message.format(**where) in json.loads(as_json.stdout)["error"]


def test_a_changed_model_file_is_refused(models, tmp_path):
    copy = tmp_path / "copy.py"
    copy.write_text(MODELS)
    run_json("train", "--torch-model", f"{copy}:cnn", "-e", 1, "--out", tmp_path / "run",
             "--no-plots")
    copy.write_text(MODELS + "\n# edited after the run\n")
    for args in (("landscape", tmp_path / "run", "--grid", 3), ("hessian", tmp_path / "run"),
                 ("train", "--resume", tmp_path / "run")):
        result = invoke(*args)
        assert result.exit_code == 2, result.output
        assert f"model file '{copy}' changed since the run was trained" in result.output
    copy.write_text(MODELS)  # the file as the run used it, but another layout recorded
    record = json.loads((tmp_path / "run" / "model.json").read_text())
    record["layout"][0]["name"] = "conv.weight"
    (tmp_path / "run" / "model.json").write_text(json.dumps(record))
    result = invoke("hessian", tmp_path / "run")
    assert result.exit_code == 2 and "no longer has the layout" in result.output
    (tmp_path / "run" / "model.json").unlink()
    result = invoke("hessian", tmp_path / "run")
    assert result.exit_code == 2 and "no model.json" in result.output


def test_without_torch_the_error_says_how_to_install(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # as if PyTorch were not installed
        from steepest.cli import main
        sys.argv = ["steepest", "train", "--torch-model", {str(ROOT / 'examples' / 'lenet.py')
                                                          + ':make'!r},
                    "--out", {str(tmp_path / 'run')!r}]
        main()
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 2, done.stderr
    assert "lenet.py:make" in done.stderr and "pip install 'steepest[torch]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()
