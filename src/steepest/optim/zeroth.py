"""Zeroth-order baselines: the lectures' first attempts at optimization, without gradients.

- :func:`random_search` draws ``n_tries`` independent parameter vectors ``scale * randn(size)``
  and keeps the best one (it never uses what it learned from earlier draws).
- :func:`random_local_search` starts at ``theta0``, proposes ``theta + step * randn`` and moves
  only when the loss drops (a random descent direction, accepted by comparison).

Both take ``loss_fn(theta) -> float`` and an explicit ``numpy.random.Generator`` (or an integer
seed), and return a :class:`RandomSearchResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import _validate as checks
from ..contract import bind, check_theta
from ..errors import InputError
from ..results import Result

__all__ = ["RandomSearchResult", "random_local_search", "random_search"]


@dataclass(frozen=True)
class RandomSearchResult(Result):
    """The best point found and how the search went.

    ``losses[i]`` is the loss of the i-th proposal; ``history[i]`` is the best loss after it
    (non-increasing). ``n_accepted`` counts the proposals that became the current best.
    """

    theta: np.ndarray
    loss: float
    history: np.ndarray
    losses: np.ndarray
    n_evals: int
    n_accepted: int

    _omit = ("theta",)

    def plot(self, ax=None, label: str | None = None):
        """The best loss so far against the number of proposals."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        ax.plot(np.arange(1, self.history.size + 1), self.history, label=label)
        ax.set_xlabel("loss evaluations")
        ax.set_ylabel("best loss so far")
        ax.grid(alpha=0.3)
        if label:
            ax.legend()
        return fig


def _generator(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise InputError(
        f"rng must be a numpy.random.Generator or a non-negative integer seed, got {rng!r}"
    )


def _float_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise InputError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in (np.float32, np.float64):
        raise InputError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _loss_function(loss_fn) -> Callable[[np.ndarray], float]:
    """``theta -> loss``: ``loss_fn`` itself, or the loss of an objective bound to its data."""
    if hasattr(loss_fn, "loss"):  # a bound objective (steepest.bind, model.bind)
        return bind(loss_fn).loss
    if not callable(loss_fn):
        raise InputError(f"loss_fn must be a callable theta -> loss or a bound objective, got "
                         f"{type(loss_fn).__name__}")
    return loss_fn


def _eval(loss_fn, theta) -> float:
    loss = float(loss_fn(theta))
    return loss if not np.isnan(loss) else np.inf  # a NaN loss never wins


def random_search(
    loss_fn: Callable[[np.ndarray], float],
    size: int,
    n_tries: int = 1000,
    scale: float = 1e-4,
    *,
    rng,
    dtype=np.float64,
) -> RandomSearchResult:
    """Best of ``n_tries`` independent draws ``scale * randn(size)`` (lowest loss wins)."""
    size = checks.positive_int(size, "size")
    n_tries = checks.positive_int(n_tries, "n_tries")
    scale = checks.nonneg_float(scale, "scale")
    rng, dt = _generator(rng), _float_dtype(dtype)
    loss_fn = _loss_function(loss_fn)
    losses = np.empty(n_tries)
    best_theta, best, accepted = None, np.inf, 0
    for i in range(n_tries):
        theta = rng.standard_normal(size, dtype=dt)
        theta *= scale
        losses[i] = _eval(loss_fn, theta)
        if best_theta is None or losses[i] < best:
            best_theta, best, accepted = theta, losses[i], accepted + 1
    return RandomSearchResult(
        best_theta, float(best), np.minimum.accumulate(losses), losses, n_tries, accepted
    )


def random_local_search(
    loss_fn: Callable[[np.ndarray], float],
    theta0: np.ndarray,
    n_iters: int = 1000,
    step: float = 1e-3,
    *,
    rng,
) -> RandomSearchResult:
    """From ``theta0``, propose ``theta + step * randn`` and keep it only if the loss drops.

    ``step`` defaults to 1e-3, a per-entry perturbation suited to standardized inputs and
    weights of order 1e-2 (the lectures use 1e-4 with raw 0-255 pixels). The search runs in
    ``theta0``'s dtype; ``theta0`` itself is not modified. ``n_evals`` is ``n_iters + 1``
    (the starting point is evaluated too).
    """
    theta = np.array(check_theta(theta0, what="theta0"), copy=True)
    loss_fn = _loss_function(loss_fn)
    n_iters = checks.positive_int(n_iters, "n_iters")
    step = checks.nonneg_float(step, "step")
    rng = _generator(rng)
    best = _eval(loss_fn, theta)
    losses = np.empty(n_iters)
    history = np.empty(n_iters)
    accepted = 0
    for i in range(n_iters):
        trial = rng.standard_normal(theta.size, dtype=theta.dtype)
        trial *= step
        trial += theta
        losses[i] = _eval(loss_fn, trial)
        if losses[i] < best:
            theta, best, accepted = trial, losses[i], accepted + 1
        history[i] = best
    return RandomSearchResult(theta, float(best), history, losses, n_iters + 1, accepted)
