"""Callbacks: everything the training loop does besides stepping.

A callback is an object with any of these hooks (the :class:`Callback` base class has them all
doing nothing; the trainer calls only the hooks a callback overrides, in the order of its
callback list)::

    on_run_start(trainer, state)              before the first step (new or resumed run)
    on_gradient(trainer, state, batch)        loss and gradient known, before the update
    on_step_end(trainer, state, batch)        after the update
    on_epoch_end(trainer, state, row)         an epoch finished; add columns to ``row``
    on_train_end(trainer, state)              the loop is over; last chance to change weights
    on_result(trainer, state, result)         the run's :class:`TrainResult`, for writers

``state`` is the :class:`~steepest.train.state.RunState` (theta, step, epoch, history ...);
``state.stop(status, message)`` ends the run after the current step. For example, stopping on
a metric of your own::

    class StopAtAccuracy(Callback):
        def on_epoch_end(self, trainer, state, row):
            if row["val_acc"] >= 0.97:
                state.stop("stopped", f"validation accuracy reached 0.97 at epoch {row['epoch']}")

    Trainer(model, optimizer, X, y, X_val, y_val, callbacks=[StopAtAccuracy()]).run()

The built-in ones (:func:`default_callbacks`) are the babysitting monitors, validation,
divergence detection, best-model tracking with early stopping, the kept path, checkpoints and
the files of a run directory.
"""

from __future__ import annotations

import json
import math

import numpy as np

from .._io import atomic_savez, atomic_write_json, atomic_write_text, load_npz
from .checkpoint import buffers_of, restore_buffers, save_best, save_checkpoint
from .events import EpochEnded, RunEnded, RunStarted, StepEnded
from .monitors import activation_stats, evaluate, update_ratios

HOOKS = ("on_run_start", "on_gradient", "on_step_end", "on_epoch_end", "on_train_end",
         "on_result")


class Callback:
    """Base class: every hook does nothing."""

    def on_run_start(self, trainer, state):
        pass

    def on_gradient(self, trainer, state, batch):
        pass

    def on_step_end(self, trainer, state, batch):
        pass

    def on_epoch_end(self, trainer, state, row):
        pass

    def on_train_end(self, trainer, state):
        pass

    def on_result(self, trainer, state, result):
        pass


class DivergenceGuard(Callback):
    """Stop when the loss is not finite or exceeds ``factor`` times its first value; the step
    that tripped it is recorded (its loss kept in ``state.losses``) but not applied."""

    def __init__(self, factor: float):
        self.factor = factor

    def on_gradient(self, trainer, state, batch):
        loss = batch.loss
        if state.first_loss is None:
            state.first_loss = loss
        if math.isfinite(loss) and loss <= self.factor * state.first_loss:
            return
        lr = trainer.optimizer.hyperparameters(state.step).get("lr")
        state.losses.append(loss)
        state.epoch_losses.append(loss)
        advice = f"; try a smaller learning rate than {lr:g}" if lr is not None else ""
        state.stop("diverged", f"the loss became {loss:.4g} at step {batch.step} (epoch "
                               f"{state.epoch + 1}), more than {self.factor:g}x its first value "
                               f"{state.first_loss:.4g}{advice}")

    def on_train_end(self, trainer, state):
        if state.status == "diverged" and state.best_epoch is None:
            state.message += ("; no epoch finished before it, so no weights were kept (a run "
                              "folder gets no final.npz)")


class Monitors(Callback):
    """Gradient norm and update-to-weight ratios every ``every`` steps (and at least once an
    epoch), activation statistics on the fixed training subset once an epoch."""

    def __init__(self, every: int):
        self.every = every
        self._before = None
        self._reset()

    def _reset(self):
        self.ratios, self.norms = [], []

    def on_gradient(self, trainer, state, batch):
        if state.epoch_losses and state.step % self.every:
            self._before = None
            return
        self._before = state.theta.copy()
        self.norms.append(float(np.linalg.norm(batch.grad.astype(np.float64))))

    def on_step_end(self, trainer, state, batch):
        if self._before is not None:
            self.ratios.append(update_ratios(trainer.objective.layout, self._before, state.theta))
            self._before = None

    def on_epoch_end(self, trainer, state, row):
        row["grad_norm"] = float(np.mean(self.norms)) if self.norms else float("nan")
        for name in (self.ratios[0] if self.ratios else {}):
            row[f"update_ratio.{name}"] = float(np.mean([r[name] for r in self.ratios]))
        row.update(activation_stats(trainer.objective, state.theta, trainer.X[trainer.eval_rows]))
        self._reset()


class Validation(Callback):
    """Loss and accuracy on the fixed training subset and on the validation set, each epoch,
    at the optimizer's evaluation point (theta, or a schedule-free rule's average)."""

    def on_epoch_end(self, trainer, state, row):
        rows, point = trainer.eval_rows, trainer.eval_point(state)
        row["train_eval_loss"], row["train_acc"] = evaluate(trainer.objective, point,
                                                            trainer.X[rows], trainer.y[rows])
        row["val_loss"], row["val_acc"] = evaluate(trainer.objective, point, trainer.X_val,
                                                   trainer.y_val)


class ObserveMetric(Callback):
    """Show the monitored validation metric to the optimizer once an epoch (a reduce-on-plateau
    schedule acts on it), before the checkpoint saves its state."""

    def __init__(self, monitor: str):
        self.monitor = monitor

    def on_epoch_end(self, trainer, state, row):
        trainer.optimizer.observe(row[self.monitor])


class BestTracker(Callback):
    """Track the best epoch by ``monitor``; stop after ``patience`` epochs without improvement;
    at the end return the best weights (``restore_best``, and always after a divergence)."""

    def __init__(self, monitor: str, patience: int | None, restore_best: bool):
        self.monitor, self.patience, self.restore_best = monitor, patience, restore_best
        self._best = None  # (theta, buffers) kept in memory since this process started

    def on_epoch_end(self, trainer, state, row):
        value = row[self.monitor]
        best = state.best_metric
        better = best is None or (value > best if self.monitor == "val_acc" else value < best)
        if better and math.isfinite(value):
            state.best_metric, state.best_epoch, state.bad_epochs = value, state.epoch, 0
            self._best = (np.array(trainer.eval_point(state), copy=True),
                          buffers_of(trainer.objective).copy())
        else:
            state.bad_epochs += 1
        if self.patience is not None and state.bad_epochs >= self.patience:
            state.stop("early_stopped", f"no improvement of {self.monitor} for {self.patience} "
                                        f"epochs; best at epoch {state.best_epoch}")

    def on_train_end(self, trainer, state):
        if not (self.restore_best or state.status == "diverged") or state.best_epoch is None:
            return
        if self._best is None and trainer.run_dir is not None:  # a resumed run: from disk
            z = load_npz(trainer.checkpoint_dir / "best.npz")
            self._best = (z["theta"], z["buffers"])
        if self._best is None:
            return
        theta, buffers = self._best
        state.theta = np.array(theta, dtype=trainer.dtype, copy=True)
        restore_buffers(trainer.objective, buffers, "the best checkpoint")
        if state.best_epoch != state.epoch or state.status == "diverged":
            state.restored_epoch = state.best_epoch


class PathKeeper(Callback):
    """Keep the parameters every ``every`` steps (and the start), for landscape paths."""

    def __init__(self, every: int):
        self.every = every

    def on_run_start(self, trainer, state):
        if not state.path:
            state.path.append(state.theta.copy())
            state.path_steps.append(state.step)

    def on_step_end(self, trainer, state, batch):
        if state.step % self.every == 0:
            state.path.append(state.theta.copy())
            state.path_steps.append(state.step)


def stability_bound(optimizer, step: int) -> float:
    """The largest sharpness gradient descent stays stable at: ``2 / lr``, and for heavy-ball
    momentum ``mu`` (the lecture's ``v = mu v - lr g``) ``(2 + 2 mu) / lr``; NaN without a rate.
    """
    hyper = optimizer.hyperparameters(step)
    lr = hyper.get("lr")
    if not lr:
        return float("nan")
    mu = hyper.get("mu", 0.0) if optimizer.name in ("momentum",) else 0.0
    return (2.0 + 2.0 * mu) / lr


class SharpnessTracker(Callback):
    """Every ``every`` steps the largest eigenvalue of the loss's Hessian on the fixed training
    subset, in evaluation mode, by Lanczos warm-started from the previous eigenvector (a few
    products each time; exact products where the objective offers them), with the stability
    bound ``2 / lr`` (``(2 + 2 mu) / lr`` for momentum) it is compared with (Cohen et al.
    2021, the edge of stability)."""

    def __init__(self, every: int):
        self.every = every
        self.products = 0

    def on_step_end(self, trainer, state, batch):
        if state.step % self.every:
            return
        from ..contract import bind
        from ..landscape.curvature import top_eigenpair

        rows = trainer.eval_rows
        fn = bind(trainer.objective, trainer.X[rows], trainer.y[rows], train=False)
        pair = top_eigenpair(fn, state.theta.astype(np.float64), start=state.sharpness_vector,
                             tol=1e-3)
        state.sharpness_vector = pair.vector
        self.products += pair.n_hvp
        state.sharpness.append((state.step, pair.value,
                                stability_bound(trainer.optimizer, state.step - 1)))

    def on_epoch_end(self, trainer, state, row):
        if state.sharpness:
            row["sharpness"], row["stability_bound"] = state.sharpness[-1][1:]


class Checkpointer(Callback):
    """``checkpoints/last.npz`` every epoch, then ``best.npz`` when the best improved.

    last is written first, so best is never ahead of last; a kill between the two leaves
    last.npz saying that its own epoch is the best, and the resumed run writes best.npz from
    it before its first step.
    """

    def on_run_start(self, trainer, state):
        best = trainer.checkpoint_dir / "best.npz"
        if state.best_epoch is not None and state.best_epoch == state.epoch:
            saved = load_npz(best) if best.exists() else {}
            if int(saved.get("epoch", -1)) != state.epoch:
                save_best(best, state, trainer.objective)

    def on_epoch_end(self, trainer, state, row):
        save_checkpoint(trainer.checkpoint_dir / "last.npz", state, trainer.objective,
                        trainer.optimizer)
        if state.best_epoch == state.epoch:
            save_best(trainer.checkpoint_dir / "best.npz", state, trainer.objective)


def _cell(v) -> str:
    return repr(v) if isinstance(v, float) else str(v)


class RunFiles(Callback):
    """``metrics.csv`` and ``iterations.csv`` each epoch; at the end ``final.npz``, ``path.npz``
    and ``summary.json``."""

    def _tables(self, trainer, state):
        if state.history:
            cols = list(dict.fromkeys(k for row in state.history for k in row))
            lines = [",".join(cols)]
            lines += [",".join(_cell(row.get(c, "")) for c in cols) for row in state.history]
            atomic_write_text(trainer.run_dir / "metrics.csv", "\n".join(lines) + "\n")
        body = "".join(f"{i + 1},{loss!r}\n" for i, loss in enumerate(state.losses))
        atomic_write_text(trainer.run_dir / "iterations.csv", "step,loss\n" + body)

    def on_epoch_end(self, trainer, state, row):
        self._tables(trainer, state)

    def on_result(self, trainer, state, result):
        self._tables(trainer, state)
        summary = result.to_dict()
        if result.status == "diverged" and result.restored_epoch is None:
            # no epoch finished before the blow-up: there are no weights worth keeping
            summary["final_weights"] = None
            (trainer.run_dir / "final.npz").unlink(missing_ok=True)
        else:
            summary["final_weights"] = "final.npz"
            atomic_savez(trainer.run_dir / "final.npz", theta=result.theta,
                         buffers=buffers_of(trainer.objective),
                         layout=json.dumps(trainer.objective.layout.to_dict()))
        if result.path is not None:
            atomic_savez(trainer.run_dir / "path.npz", path=result.path,
                         steps=result.path_steps)
        if state.sharpness:
            lines = "".join(f"{int(st)},{v!r},{b!r}\n" for st, v, b in state.sharpness)
            atomic_write_text(trainer.run_dir / "sharpness.csv",
                              "step,sharpness,stability_bound\n" + lines)
        atomic_write_json(trainer.run_dir / "summary.json", summary)


class EventForwarder(Callback):
    """Hand :mod:`~steepest.train.events` to a plain ``on_event`` callable (progress bars)."""

    def __init__(self, on_event):
        self.on_event = on_event

    def on_run_start(self, trainer, state):
        plan = trainer.plan
        self.on_event(RunStarted(plan.total_steps, plan.total_epochs, plan.steps_per_epoch,
                                 state.epoch, state.step))

    def on_step_end(self, trainer, state, batch):
        self.on_event(StepEnded(state.step, state.epoch + 1, batch.loss))

    def on_epoch_end(self, trainer, state, row):
        self.on_event(EpochEnded(state.epoch, state.step, dict(row)))

    def on_result(self, trainer, state, result):
        self.on_event(RunEnded(result))


def default_callbacks(settings, run_dir, on_event=None) -> list[Callback]:
    """The standard callbacks, in the order their epoch-end work depends on."""
    callbacks: list[Callback] = [DivergenceGuard(settings.divergence_factor),
                                 Monitors(settings.monitor_every), Validation(),
                                 ObserveMetric(settings.monitor),
                                 BestTracker(settings.monitor, settings.patience,
                                             settings.restore_best)]
    if settings.keep_path_every:
        callbacks.append(PathKeeper(settings.keep_path_every))
    if settings.track_sharpness:
        callbacks.append(SharpnessTracker(settings.track_sharpness))
    if run_dir is not None:
        callbacks += [Checkpointer(), RunFiles()]
    if on_event is not None:
        callbacks.append(EventForwarder(on_event))
    return callbacks
