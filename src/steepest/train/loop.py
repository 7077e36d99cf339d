"""The training loop: mini-batches, a step, an evaluation, monitors, checkpoints, events.

``Trainer(model, optimizer, data, spec).run()`` trains ``model`` in place of nothing: it returns
a :class:`TrainResult` and, when given a run directory, writes ``metrics.csv``,
``iterations.csv``, ``checkpoints/{last,best}.npz`` and ``summary.json`` there. It never prints;
progress goes to the optional ``on_event`` callback as small dicts.

Reproducibility: one ``numpy.random.Generator`` seeded with ``spec.seed`` draws every batch
order and dropout mask; a checkpoint at the end of each epoch stores theta, BatchNorm
statistics, the optimizer state, the generator state and the bookkeeping, so a resumed run
continues bit-identically to one that was never interrupted.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import _validate as V
from .._io import atomic_savez, atomic_write_json, atomic_write_text, load_npz
from ..config import TrainConfig
from ..data import batch_indices
from ..errors import DataError, InputError
from .monitors import activation_stats, evaluate, update_ratios

CHECKPOINT_VERSION = 1


@dataclass
class TrainResult:
    """What a run produced. ``theta`` is the best (restored) or final parameter vector."""

    theta: np.ndarray
    status: str  # "completed", "early_stopped" or "diverged"
    message: str
    history: list[dict]
    losses: np.ndarray  # the mini-batch loss of every step
    epochs: int
    steps: int
    seconds: float
    best_epoch: int | None
    best_metric: float | None
    train_acc: float
    val_acc: float
    test_acc: float | None = None
    final_loss: float = float("nan")
    run_dir: Path | None = None
    path: np.ndarray | None = None  # kept parameters (rows), when spec.keep_path_every is set
    path_steps: np.ndarray | None = None

    def summary(self) -> dict:
        return {
            "status": self.status,
            "message": self.message,
            "train_acc": self.train_acc,
            "val_acc": self.val_acc,
            "test_acc": self.test_acc,
            "final_loss": self.final_loss,
            "epochs": self.epochs,
            "steps": self.steps,
            "seconds": self.seconds,
            "best_epoch": self.best_epoch,
            "best_metric": self.best_metric,
            "run_dir": None if self.run_dir is None else str(self.run_dir),
        }


@dataclass
class _State:
    """Everything a checkpoint must hold to continue exactly."""

    theta: np.ndarray
    opt_state: dict
    epoch: int = 0  # epochs completed
    step: int = 0
    losses: list = field(default_factory=list)
    history: list = field(default_factory=list)
    best_metric: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    first_loss: float | None = None
    seconds: float = 0.0
    path: list = field(default_factory=list)
    path_steps: list = field(default_factory=list)


def _hyper(optimizer, name: str, step: int) -> float | None:
    """The value of hyperparameter ``name`` at ``step`` (None if the rule has none)."""
    return optimizer.hyperparameters(step).get(name)


class Trainer:
    """Train ``model`` with ``optimizer`` on ``(X_train, y_train)``, validating on ``X_val``."""

    def __init__(self, model, optimizer, X_train, y_train, X_val, y_val,
                 spec: TrainConfig | None = None, *, X_test=None, y_test=None,
                 run_dir: str | Path | None = None, on_event=None):
        self.model = model
        self.optimizer = optimizer
        self.spec = spec or TrainConfig()
        dtype = np.dtype(self.spec.dtype)
        n = model.n_features
        self.X = V.features(X_train, "X_train", n_features=n).astype(dtype, copy=False)
        self.y = V.labels(y_train, self.X.shape[0], model.n_classes, "y_train")
        self.X_val = V.features(X_val, "X_val", n_features=n).astype(dtype, copy=False)
        self.y_val = V.labels(y_val, self.X_val.shape[0], model.n_classes, "y_val")
        self.X_test = self.y_test = None
        if X_test is not None:
            self.X_test = V.features(X_test, "X_test", n_features=n).astype(dtype, copy=False)
            self.y_test = V.labels(y_test, self.X_test.shape[0], model.n_classes, "y_test")
        self.dtype = dtype
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.on_event = on_event
        n_train = self.X.shape[0]
        if model.loss_fn.name not in ("softmax", "svm"):
            raise InputError(f"training needs a classification loss, got {model.loss_fn.name!r}")
        self.batch_size = min(self.spec.batch_size, n_train)
        self.steps_per_epoch = (n_train // self.batch_size if self.spec.replace
                                else math.ceil(n_train / self.batch_size))
        self.steps_per_epoch = max(self.steps_per_epoch, 1)
        self.total_steps = self.spec.iterations or self.spec.epochs * self.steps_per_epoch
        self.total_epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        # a fixed training subset for the train accuracy and the activation statistics
        k = min(self.spec.eval_train_size, n_train)
        sub = np.random.default_rng([self.spec.seed, 1]).choice(n_train, k, replace=False)
        self.sub = np.sort(sub)

    # ------------------------------------------------------------------ events and files
    def _emit(self, **event):
        if self.on_event is not None:
            self.on_event(event)

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    def _save(self, st: _State, rng: np.random.Generator, name: str = "last.npz"):
        opt_arrays = self.optimizer.state_to_arrays(st.opt_state)
        extra = {}
        if st.path:
            extra = {"path": np.stack(st.path), "path_steps": np.array(st.path_steps)}
        atomic_savez(
            self.checkpoint_dir / name,
            version=CHECKPOINT_VERSION,
            theta=st.theta,
            buffers=self.model.buffers,
            rng=json.dumps(rng.bit_generator.state),
            epoch=st.epoch,
            step=st.step,
            losses=np.asarray(st.losses, dtype=np.float64),
            history=json.dumps(st.history),
            best_metric=np.nan if st.best_metric is None else st.best_metric,
            best_epoch=-1 if st.best_epoch is None else st.best_epoch,
            bad_epochs=st.bad_epochs,
            first_loss=np.nan if st.first_loss is None else st.first_loss,
            seconds=st.seconds,
            **{f"opt.{k}": v for k, v in opt_arrays.items()},
            **extra,
        )

    def _save_best(self, st: _State):
        atomic_savez(self.checkpoint_dir / "best.npz", version=CHECKPOINT_VERSION,
                     theta=st.theta, buffers=self.model.buffers, epoch=st.epoch,
                     metric=st.best_metric)

    def _load(self, rng: np.random.Generator) -> _State:
        path = self.checkpoint_dir / "last.npz"
        z = load_npz(path)
        try:
            theta = self.model.layout.check(z["theta"], f"theta in {path}")
            if theta.dtype != self.dtype:
                raise InputError(f"{path} holds {theta.dtype} parameters, the run is {self.dtype}")
            if z["buffers"].shape != self.model.buffers.shape:
                raise InputError(f"{path} does not match this model's BatchNorm buffers")
            self.model.buffers[:] = z["buffers"]
            rng.bit_generator.state = json.loads(str(z["rng"]))
            opt_state = self.optimizer.state_from_arrays(
                {k[4:]: v for k, v in z.items() if k.startswith("opt.")})
            best_metric = float(z["best_metric"])
            first = float(z["first_loss"])
            st = _State(
                theta=theta.copy(), opt_state=opt_state, epoch=int(z["epoch"]),
                step=int(z["step"]), losses=z["losses"].tolist(),
                history=json.loads(str(z["history"])),
                best_metric=None if math.isnan(best_metric) else best_metric,
                best_epoch=None if int(z["best_epoch"]) < 0 else int(z["best_epoch"]),
                bad_epochs=int(z["bad_epochs"]), first_loss=None if math.isnan(first) else first,
                seconds=float(z["seconds"]),
            )
            if "path" in z:
                st.path = list(z["path"])
                st.path_steps = z["path_steps"].tolist()
            return st
        except KeyError as e:
            raise DataError(f"{path} is not a steepest checkpoint (missing {e})") from None

    def _write_tables(self, st: _State):
        if self.run_dir is None:
            return
        if st.history:
            cols = list(dict.fromkeys(k for row in st.history for k in row))
            lines = [",".join(cols)]
            lines += [",".join(_fmt(row.get(c, "")) for c in cols) for row in st.history]
            atomic_write_text(self.run_dir / "metrics.csv", "\n".join(lines) + "\n")
        body = "".join(f"{i + 1},{loss!r}\n" for i, loss in enumerate(st.losses))
        atomic_write_text(self.run_dir / "iterations.csv", "step,loss\n" + body)

    # ------------------------------------------------------------------ the loop
    def run(self, theta: np.ndarray | None = None, resume: bool = False) -> TrainResult:
        """Train from ``theta`` (default: ``model.init_params(seed)``), or resume the run dir."""
        spec, model, opt = self.spec, self.model, self.optimizer
        rng = np.random.default_rng(spec.seed)
        if resume:
            if self.run_dir is None:
                raise InputError("resume needs a run directory")
            st = self._load(rng)
        else:
            if theta is None:
                theta = model.init_params(spec.seed)
            theta = model.layout.check(theta).astype(self.dtype, copy=True)
            st = _State(theta=theta, opt_state=opt.init(theta))
            if self.run_dir is not None:
                self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        theta = st.theta
        grad = np.empty_like(theta)
        ctx = model._context(True, rng, True)
        X, y, B = self.X, self.y, self.batch_size
        status, message = "completed", ""
        self._emit(type="start", epochs=self.total_epochs, steps=self.total_steps,
                   steps_per_epoch=self.steps_per_epoch, epoch=st.epoch, step=st.step)
        if spec.keep_path_every and not st.path:
            st.path.append(theta.copy())
            st.path_steps.append(st.step)
        t_start = time.perf_counter() - st.seconds
        while st.epoch < self.total_epochs and status == "completed":
            epoch_losses, ratios, gnorms = [], [], []
            for idx in batch_indices(X.shape[0], B, rng, replace=spec.replace):
                if st.step >= self.total_steps:
                    break
                loss, _ = model._loss_and_grad(theta, X[idx], y[idx], ctx, out=grad)
                if st.first_loss is None:
                    st.first_loss = loss
                if not math.isfinite(loss) or loss > spec.divergence_factor * st.first_loss:
                    lr = _hyper(opt, "lr", st.step)
                    status = "diverged"
                    message = (f"the loss became {loss:.4g} at step {st.step + 1} (epoch "
                               f"{st.epoch + 1}), more than {spec.divergence_factor:g}x its first "
                               f"value {st.first_loss:.4g}; try a smaller learning rate than "
                               f"{lr:g}")
                    break
                # every monitor_every steps, and at least once per epoch
                monitor = not epoch_losses or st.step % spec.monitor_every == 0
                if monitor:
                    before = theta.copy()
                    gnorms.append(float(np.linalg.norm(grad.astype(np.float64))))
                st.opt_state = opt.step(theta, grad, st.opt_state)
                if monitor:
                    ratios.append(update_ratios(model.layout, before, theta))
                st.step += 1
                st.losses.append(loss)
                epoch_losses.append(loss)
                if spec.keep_path_every and st.step % spec.keep_path_every == 0:
                    st.path.append(theta.copy())
                    st.path_steps.append(st.step)
                self._emit(type="step", step=st.step, loss=loss)
            if status == "diverged":
                break
            st.epoch += 1
            st.seconds = time.perf_counter() - t_start
            row = self._epoch_row(st, epoch_losses, ratios, gnorms)
            st.history.append(row)
            improved = self._track_best(st, row)
            if self.run_dir is not None:
                if improved:
                    self._save_best(st)  # best before last: last never points past best
                self._save(st, rng)
                self._write_tables(st)
            self._emit(type="epoch", **row)
            if spec.patience is not None and st.bad_epochs >= spec.patience:
                status = "early_stopped"
                message = (f"no improvement of {spec.monitor} for {spec.patience} epochs; "
                           f"best at epoch {st.best_epoch}")
        st.seconds = time.perf_counter() - t_start
        return self._finish(st, status, message)

    def _epoch_row(self, st, epoch_losses, ratios, gnorms) -> dict:
        model, theta = self.model, st.theta
        Xs, ys = self.X[self.sub], self.y[self.sub]
        train_loss, train_acc = evaluate(model, theta, Xs, ys)
        val_loss, val_acc = evaluate(model, theta, self.X_val, self.y_val)
        row = {
            "epoch": st.epoch,
            "step": st.step,
            "train_loss": float(np.mean(epoch_losses)) if epoch_losses else float("nan"),
            "train_eval_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": _hyper(self.optimizer, "lr", max(st.step - 1, 0)),
            "grad_norm": float(np.mean(gnorms)) if gnorms else float("nan"),
            "seconds": st.seconds,
        }
        for name in (ratios[0] if ratios else {}):
            row[f"update_ratio.{name}"] = float(np.mean([r[name] for r in ratios]))
        row.update(activation_stats(model, theta, Xs))
        return row

    def _track_best(self, st: _State, row: dict) -> bool:
        value = row[self.spec.monitor]
        better = (st.best_metric is None or
                  (value > st.best_metric if self.spec.monitor == "val_acc"
                   else value < st.best_metric))
        if better and math.isfinite(value):
            st.best_metric, st.best_epoch, st.bad_epochs = value, st.epoch, 0
            if self.run_dir is None:
                self._best = (st.theta.copy(), self.model.buffers.copy())
            return True
        st.bad_epochs += 1
        return False

    def _best_params(self, st: _State):
        if st.best_epoch is None:
            return None
        if self.run_dir is None:
            return getattr(self, "_best", None)
        z = load_npz(self.checkpoint_dir / "best.npz")
        return z["theta"], z["buffers"]

    def _finish(self, st: _State, status: str, message: str) -> TrainResult:
        model = self.model
        theta = st.theta
        if self.spec.restore_best or status == "diverged":
            best = self._best_params(st)
            if best is not None:
                theta = best[0].astype(self.dtype, copy=True)
                model.buffers[:] = best[1]
        train_loss, train_acc = evaluate(model, theta, self.X[self.sub], self.y[self.sub])
        _, val_acc = evaluate(model, theta, self.X_val, self.y_val)
        test_acc = None
        if self.X_test is not None:
            test_acc = evaluate(model, theta, self.X_test, self.y_test)[1]
        if not message:
            message = f"trained {st.epoch} epochs ({st.step} steps)"
        result = TrainResult(
            theta=theta, status=status, message=message, history=st.history,
            losses=np.asarray(st.losses), epochs=st.epoch, steps=st.step, seconds=st.seconds,
            best_epoch=st.best_epoch, best_metric=st.best_metric, train_acc=train_acc,
            val_acc=val_acc, test_acc=test_acc, final_loss=train_loss, run_dir=self.run_dir,
            path=np.stack(st.path) if st.path else None,
            path_steps=np.asarray(st.path_steps) if st.path else None,
        )
        if self.run_dir is not None:
            self._write_tables(st)
            atomic_savez(self.run_dir / "final.npz", theta=theta, buffers=model.buffers,
                         layout=json.dumps(model.layout.to_dict()))
            if result.path is not None:
                atomic_savez(self.run_dir / "path.npz", path=result.path,
                             steps=result.path_steps)
            atomic_write_json(self.run_dir / "summary.json", result.summary())
        self._emit(type="end", **result.summary())
        return result


def _fmt(v) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)
