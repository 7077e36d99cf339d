"""The training loop: mini-batches, a step, and callbacks for everything else.

``Trainer(objective, optimizer, X_train, y_train, X_val, y_val, settings).run()`` trains any
objective of :mod:`steepest.contract` and returns a :class:`TrainResult`. The loop itself only
draws batches (from one :class:`~steepest.plan.RunPlan`), computes the loss and gradient and
applies the update; validation, babysitting monitors, divergence detection, best-model
tracking, checkpoints and run files are callbacks (:mod:`steepest.train.callbacks`). It never
prints: progress goes to the optional ``on_event`` callable as typed events.

Reproducibility: one ``numpy.random.Generator`` seeded with ``settings.seed`` draws every batch
order and dropout mask; a checkpoint at the end of each epoch stores theta, buffers, the
optimizer state, the generator state and the bookkeeping, so a resumed run continues
bit-identically to one that was never interrupted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..contract import checked_data, fast_kwargs, preserved_buffers, require_objective
from ..errors import InputError
from ..plan import RunPlan
from ..results import Result
from .callbacks import HOOKS, Callback, default_callbacks
from .checkpoint import load_checkpoint
from .monitors import evaluate
from .settings import TrainSettings
from .state import Batch, RunState


@dataclass(frozen=True)
class TrainResult(Result):
    """What a run produced. ``theta`` is the returned parameter vector: the best epoch's when
    it was restored (``restored_epoch``), else the last one's."""

    theta: np.ndarray
    status: str  # "completed", "early_stopped", "diverged" or "stopped"
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
    restored_epoch: int | None = None
    last_epoch: dict = field(default_factory=dict)  # the last epoch's row of metrics.csv
    run_dir: Path | None = None
    path: np.ndarray | None = None  # kept parameters (rows), when keep_path_every is set
    path_steps: np.ndarray | None = None
    sharpness: np.ndarray | None = None  # rows (step, lambda_max, 2/lr bound), if tracked

    _omit = ("theta", "history", "losses", "path", "path_steps", "sharpness")

    def plot(self, ax=None):
        """The mini-batch loss per step, raw and smoothed."""
        from ..viz.plots import figure_and_axes, smooth

        fig, ax = figure_and_axes(ax)
        steps = np.arange(1, self.losses.size + 1)
        ax.plot(steps, self.losses, color="#0072B2", alpha=0.3, lw=0.8, label="mini-batch loss")
        if self.losses.size:
            ax.plot(steps, smooth(self.losses, 0.9), color="#0072B2", lw=1.8, label="smoothed")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(f"training loss ({self.status}, {self.epochs} epochs)")
        ax.legend()
        return fig


class Trainer:
    """Train ``objective`` with ``optimizer`` on ``(X_train, y_train)``, validating on ``X_val``.

    ``callbacks`` run after the default ones (:func:`~steepest.train.callbacks.default_callbacks`);
    ``run_dir`` adds checkpoints and run files; ``on_event`` receives the typed events.
    """

    def __init__(self, objective, optimizer, X_train, y_train, X_val, y_val,
                 settings: TrainSettings | None = None, *, X_test=None, y_test=None,
                 run_dir: str | Path | None = None, on_event=None,
                 callbacks: list[Callback] | None = None):
        self.objective = require_objective(objective, "the Trainer")
        self.optimizer = optimizer
        self.settings = settings or TrainSettings()
        if not isinstance(self.settings, TrainSettings):
            raise InputError(f"settings must be a steepest.train.TrainSettings, got "
                             f"{type(self.settings).__name__}")
        self.dtype = np.dtype(self.settings.dtype)
        self.X, self.y = self._data(X_train, y_train, "the training data")
        self.X_val, self.y_val = self._data(X_val, y_val, "the validation data")
        self.X_test = self.y_test = None
        if X_test is not None:
            self.X_test, self.y_test = self._data(X_test, y_test, "the test data")
        s = self.settings
        self.plan = RunPlan.make(self.X.shape[0], s.batch_size, s.epochs, s.iterations,
                                 full_batch=s.full_batch, replace=s.replace)
        # a fixed training subset for the train accuracy and the activation statistics
        k = min(s.eval_train_size, self.X.shape[0])
        rows = np.random.default_rng([s.seed, 1]).choice(self.X.shape[0], k, replace=False)
        self.eval_rows = np.sort(rows)
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.callbacks = default_callbacks(s, self.run_dir, on_event) + list(callbacks or [])
        self._hooks = {name: [getattr(cb, name) for cb in self.callbacks
                              if getattr(type(cb), name, None) is not getattr(Callback, name)]
                       for name in HOOKS}

    def _data(self, X, y, what):
        X, y = checked_data(self.objective, X, y, what)
        if X.dtype.kind == "f":
            X = X.astype(self.dtype, copy=False)
        return X, y

    @property
    def checkpoint_dir(self) -> Path | None:
        return None if self.run_dir is None else self.run_dir / "checkpoints"

    def _call(self, hook: str, *args):
        for method in self._hooks[hook]:
            method(self, *args)

    # ------------------------------------------------------------------ the loop
    def run(self, theta: np.ndarray | None = None, resume: bool = False) -> TrainResult:
        """Train from ``theta`` (default: ``init_params(seed)``), or resume the run folder."""
        state = self._resumed() if resume else self._fresh(theta)
        self._call("on_run_start", state)
        started = time.perf_counter() - state.seconds
        while state.epoch < self.plan.total_epochs and state.running:
            self._epoch(state)
            if not state.running:  # diverged (or stopped) inside the epoch: no epoch row
                break
            state.epoch += 1
            state.seconds = time.perf_counter() - started
            row = self._epoch_row(state)
            state.history.append(row)  # callbacks complete the row in place, in their order
            self._call("on_epoch_end", state, row)
            state.epoch_losses = []
        state.seconds = time.perf_counter() - started
        if state.running:
            state.stop("completed", f"trained {state.epoch} epochs ({state.step} steps)")
        self._call("on_train_end", state)
        result = self._result(state)
        self._call("on_result", state, result)
        return result

    def _fresh(self, theta) -> RunState:
        obj = self.objective
        if theta is None:
            theta = obj.init_params(self.settings.seed)
        theta = obj.layout.check(theta).astype(self.dtype, copy=True)
        if self.run_dir is not None:
            self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        return RunState(theta=theta, opt_state=self.optimizer.init(theta),
                        rng=np.random.default_rng(self.settings.seed))

    def _resumed(self) -> RunState:
        if self.run_dir is None:
            raise InputError("resume needs a run directory")
        return load_checkpoint(self.checkpoint_dir / "last.npz", self.objective, self.optimizer,
                               self.dtype, np.random.default_rng(self.settings.seed), self.plan)

    def eval_point(self, state: RunState) -> np.ndarray:
        """The parameters to evaluate and return: theta itself, or the point a rule such as
        schedule-free evaluates at (``optimizer.eval_params``; read-only)."""
        return self.optimizer.eval_params(state.theta, state.opt_state)

    def _closure(self, Xb, yb, rng_state):
        """``point -> (loss, grad)`` on the same batch with the same dropout masks, leaving the
        running statistics alone (SAM's second gradient)."""
        obj = self.objective

        def closure(point):
            rng = np.random.default_rng()
            rng.bit_generator.state = rng_state  # the masks of the batch's first pass
            with preserved_buffers(obj):
                return obj.loss_and_grad(point, Xb, yb, train=True, rng=rng)

        return closure

    def _epoch(self, state: RunState) -> None:
        obj, opt, plan = self.objective, self.optimizer, self.plan
        theta, X, y = state.theta, self.X, self.y
        grad = np.empty_like(theta)
        extra = fast_kwargs(obj, out=grad, validate=False)
        on_gradient, on_step_end = self._hooks["on_gradient"], self._hooks["on_step_end"]
        needs_closure = getattr(opt, "needs_closure", False)
        for idx in plan.epoch_batches(state.rng):
            if state.step >= plan.total_steps:
                break
            Xb, yb = (X, y) if plan.full_batch else (X[idx], y[idx])
            rng_state = state.rng.bit_generator.state if needs_closure else None
            loss, g = obj.loss_and_grad(theta, Xb, yb, train=True, rng=state.rng, **extra)
            batch = Batch(state.step + 1, float(loss), g)
            for method in on_gradient:
                method(self, state, batch)
            if not state.running:
                return
            if needs_closure:
                state.opt_state = opt.step(theta, g, state.opt_state,
                                           self._closure(Xb, yb, rng_state))
            else:
                state.opt_state = opt.step(theta, g, state.opt_state)
            state.step += 1
            state.losses.append(batch.loss)
            state.epoch_losses.append(batch.loss)
            for method in on_step_end:
                method(self, state, batch)

    def _epoch_row(self, state: RunState) -> dict:
        losses = state.epoch_losses
        return {"epoch": state.epoch, "step": state.step,
                "train_loss": float(np.mean(losses)) if losses else float("nan"),
                "lr": self.optimizer.hyperparameters(max(state.step - 1, 0)).get("lr"),
                "seconds": state.seconds}

    @staticmethod
    def _evaluated_row(state: RunState) -> dict | None:
        """The epoch row whose validation was computed at the result's point: the restored
        epoch's, or the last one when no step followed it; None when there is none."""
        if state.restored_epoch is not None:
            found = [r for r in state.history if r.get("epoch") == state.restored_epoch]
            row = found[-1] if found else None
        elif state.history and state.history[-1].get("step") == state.step:
            row = state.history[-1]
        else:
            return None
        keys = ("train_eval_loss", "train_acc", "val_acc")
        return row if row is not None and all(k in row for k in keys) else None

    def _result(self, state: RunState) -> TrainResult:
        obj, rows = self.objective, self.eval_rows
        theta = state.theta if state.restored_epoch is not None else self.eval_point(state)
        row = self._evaluated_row(state)
        if row is not None:  # the epoch's validation already evaluated this very point
            final_loss, train_acc, val_acc = (row["train_eval_loss"], row["train_acc"],
                                              row["val_acc"])
        else:
            final_loss, train_acc = evaluate(obj, theta, self.X[rows], self.y[rows])
            val_acc = evaluate(obj, theta, self.X_val, self.y_val)[1]
        test_acc = None
        if self.X_test is not None:
            test_acc = evaluate(obj, theta, self.X_test, self.y_test)[1]
        return TrainResult(
            theta=np.array(theta, copy=True), status=state.status, message=state.message,
            history=state.history, losses=np.asarray(state.losses), epochs=state.epoch,
            steps=state.step, seconds=state.seconds, best_epoch=state.best_epoch,
            best_metric=state.best_metric, train_acc=train_acc, val_acc=val_acc,
            test_acc=test_acc, final_loss=final_loss, restored_epoch=state.restored_epoch,
            last_epoch=dict(state.history[-1]) if state.history else {}, run_dir=self.run_dir,
            path=np.stack(state.path) if state.path else None,
            path_steps=np.asarray(state.path_steps) if state.path else None,
            sharpness=np.asarray(state.sharpness) if state.sharpness else None,
        )
