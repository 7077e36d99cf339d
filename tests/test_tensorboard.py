"""TensorBoard logging: every tag of a run read back with TensorBoard's own reader, the PyTorch
writer as the fallback, the error without a writer, a resumed run, and one folder per run of a
comparison and of a study (in this process and in worker processes)."""

import logging
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from steepest import InputError
from steepest.config import with_values
from steepest.runs import resume_run, train_run
from steepest.tensorboard import TensorBoardLogger, summary_writer_class, tag_of
from steepest.train import Callback

SMALL = {"train.epochs": 2, "model.hidden": [16], "train.batch_size": 128,
         "train.eval_train_size": 200}


def _have_writer() -> bool:
    try:
        summary_writer_class()
    except InputError:
        return False
    return True


needs_writer = pytest.mark.skipif(not _have_writer(),
                                  reason="neither tensorboardX nor torch.utils.tensorboard")


def _read(logdir: Path):
    """The events of ``logdir`` read back by TensorBoard's own reader."""
    event_accumulator = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator")
    acc = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    return acc


def _scalar(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@needs_writer
def test_a_run_logs_every_column_and_histogram(tmp_path):
    cfg = with_values(None, {**SMALL, "model.hidden": [16, 12], "model.batchnorm": True,
                             "model.dropout": 0.9, "train.track_sharpness": 5,
                             "train.monitor_every": 3})
    logger = TensorBoardLogger(tmp_path / "tb")
    result = train_run(cfg, tmp_path / "run", plots=False, callbacks=[logger])
    assert logger.writer is None  # closed at the end of the run
    acc = _read(tmp_path / "tb")
    tags = acc.Tags()
    columns = {k for row in result.history for k, v in row.items()
               if isinstance(v, int | float) and k not in ("step", "sharpness", "stability_bound")}
    # the babysitting columns are all there: losses, accuracies, rate, gradient norm, update
    # ratio per weight tensor, activation statistics and dead units per layer
    for needed in ("train_loss", "val_loss", "train_acc", "val_acc", "lr", "grad_norm",
                   "update_ratio.fc1.W", "update_ratio.fc3.W", "dead.relu1", "act_std.relu2"):
        assert needed in columns, needed
    expected = {tag_of(c) for c in columns} | {"loss/batch", "curvature/sharpness",
                                              "curvature/stability_bound", "accuracy/test"}
    assert expected <= set(tags["scalars"]), expected - set(tags["scalars"])
    assert tag_of("update_ratio.fc1.W") == "update_ratio/fc1.W"
    assert tag_of("val_acc") == "accuracy/val" and tag_of("mine") == "metrics/mine"
    # the values and steps are the run's own
    batch = _scalar(acc, "loss/batch")
    assert [s for s, _ in batch] == list(range(1, result.steps + 1))
    np.testing.assert_allclose([v for _, v in batch], result.losses, rtol=1e-6)
    val = _scalar(acc, "accuracy/val")
    assert [s for s, _ in val] == [row["step"] for row in result.history]
    np.testing.assert_allclose([v for _, v in val], [r["val_acc"] for r in result.history],
                               rtol=1e-6)
    sharp = _scalar(acc, "curvature/sharpness")
    np.testing.assert_allclose([v for _, v in sharp], result.sharpness[:, 1], rtol=1e-6)
    assert [s for s, _ in sharp] == [int(s) for s in result.sharpness[:, 0]]
    # histograms: every tensor of theta and every layer but dropout, at the start and per epoch
    model_layout = ["fc1.W", "fc1.b", "bn1.gamma", "bn1.beta", "fc2.W", "fc2.b", "bn2.gamma",
                    "bn2.beta", "fc3.W", "fc3.b"]
    layers = ["fc1", "bn1", "relu1", "fc2", "bn2", "relu2", "fc3"]
    wanted = {f"params/{n}" for n in model_layout} | {f"activations/{n}" for n in layers}
    assert wanted == set(tags["histograms"])
    steps = [e.step for e in acc.Histograms("params/fc1.W")]
    assert steps == [0] + [row["step"] for row in result.history]
    first = acc.Histograms("activations/relu1")[0].histogram_value
    assert first.min >= 0 and first.num == 200 * 16  # the fixed subset, 16 units
    # the status as text (tensorboardX names it run/result/text_summary)
    assert any(t.startswith("run/result") for t in tags["tensors"])


@needs_writer
def test_histograms_can_be_sparse_or_off(tmp_path):
    cfg = with_values(None, {**SMALL, "train.epochs": 3})
    train_run(cfg, None, callbacks=[TensorBoardLogger(tmp_path / "a", histograms_every=2)])
    train_run(cfg, None, callbacks=[TensorBoardLogger(tmp_path / "b", histograms_every=None)])
    a, b = _read(tmp_path / "a"), _read(tmp_path / "b")
    assert [e.step for e in a.Histograms("params/fc1.W")] == [
        0, _scalar(a, "time/epoch")[1][0]]  # the start and epoch 2
    assert b.Tags()["histograms"] == [] and "accuracy/val" in b.Tags()["scalars"]


@needs_writer
def test_values_that_are_not_finite_are_left_out_quietly(tmp_path, caplog):
    # zero initialization: the weights have norm 0 and stay there (the lecture's symmetry),
    # so every update ratio is infinite
    cfg = with_values(None, {**SMALL, "model.init": "zeros"})
    with caplog.at_level(logging.WARNING):
        result = train_run(cfg, None, callbacks=[TensorBoardLogger(tmp_path / "tb")])
    assert all(math.isinf(row["update_ratio.fc1.W"]) for row in result.history)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # no writer warning
    scalars = _read(tmp_path / "tb").Tags()["scalars"]
    assert "accuracy/val" in scalars and "update_ratio/fc1.W" not in scalars


def test_bad_arguments(tmp_path):
    if not _have_writer():
        pytest.skip("no TensorBoard writer")
    with pytest.raises(InputError, match="histograms_every must be a positive integer"):
        TensorBoardLogger(tmp_path, histograms_every=0)
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        TensorBoardLogger(tmp_path / "file")


def test_without_any_writer_the_error_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(InputError, match=r"pip install 'steepest\[tensorboard\]'"):
        TensorBoardLogger(tmp_path / "tb")
    assert not (tmp_path / "tb").exists()


def test_torch_writer_when_tensorboardx_is_absent(monkeypatch, tmp_path):
    pytest.importorskip("torch.utils.tensorboard")
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    cls = summary_writer_class()
    assert cls.__module__.startswith("torch.utils.tensorboard")
    cfg = with_values(None, {**SMALL, "train.epochs": 1})
    result = train_run(cfg, None, callbacks=[TensorBoardLogger(tmp_path / "tb")])
    acc = _read(tmp_path / "tb")
    assert len(_scalar(acc, "loss/batch")) == result.steps
    assert {"accuracy/val", "update_ratio/fc1.W", "dead/relu1"} <= set(acc.Tags()["scalars"])
    assert "params/fc2.b" in acc.Tags()["histograms"]


class _Interrupt(Callback):
    """Raise in the middle of epoch ``epoch`` (a killed process, as far as the files go)."""

    def __init__(self, epoch, after_steps):
        self.epoch, self.after_steps, self.seen = epoch, after_steps, 0

    def on_step_end(self, trainer, state, batch):
        if state.epoch + 1 == self.epoch:
            self.seen += 1
            if self.seen == self.after_steps:
                raise KeyboardInterrupt


@needs_writer
def test_a_resumed_run_replaces_what_the_interrupted_one_wrote(tmp_path):
    cfg = with_values(None, {**SMALL, "train.epochs": 3})
    first = TensorBoardLogger(tmp_path / "tb")
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, tmp_path / "run", plots=False, callbacks=[first, _Interrupt(2, 4)])
    first.close()
    result = resume_run(tmp_path / "run", plots=False,
                        callbacks=[TensorBoardLogger(tmp_path / "tb")])
    acc = _read(tmp_path / "tb")
    batch = _scalar(acc, "loss/batch")
    assert [s for s, _ in batch] == list(range(1, result.steps + 1))  # no step twice
    np.testing.assert_allclose([v for _, v in batch], result.losses, rtol=1e-6)
    assert [s for s, _ in _scalar(acc, "accuracy/val")] == [r["step"] for r in result.history]


@needs_writer
def test_each_variant_of_a_comparison_logs_apart(tmp_path):
    from steepest.experiments import compare, optimizer_variants

    cfg = with_values(None, {**SMALL, "train.epochs": 1})
    per_run = TensorBoardLogger.per_run(tmp_path / "tb", histograms_every=None)
    comparison = compare(cfg, optimizer_variants(["sgd", "adam"]), tmp_path / "cmp",
                         callbacks=per_run)
    for variant, run in zip(comparison.variants, comparison.runs):
        acc = _read(tmp_path / "tb" / variant.folder)
        assert len(_scalar(acc, "loss/batch")) == run.steps
        assert _scalar(acc, "accuracy/val")[-1][1] == pytest.approx(run.history[-1]["val_acc"])


@needs_writer
@pytest.mark.parametrize("workers", [1, 2])
def test_each_trial_of_a_study_logs_apart(tmp_path, workers):
    pytest.importorskip("optuna")
    from steepest.tune import parse_space, run_search

    base = {"train": {"epochs": 1, "batch_size": 128, "eval_train_size": 200},
            "model": {"hidden": [8]}}
    space = parse_space({"optim.lr": {"low": 1e-3, "high": 0.1, "log": True}}, base=base)
    study = run_search(space, base, tmp_path / "study", trials=2, workers=workers,
                       plots=False, callbacks=TensorBoardLogger.per_run(tmp_path / "tb"))
    assert study.completed == 2
    for name in ("trial-0000", "trial-0001"):
        acc = _read(tmp_path / "tb" / name)
        assert "accuracy/val" in acc.Tags()["scalars"] and acc.Tags()["histograms"]


@needs_writer
def test_the_cli_logs_train_compare_and_tune_runs_apart(tmp_path):
    from typer.testing import CliRunner

    from steepest.cli import app

    runner = CliRunner()
    small = ["--epochs", "1", "--hidden", "16", "--batch-size", "128"]
    res = runner.invoke(app, ["train", *small, "--out", str(tmp_path / "run"), "--report",
                              "--tensorboard", str(tmp_path / "tb"), "--json"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "run" / "report.html").is_file()
    assert "accuracy/val" in _read(tmp_path / "tb" / "run").Tags()["scalars"]
    res = runner.invoke(app, ["compare", "--optimizers", "sgd,adam", *small, "--out",
                              str(tmp_path / "cmp"), "--tensorboard", str(tmp_path / "tb2"),
                              "--json"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "tb2").iterdir()) == ["adam", "sgd"]
    space = tmp_path / "space.yaml"
    space.write_text("optim.lr: {low: 1.0e-3, high: 1.0, log: true}\n")
    res = runner.invoke(app, ["tune", "--space", str(space), "--trials", "2", "--epochs", "1",
                              "--out", str(tmp_path / "study"), "--no-plots",
                              "--tensorboard", str(tmp_path / "tb3"), "--json"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "tb3").iterdir()) == ["trial-0000", "trial-0001"]
