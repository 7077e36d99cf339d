"""Choosing a step size: a one-step sweep at the current weights, and the LR range test.

- :func:`step_size_sweep` evaluates, at fixed ``theta``, the loss after ONE gradient step
  ``theta - s * grad`` for every ``s`` of a grid (the lectures' ``for step_size_log in
  [-10, ..., -1]`` experiment). On a quadratic with curvature ``L`` along the gradient the best
  step is ``1 / L``.
- :func:`lr_range_test` is Leslie Smith's test: one short run whose learning rate grows
  exponentially from ``lr_min`` to ``lr_max``, one mini-batch per rate, recording a smoothed
  loss until it blows up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _validate as checks
from ..contract import bind, check_theta
from ..errors import InputError
from ..results import Result
from .rules import SGD, Optimizer, make_optimizer

__all__ = ["LRRangeResult", "StepSizeSweep", "lr_range_test", "step_size_sweep"]


@dataclass(frozen=True)
class StepSizeSweep(Result):
    """Losses after one step ``theta - s * grad`` for each step size ``s``.

    ``best_step`` has the lowest finite loss (NaN and inf count as +inf); ``improved`` says
    whether it is below ``loss0``, the loss at ``theta``.
    """

    step_sizes: np.ndarray
    losses: np.ndarray
    loss0: float
    grad_norm: float
    best_step: float
    best_loss: float
    improved: bool

    def plot(self, ax=None):
        """The loss after one step against the step size (log axis)."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        losses = np.where(np.isfinite(self.losses), self.losses, np.nan)
        ax.semilogx(self.step_sizes, losses, "o-", color="#0072B2")
        ax.axhline(self.loss0, color="gray", ls="--", lw=1, label="loss before the step")
        ax.set_xlabel("step size")
        ax.set_ylabel("loss after one gradient step")
        ax.set_title("step-size sweep")
        ax.legend()
        ax.grid(alpha=0.3, which="both")
        return fig


def _positive_grid(values, name: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).reshape(-1)
    if a.size == 0 or not np.all(np.isfinite(a)) or np.any(a <= 0):
        raise InputError(f"{name} must be a non-empty list of positive finite numbers, got {a}")
    return a


def step_size_sweep(fun, theta, step_sizes=None) -> StepSizeSweep:
    """Loss after one gradient step of each size, all from the same ``theta``.

    ``fun(theta) -> (loss, grad)``, or an object with ``.loss_and_grad`` (and ``.loss``, used
    for the trial points when present, e.g. ``model.objective(X, y)``). ``step_sizes``
    defaults to ``10.0 ** np.arange(-10, 0)``. ``theta`` is not modified.
    """
    fn = bind(fun)
    theta = check_theta(theta)
    steps = _positive_grid(
        10.0 ** np.arange(-10, 0) if step_sizes is None else step_sizes, "step_sizes"
    )
    loss0, grad = fn.loss_and_grad(theta)
    grad = np.asarray(grad, dtype=theta.dtype)
    losses = np.empty(steps.size)
    trial = np.empty_like(theta)
    for i, s in enumerate(steps):
        np.multiply(grad, -s, out=trial)
        trial += theta
        losses[i] = fn.loss(trial)
    ranked = np.where(np.isfinite(losses), losses, np.inf)
    best = int(np.argmin(ranked))
    return StepSizeSweep(
        step_sizes=steps,
        losses=losses,
        loss0=float(loss0),
        grad_norm=float(np.linalg.norm(grad)),
        best_step=float(steps[best]),
        best_loss=float(losses[best]),
        improved=bool(ranked[best] < loss0),
    )


@dataclass(frozen=True)
class LRRangeResult(Result):
    """The rates tried, the raw and smoothed losses, and the suggested rate.

    ``lrs[i]`` was used for the i-th update, whose loss (measured before the update, on the
    i-th mini-batch) is ``losses[i]``. ``steepest_lr`` is the rate where the smoothed loss falls
    fastest per unit of ``log(lr)`` (looking only up to its minimum); ``min_loss_lr`` is the
    rate of the lowest smoothed loss; ``suggestion`` is ``steepest_lr`` (``method="steepest"``)
    or ``min_loss_lr / 10`` (``method="min10"``). When too few points precede the minimum,
    ``steepest_lr`` falls back to ``min_loss_lr / 10``.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    method: str
    steepest_lr: float
    min_loss_lr: float
    stopped_early: bool

    def plot(self, ax=None, title: str = "learning-rate range test"):
        """The smoothed loss against the learning rate, with the suggested rate marked."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        ax.semilogx(self.lrs[: self.smoothed.size], self.smoothed, "-", color="#0072B2")
        ax.axvline(self.suggestion, color="#D55E00", ls="--", lw=1,
                   label=f"suggested {self.suggestion:.2g}")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("smoothed mini-batch loss")
        ax.set_title(title)
        ax.legend()
        ax.grid(alpha=0.3, which="both")
        return fig


def _range_test_options(lr_min, lr_max, n_steps, smoothing, diverge, method, skip_start):
    lr_min = checks.nonneg_float(lr_min, "lr_min")
    lr_max = checks.nonneg_float(lr_max, "lr_max")
    if not 0 < lr_min < lr_max:
        raise InputError(f"need 0 < lr_min < lr_max, got lr_min={lr_min}, lr_max={lr_max}")
    n_steps = checks.positive_int(n_steps, "n_steps")
    if n_steps < 2:
        raise InputError(f"n_steps must be at least 2, got {n_steps}")
    smoothing = checks.nonneg_float(smoothing, "smoothing")
    if smoothing >= 1:
        raise InputError(f"smoothing must be in [0, 1), got {smoothing}")
    diverge = checks.nonneg_float(diverge, "diverge")
    if diverge <= 1:
        raise InputError(f"diverge must be greater than 1, got {diverge}")
    checks.choice(method, ("steepest", "min10"), "suggestion method")
    if skip_start is not None and (
        isinstance(skip_start, bool)
        or not isinstance(skip_start, (int, np.integer))
        or skip_start < 0
    ):
        raise InputError(f"skip_start must be a non-negative integer, got {skip_start!r}")
    return lr_min, lr_max, n_steps, smoothing, diverge


def _rising_rate_optimizer(optimizer, schedule) -> Optimizer:
    """``optimizer`` (None for SGD, a rule name or an Optimizer) with ``lr = schedule``."""
    if optimizer is None:
        return SGD(schedule)
    if isinstance(optimizer, str):
        return make_optimizer(optimizer, lr=schedule)
    if isinstance(optimizer, Optimizer):
        return optimizer.replace(lr=schedule)
    raise InputError(f"optimizer must be a rule name or an Optimizer, got {optimizer!r}")


def _run_range_test(batch_loss_and_grad, theta, opt, n_steps, smoothing, diverge):
    """The losses and their bias-corrected moving average, until the run blows up."""
    state = opt.init(theta)
    losses, smoothed = [], []
    avg, best, stopped = 0.0, np.inf, False
    for i in range(n_steps):
        loss, grad = batch_loss_and_grad(theta, i)
        loss = float(loss)
        losses.append(loss)
        if not np.isfinite(loss):
            smoothed.append(np.inf)
            stopped = True
            break
        avg = smoothing * avg + (1.0 - smoothing) * loss
        value = avg / (1.0 - smoothing ** (i + 1))
        smoothed.append(value)
        best = min(best, value)
        if i > 0 and value > diverge * best:
            stopped = True
            break
        if i < n_steps - 1:
            opt.step(theta, grad, state)
    return np.asarray(losses), np.asarray(smoothed), stopped


def _suggest(lrs, sm, skip):
    """``(steepest_lr, min_loss_lr)`` from the smoothed curve (see :class:`LRRangeResult`)."""
    finite = np.isfinite(sm)
    i_min = int(np.argmin(np.where(finite, sm, np.inf)))
    min_loss_lr = float(lrs[i_min])
    if i_min - skip >= 2:
        seg = slice(skip, i_min + 1)
        slope = np.gradient(sm[seg], np.log(lrs[seg]))
        return float(lrs[skip + int(np.argmin(slope))]), min_loss_lr
    return min_loss_lr / 10.0, min_loss_lr


def lr_range_test(
    batch_loss_and_grad: Callable[[np.ndarray, int], tuple[float, np.ndarray]],
    theta,
    lr_min: float = 1e-7,
    lr_max: float = 10.0,
    n_steps: int = 100,
    optimizer: Optimizer | str | None = None,
    smoothing: float = 0.9,
    diverge: float = 4.0,
    method: str = "steepest",
    skip_start: int | None = None,
) -> LRRangeResult:
    """Leslie Smith's learning-rate range test on a copy of ``theta``.

    Step ``i`` uses ``lr_i = lr_min * (lr_max / lr_min) ** (i / (n_steps - 1))`` on the
    mini-batch ``batch_loss_and_grad(theta, i)``, with plain SGD or with ``optimizer`` (a rule
    name or an :class:`Optimizer`, whose ``lr`` is replaced by the increasing rates; its other
    hyperparameters are kept). The loss is smoothed by an exponential moving average with
    factor ``smoothing`` (bias-corrected as in Adam; 0 disables smoothing). The run stops once
    a loss is not finite or the smoothed loss exceeds ``diverge`` times the lowest smoothed loss
    so far (losses are assumed positive, as for cross-entropy or hinge losses). See
    :class:`LRRangeResult` for the suggested rate; the search for the steepest descent ignores
    the first ``skip_start`` points (default ``n_steps // 10``), where the running average is
    still mostly noise.

    The default smoothing (0.9, a memory of about ten steps) is lighter than fastai's 0.98:
    with a hundred steps spread over eight decades, a fifty-step memory would lag the curve by
    about four decades of learning rate.
    """
    theta = check_theta(theta).copy()
    lr_min, lr_max, n_steps, smoothing, diverge = _range_test_options(
        lr_min, lr_max, n_steps, smoothing, diverge, method, skip_start)
    rates = lr_min * (lr_max / lr_min) ** (np.arange(n_steps) / (n_steps - 1))

    def schedule(t: int) -> float:
        return float(rates[min(t, n_steps - 1)])

    opt = _rising_rate_optimizer(optimizer, schedule)
    losses, sm, stopped = _run_range_test(batch_loss_and_grad, theta, opt, n_steps, smoothing,
                                          diverge)
    lrs = rates[: sm.size]
    skip = n_steps // 10 if skip_start is None else skip_start
    steepest_lr, min_loss_lr = _suggest(lrs, sm, skip)
    return LRRangeResult(
        lrs=lrs,
        losses=losses,
        smoothed=sm,
        suggestion=steepest_lr if method == "steepest" else min_loss_lr / 10.0,
        method=method,
        steepest_lr=steepest_lr,
        min_loss_lr=min_loss_lr,
        stopped_early=stopped,
    )
