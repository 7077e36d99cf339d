"""The architecture's promises: one contract that any objective can meet, one run plan,
a trainer of callbacks, checkpoints of the first release that still resume, and a library
that never picks a matplotlib backend."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import steepest
from steepest.config import parse_config
from steepest.contract import bind, check_theta
from steepest.data import make_spiral, train_val_split
from steepest.errors import InputError
from steepest.gradcheck import gradcheck
from steepest.landscape import line, plane
from steepest.losses import Loss, class_major_loss_sums
from steepest.optim import SGD, lbfgs, random_local_search, random_search, step_size_sweep
from steepest.params import Layout
from steepest.plan import RunPlan
from steepest.runs import resume_run, train_run
from steepest.train import Callback, Trainer, TrainSettings

DATA = Path(__file__).parent / "data"


class SoftmaxRegression:
    """A linear softmax classifier written from scratch against the contract alone: no
    steepest model, no fast paths. ``W`` is (features, classes), the layout a steepest
    ``linear`` model uses, so the same theta means the same function."""

    def __init__(self, n_features, n_classes, reg=0.0):
        self.d, self.c, self.reg = n_features, n_classes, reg
        self.layout = Layout([("fc1.W", (n_features, n_classes), "weight"),
                              ("fc1.b", (n_classes,), "bias")])

    def init_params(self, seed=0, dtype=np.float64):
        rng = np.random.default_rng(seed)
        W = rng.standard_normal((self.d, self.c)) * np.sqrt(2.0 / self.d)
        return np.concatenate([W.ravel(), np.zeros(self.c)]).astype(dtype)

    def _split(self, theta):
        return theta[: self.d * self.c].reshape(self.d, self.c), theta[self.d * self.c:]

    def loss_and_grad(self, theta, X, y, *, train=True, rng=None):
        W, b = self._split(theta)
        s = X.astype(theta.dtype) @ W + b
        s = s - s.max(axis=1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(axis=1, keepdims=True)
        n = X.shape[0]
        loss = -np.log(p[np.arange(n), y]).mean() + self.reg * np.sum(W * W)
        p[np.arange(n), y] -= 1
        p /= n
        dW = X.T.astype(theta.dtype) @ p + 2 * self.reg * W
        return float(loss), np.concatenate([dW.ravel(), p.sum(axis=0)]).astype(theta.dtype)

    def scores(self, theta, X):
        W, b = self._split(theta)
        return X.astype(theta.dtype) @ W + b


@pytest.fixture(scope="module")
def blobs():
    X, y = make_spiral(n_per_class=60, n_classes=3, seed=1)
    return train_val_split(X, y, 0.25, seed=0)


def _pair(reg=1e-3):
    return SoftmaxRegression(2, 3, reg), steepest.linear(2, 3, reg=reg, init="he")


def test_an_objective_written_in_the_test_meets_the_contract(blobs):
    own, mlp = _pair()
    assert isinstance(own, steepest.Objective) and isinstance(mlp, steepest.Objective)
    theta = mlp.init_params(0)
    np.testing.assert_array_equal(theta, own.init_params(0))
    X, y = blobs[0], blobs[2]
    a, b = own.loss_and_grad(theta, X, y), mlp.loss_and_grad(theta, X, y)
    assert a[0] == pytest.approx(b[0], rel=1e-12)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-10, atol=1e-14)


def test_every_tool_gives_the_same_numbers_on_both(blobs):
    X_tr, X_val, y_tr, y_val = blobs
    own, mlp = _pair()
    theta = mlp.init_params(0)
    checks = [gradcheck(bind(m, X_tr, y_tr), theta, mode="full")
              for m in (own, mlp)]
    assert all(c.ok for c in checks)
    sweeps = [step_size_sweep(bind(m, X_tr, y_tr), theta) for m in (own, mlp)]
    np.testing.assert_allclose(sweeps[0].losses, sweeps[1].losses, rtol=1e-10)
    fits = [lbfgs(bind(m, X_tr, y_tr), theta, max_iter=30) for m in (own, mlp)]
    assert fits[0].loss == pytest.approx(fits[1].loss, rel=1e-8)
    for search in (lambda fn: random_search(fn, theta.size, 20, 0.1, rng=3),
                   lambda fn: random_local_search(fn, theta, 20, 0.05, rng=3)):
        found = [search(bind(m, X_tr, y_tr)).loss for m in (own, mlp)]
        assert found[0] == pytest.approx(found[1], rel=1e-10)
    settings = TrainSettings(epochs=3, batch_size=16, dtype="float64")
    runs = [Trainer(m, SGD(lr=0.1), X_tr, y_tr, X_val, y_val, settings).run() for m in (own, mlp)]
    np.testing.assert_allclose(runs[0].theta, runs[1].theta, rtol=1e-10, atol=1e-13)
    assert runs[0].val_acc == runs[1].val_acc
    assert "act_mean.relu1" not in runs[0].history[0]  # no activations capability: no stats


def test_landscape_and_curvature_on_an_objective_of_our_own(blobs):
    from steepest.landscape.curvature import curvature_report

    X, y = blobs[0], blobs[2]
    own, mlp = _pair()
    theta = mlp.init_params(0)
    d1 = np.random.default_rng(5).standard_normal(theta.size)
    d2 = np.random.default_rng(6).standard_normal(theta.size)
    kw = dict(grid=5, norm="filter", directions=(d1, d2), dtype=np.float64)
    surfaces = [plane(m, theta, X, y, **kw) for m in (own, mlp)]
    np.testing.assert_allclose(surfaces[0].loss, surfaces[1].loss, rtol=1e-9)
    np.testing.assert_array_equal(surfaces[0].acc, surfaces[1].acc)
    lines = [line(m, theta, X, y, grid=7, direction=d1, dtype=np.float64) for m in (own, mlp)]
    np.testing.assert_allclose(lines[0].loss, lines[1].loss, rtol=1e-9)
    reports = [curvature_report(bind(m, X, y), theta, top=2) for m in (own, mlp)]
    np.testing.assert_allclose(reports[0].eigenvalues, reports[1].eigenvalues, rtol=1e-5)


def test_a_plain_function_is_an_objective():
    A = np.diag([1.0, 10.0])
    obj = steepest.objective(lambda t: (0.5 * t @ A @ t, A @ t), np.array([1.0, 1.0]),
                             hvp=lambda t, v: A @ v)
    fit = lbfgs(obj, obj.init_params(), max_iter=50)
    assert fit.loss < 1e-12
    assert gradcheck(obj, np.array([0.3, -0.2]), mode="full").ok
    assert bind(obj).has_hvp


def test_what_is_not_an_objective_is_named():
    with pytest.raises(InputError, match="has no layout, init_params, loss_and_grad"):
        plane(object(), np.zeros(3), np.zeros((2, 1)), np.zeros(2))
    with pytest.raises(InputError, match="Model needs data"):
        bind(steepest.linear(2, 3))
    with pytest.raises(InputError, match="must be floating point"):
        check_theta(np.arange(3))


def test_one_run_plan_for_every_counter():
    plan = RunPlan.make(250, 64, epochs=20, replace=True)
    assert plan.steps_per_epoch == 4 and plan.total_steps == 80 and plan.total_epochs == 20
    rng = np.random.default_rng(0)
    assert len(list(plan.epoch_batches(rng))) == plan.steps_per_epoch
    full = RunPlan.make(250, 64, epochs=3, full_batch=True)
    assert full.batch_size == 250 and full.steps_per_epoch == 1 and full.total_steps == 3
    assert RunPlan.make(250, 64, iterations=10).total_epochs == 3
    # a one-row remainder joins the last batch (BatchNorm cannot normalize a single row)
    merged = RunPlan.make(129, 64, epochs=1)
    assert merged.steps_per_epoch == 2
    assert [len(b) for b in merged.epoch_batches(rng)] == [64, 65]
    with pytest.raises(InputError, match="warmup"):
        plan.steps(float("inf"), "warmup")


def test_batchnorm_survives_a_last_batch_of_one_row():
    X, y = make_spiral(n_per_class=43, n_classes=3, seed=0)  # 129 rows: 2 x 64 + 1
    model = steepest.mlp([2, 8, 3], batchnorm=True)
    settings = TrainSettings(epochs=2, batch_size=64, dtype="float64")
    result = Trainer(model, SGD(lr=0.1), X, y, X[:20], y[:20], settings).run()
    assert result.status == "completed" and result.steps == 4


def test_sampling_with_replacement_has_no_empty_epochs():
    # the bug: with replacement an epoch had n // B steps but yielded ceil(n / B) batches, so
    # a 20-epoch spiral run ran out of steps in epoch 15 and recorded five empty epochs
    cfg = parse_config({"data": {"name": "spiral"}, "train": {"epochs": 20, "batch_size": 64,
                        "replace": True}, "model": {"hidden": [16]}})
    result = train_run(cfg)
    assert result.epochs == 20 and len(result.history) == 20
    assert all(np.isfinite(row["train_loss"]) for row in result.history)
    assert result.steps == 20 * result.history[0]["step"]


def test_a_callback_of_your_own_stops_on_a_metric(blobs):
    X_tr, X_val, y_tr, y_val = blobs

    class StopAtAccuracy(Callback):
        def on_epoch_end(self, trainer, state, row):
            if row["val_acc"] >= 0.5:
                state.stop("stopped", f"validation accuracy reached 0.5 at epoch {row['epoch']}")

    settings = TrainSettings(epochs=200, batch_size=16, dtype="float64")
    result = Trainer(steepest.mlp([2, 32, 3]), SGD(lr=0.2), X_tr, y_tr, X_val, y_val, settings,
                     callbacks=[StopAtAccuracy()]).run()
    assert result.status == "stopped" and "reached 0.5" in result.message
    assert result.epochs < 200 and result.history[-1]["val_acc"] >= 0.5


def test_checkpoints_of_the_first_release_still_resume(tmp_path):
    run = tmp_path / "old"
    shutil.copytree(DATA / "run-v1", run)
    cfg = parse_config({"train": {"epochs": 4, "batch_size": 32},
                        "model": {"hidden": [16], "dropout": 0.8, "batchnorm": True},
                        "optim": {"name": "adam", "lr": 1e-3}})
    fresh = train_run(cfg, tmp_path / "new", plots=False)
    resumed = resume_run(run, plots=False)
    assert resumed.epochs == 4
    np.testing.assert_array_equal(resumed.theta, fresh.theta)
    np.testing.assert_array_equal(resumed.losses, fresh.losses)


def test_class_major_losses_equal_the_one_definition():
    rng = np.random.default_rng(0)
    S = rng.standard_normal((3, 5, 40)).astype(np.float64)  # (points, classes, rows)
    S[1, :, :3] = 0.0  # ties
    y = rng.integers(0, 5, 40)
    for loss in (Loss("softmax"), Loss("svm"), Loss("svm", hinge="crammer-singer", margin=0.5)):
        buf = {k: np.empty((3, 40)) for k in ("m", "s", "y_at")}
        buf["work"] = np.empty_like(S)
        sums, correct = class_major_loss_sums(loss, S, y, buf, 3)
        for p in range(3):
            scores = S[p].T
            assert sums[p] / 40 == pytest.approx(loss.value(scores, y), rel=1e-12)
            assert correct[p] == np.sum(np.argmax(scores, axis=1) == y)


def test_the_library_never_chooses_a_matplotlib_backend(tmp_path):
    code = (
        "import matplotlib, steepest\n"
        "from steepest.config import parse_config\n"
        "from steepest.runs import train_run\n"
        "from steepest.experiments import compare, optimizer_variants\n"
        "cfg = parse_config({'train': {'epochs': 1}, 'model': {'hidden': [8]}})\n"
        f"train_run(cfg, {str(tmp_path / 'r')!r})\n"
        f"compare(cfg, optimizer_variants(['sgd']), {str(tmp_path / 'c')!r}).plot()\n"
        "import sys\n"
        "print(matplotlib.get_backend(), 'matplotlib.pyplot' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["MPLBACKEND"] = "svg"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["svg", "False"]


def test_the_cli_help_snapshot_matches_the_config_schema():
    from steepest.cli.schema import FIELDS
    from steepest.config import schema_snapshot

    assert FIELDS == schema_snapshot(), "regenerate it: python -m steepest.cli.schema"


def test_help_needs_neither_pydantic_nor_scipy():
    code = ("import sys, steepest.cli\n"
            "print(sorted(m for m in ('pydantic', 'scipy', 'matplotlib', 'optuna') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"
