"""Schedule-free SGD and AdamW (Defazio et al. 2024, "The Road Less Scheduled").

Three sequences instead of one. With ``c_{t+1} = w_t / sum_{i<=t} w_i`` and
``w_t = (t + 1)^r * max_{i<=t} lr_i ** weight_lr_power``::

    y_t     = (1 - beta) z_t + beta x_t          the point where the gradient is taken
    z_{t+1} = z_t - lr_t (d_t + weight_decay y_t)    d_t = g(y_t) (SGD) or g / (sqrt(vhat) + eps)
    x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1}    a weighted average of the z's

``theta`` holds ``y``: the caller takes the gradient at ``theta`` as usual and :meth:`step`
moves ``theta`` to the next ``y``; the state keeps ``z``, ``x``, the running weight sum and the
largest rate seen (and AdamW's ``v``). The point to **evaluate** (validation, test, the saved
result) is ``x``, returned by :meth:`ScheduleFreeSGD.eval_params`; that is what the authors'
``optimizer.eval()`` switches the model to. A model with BatchNorm should have its running
statistics recomputed at ``x`` before evaluating (the authors' advice).

The rate needs no decay schedule (that is the point), but a warm-up helps: the authors'
``warmup_steps=W`` is ``lr=warmup(lr, W)`` here (same numbers). The weights use the largest rate
so far, so a warm-up does not give the first iterates a large weight.

The update is the paper's (and the ``schedulefree`` package's reference classes'); the
package's production classes store ``y`` and ``z`` and recover ``x`` algebraically, which gives
the same iterates to round-off (``tests/test_optim_parity.py``).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .rules import (
    F64,
    Optimizer,
    _decay,
    _fraction,
    _number_or_schedule,
    _parse_decay_mask,
    _rate,
)

__all__ = ["ScheduleFreeAdamW", "ScheduleFreeSGD"]


class ScheduleFreeSGD(Optimizer):
    """Schedule-free SGD (Defazio et al. 2024): ``d_t = g(y_t)``; see the module docstring.

    ``momentum`` is the interpolation ``beta`` between ``z`` and ``x`` (the authors' default
    0.9), ``r`` and ``weight_lr_power`` shape the averaging weights. The authors' default rate
    is 1.0 (their SGD rates are large: no momentum buffer amplifies the step).
    """

    name = "sgd_schedule_free"
    n_work = 2

    def __init__(self, lr=1.0, momentum=0.9, weight_decay=0.0, r=0.0, weight_lr_power=2.0,
                 decay_mask=None, *, clip_norm=None, clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            momentum=_number_or_schedule(momentum, "momentum", _fraction),
            weight_decay=_number_or_schedule(weight_decay, "weight_decay", _rate),
            r=_number_or_schedule(r, "r", _rate),
            weight_lr_power=_number_or_schedule(weight_lr_power, "weight_lr_power", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self.decay_mask = _parse_decay_mask(decay_mask)

    def _options(self) -> dict:
        return {"decay_mask": self.decay_mask}

    def _state_spec(self) -> dict:
        return {"z": None, "x": None, "weight_sum": F64, "lr_max": F64}

    def _init_state(self, theta, state) -> None:
        state["z"][...] = theta
        state["x"][...] = theta

    def eval_params(self, theta: np.ndarray, state: dict) -> np.ndarray:
        """``x``, the average to evaluate at (a copy); ``theta`` holds ``y``, where the
        gradients are taken. Call it after :meth:`step`, e.g. once per epoch."""
        x = state.get("x") if isinstance(state, dict) else None
        if not isinstance(x, np.ndarray) or x.shape != np.shape(theta):
            raise InputError(f"state is not a {self.name!r} state for a theta of shape "
                             f"{np.shape(theta)}")
        return x.copy()

    def _average_weight(self, s, t: int, lr: float) -> float:
        """``c_{t+1}``: this step's weight in the average ``x``; updates the running sums."""
        lr_max = max(lr, float(s["lr_max"]))
        s["lr_max"][...] = lr_max
        weight = (t + 1) ** self._value("r", t) * lr_max ** self._value("weight_lr_power", t)
        total = float(s["weight_sum"]) + weight
        s["weight_sum"][...] = total
        return weight / total if total != 0.0 else 0.0

    def _beta(self, t: int) -> float:
        """The interpolation weight of ``x`` in ``y``."""
        return self._value("momentum", t)

    def _direction(self, g, s, theta, t, d, e) -> np.ndarray:
        """``d_t + weight_decay y_t`` into ``d``."""
        np.copyto(d, g)
        wd = self._value("weight_decay", t)
        if wd != 0.0:
            d += _decay(theta, wd, self.decay_mask, e)
        return d

    def _apply(self, g, s, theta, t, work):
        d, e = work
        lr, beta = self._value("lr", t), self._beta(t)
        c = self._average_weight(s, t, lr)
        z, x = s["z"], s["x"]
        self._direction(g, s, theta, t, d, e)
        d *= lr
        z -= d  # z -= lr (d_t + wd y)
        np.subtract(z, x, out=e)
        x += np.multiply(e, c, out=d)  # x = (1 - c) x + c z
        # the next y = (1 - beta) z + beta x = x + (1 - beta)(1 - c)(z - x_old): fewer passes,
        # and still computed from z and x, so rounding in theta does not accumulate
        np.multiply(e, (1.0 - beta) * (1.0 - c), out=d)
        d += x
        d -= theta
        return d


class ScheduleFreeAdamW(ScheduleFreeSGD):
    """Schedule-free AdamW (Defazio et al. 2024): ``d_t = g / (sqrt(v / (1 - beta2^t)) + eps)``
    with ``v = beta2 v + (1 - beta2) g^2``, and ``beta = beta1``; see the module docstring.

    There is no first-moment buffer: the interpolation with ``x`` plays its part. The decay is
    taken at ``y`` (``z -= lr wd y``), as in the authors' code.
    """

    name = "adamw_schedule_free"

    def __init__(self, lr=0.0025, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, r=0.0,
                 weight_lr_power=2.0, decay_mask=None, *, clip_norm=None, clip_value=None):
        Optimizer.__init__(
            self,
            lr=_number_or_schedule(lr, "lr", _rate),
            beta1=_number_or_schedule(beta1, "beta1", _fraction),
            beta2=_number_or_schedule(beta2, "beta2", _fraction),
            eps=_number_or_schedule(eps, "eps", _rate),
            weight_decay=_number_or_schedule(weight_decay, "weight_decay", _rate),
            r=_number_or_schedule(r, "r", _rate),
            weight_lr_power=_number_or_schedule(weight_lr_power, "weight_lr_power", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self.decay_mask = _parse_decay_mask(decay_mask)

    def _state_spec(self) -> dict:
        return {"z": None, "x": None, "v": None, "weight_sum": F64, "lr_max": F64}

    def _beta(self, t: int) -> float:
        return self._value("beta1", t)

    def _direction(self, g, s, theta, t, d, e) -> np.ndarray:
        b2, eps = self._value("beta2", t), self._value("eps", t)
        v = s["v"]
        v *= b2
        np.multiply(g, g, out=e)
        e *= 1.0 - b2
        v += e
        np.divide(v, 1.0 - b2 ** (t + 1), out=d)
        np.sqrt(d, out=d)
        d += eps
        np.divide(g, d, out=d)
        wd = self._value("weight_decay", t)
        if wd != 0.0:
            d += _decay(theta, wd, self.decay_mask, e)
        return d

