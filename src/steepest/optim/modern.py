"""Adam's relatives and Lion: element-wise rules over the flat vector.

Each rule follows ``torch.optim`` (names of the hyperparameters aside: ``beta1``/``beta2`` for
torch's ``betas``) and is checked against it in ``tests/test_optim_parity.py``. With ``t`` the
step counter *after* it is incremented (the first update has ``t = 1``) and ``g`` the gradient
(after clipping and, for the L2 form, with ``weight_decay * theta`` added):

- :class:`NAdam`: Adam with Nesterov momentum (Dozat 2016), torch's momentum-decay schedule.
- :class:`RAdam`: Adam with the variance rectification of Liu et al. (2020).
- :class:`Adamax`: Adam in the infinity norm (Kingma & Ba 2015, section 7.1).
- :class:`Adadelta`: Zeiler (2012), with torch's ``lr`` factor.
- :class:`Lion`: the sign of an interpolated momentum (Chen et al. 2023).

``weight_decay`` (a number or a schedule) acts where ``decay_mask`` is True (every entry when it
is ``None``, as torch does for one parameter group); ``decay_mask`` takes the same forms as
:class:`steepest.optim.AdamW`'s.
"""

from __future__ import annotations

import math

import numpy as np

from .rules import (
    F64,
    Optimizer,
    _decay,
    _flag,
    _fraction,
    _number_or_schedule,
    _parse_decay_mask,
    _rate,
)

__all__ = ["Adadelta", "Adamax", "Lion", "NAdam", "RAdam"]


def _l2(g, theta, wd: float, mask, out) -> np.ndarray:
    """The gradient of ``loss + wd/2 ||theta||^2`` (masked) in ``out``; ``g`` when ``wd == 0``."""
    if wd == 0.0:
        return g
    _decay(theta, wd, mask, out)
    out += g
    return out


def _moments(g, m, v, b1: float, b2: float, tmp) -> None:
    """``m = b1 m + (1 - b1) g`` and ``v = b2 v + (1 - b2) g^2`` in place."""
    m *= b1
    m += np.multiply(g, 1.0 - b1, out=tmp)
    v *= b2
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - b2
    v += tmp


class _DecayOptions(Optimizer):
    """Holds ``decay_mask`` and the decoupled flag for the rules below."""

    decoupled: bool = False

    def _set_decay(self, decay_mask, decoupled) -> None:
        self.decay_mask = _parse_decay_mask(decay_mask)
        self.decoupled = _flag(decoupled, "decoupled_weight_decay")

    def _grad_with_decay(self, g, theta, lr: float, wd: float, buf):
        """The L2 form folds the decay into ``g``; the decoupled form is applied by
        :meth:`_decoupled` at the end."""
        return g if self.decoupled else _l2(g, theta, wd, self.decay_mask, buf)

    def _decoupled(self, d, theta, lr: float, wd: float, tmp) -> None:
        """``d -= lr wd theta`` (masked): torch's ``theta *= 1 - lr wd`` as part of delta."""
        if self.decoupled and wd != 0.0:
            d -= _decay(theta, lr * wd, self.decay_mask, tmp)


class NAdam(_DecayOptions):
    """NAdam (Dozat 2016, "Incorporating Nesterov Momentum into Adam"), torch's form.

    ``mu_t = beta1 (1 - 0.5 * 0.96 ** (t * momentum_decay))``, ``P_t = mu_1 ... mu_t`` (kept in
    the state as ``mu_product``), ``m`` and ``v`` as in Adam, and::

        theta -= lr [(1 - mu_t) / (1 - P_t) g + mu_{t+1} / (1 - P_t mu_{t+1}) m]
                 / (sqrt(v / (1 - beta2^t)) + eps)

    ``decoupled_weight_decay=True`` decays as AdamW does (torch's option of the same name).
    """

    name = "nadam"
    n_work = 3

    def __init__(self, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, momentum_decay=4e-3,
                 weight_decay=0.0, decoupled_weight_decay=False, decay_mask=None, *,
                 clip_norm=None, clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            beta1=_number_or_schedule(beta1, "beta1", _fraction),
            beta2=_number_or_schedule(beta2, "beta2", _fraction),
            eps=_number_or_schedule(eps, "eps", _rate),
            momentum_decay=_number_or_schedule(momentum_decay, "momentum_decay", _rate),
            weight_decay=_number_or_schedule(weight_decay, "weight_decay", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self._set_decay(decay_mask, decoupled_weight_decay)

    def _options(self) -> dict:
        return {"decoupled_weight_decay": self.decoupled, "decay_mask": self.decay_mask}

    def _state_spec(self) -> dict:
        return {"m": None, "v": None, "mu_product": F64}

    def _init_state(self, theta, state) -> None:
        state["mu_product"][...] = 1.0

    def _apply(self, g, s, theta, t, work):
        lr, b1, b2, eps, psi, wd = (self._value(k, t) for k in (
            "lr", "beta1", "beta2", "eps", "momentum_decay", "weight_decay"))
        d, e, buf = work
        n = t + 1
        g = self._grad_with_decay(g, theta, lr, wd, buf)
        mu = b1 * (1.0 - 0.5 * 0.96 ** (n * psi))
        mu_next = b1 * (1.0 - 0.5 * 0.96 ** ((n + 1) * psi))
        prod = float(s["mu_product"]) * mu
        s["mu_product"][...] = prod
        m, v = s["m"], s["v"]
        _moments(g, m, v, b1, b2, d)
        # 1 / (sqrt(v / c2^2) + eps) = c2 / (sqrt(v) + eps c2): the bias correction as scalars
        c2 = math.sqrt(1.0 - b2**n)
        np.multiply(g, (1.0 - mu) / (1.0 - prod), out=d)
        d += np.multiply(m, mu_next / (1.0 - prod * mu_next), out=e)
        np.sqrt(v, out=e)
        e += eps * c2
        d /= e
        d *= -lr * c2
        self._decoupled(d, theta, lr, wd, e)
        return d


class RAdam(_DecayOptions):
    """RAdam (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate and Beyond").

    ``rho_inf = 2 / (1 - beta2) - 1`` and ``rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)``.
    When ``rho_t > 5`` the step is Adam's, scaled by the rectification
    ``r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))``:
    ``theta -= lr r_t mhat sqrt(1 - beta2^t) / (sqrt(v) + eps)``; otherwise it is momentum SGD,
    ``theta -= lr mhat`` (``mhat = m / (1 - beta1^t)``). ``eps`` is added to the uncorrected
    ``sqrt(v)``, as torch does.
    """

    name = "radam"
    slots = ("m", "v")
    n_work = 3

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False, decay_mask=None, *, clip_norm=None,
                 clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            beta1=_number_or_schedule(beta1, "beta1", _fraction),
            beta2=_number_or_schedule(beta2, "beta2", _fraction),
            eps=_number_or_schedule(eps, "eps", _rate),
            weight_decay=_number_or_schedule(weight_decay, "weight_decay", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self._set_decay(decay_mask, decoupled_weight_decay)

    def _options(self) -> dict:
        return {"decoupled_weight_decay": self.decoupled, "decay_mask": self.decay_mask}

    def _apply(self, g, s, theta, t, work):
        lr, b1, b2, eps, wd = (self._value(k, t) for k in (
            "lr", "beta1", "beta2", "eps", "weight_decay"))
        d, e, buf = work
        n = t + 1
        g = self._grad_with_decay(g, theta, lr, wd, buf)
        m, v = s["m"], s["v"]
        _moments(g, m, v, b1, b2, d)
        bc1, bc2 = 1.0 - b1**n, 1.0 - b2**n
        rho_inf = 2.0 / (1.0 - b2) - 1.0
        rho_t = rho_inf - 2.0 * n * b2**n / bc2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                             / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
            np.sqrt(v, out=d)
            d += eps
            np.divide(m, d, out=d)
            d *= -lr * rect * math.sqrt(bc2) / bc1
        else:  # the variance estimate is not trustworthy yet: momentum SGD
            np.multiply(m, -lr / bc1, out=d)
        self._decoupled(d, theta, lr, wd, e)
        return d


class Adamax(_DecayOptions):
    """Adamax (Kingma & Ba 2015, section 7.1), torch's form with ``eps`` inside the max.

    ``m = beta1 m + (1 - beta1) g; u = max(beta2 u, |g| + eps);
    theta -= lr / (1 - beta1^t) * m / u``. ``weight_decay`` is L2 (added to ``g``), as torch.
    """

    name = "adamax"
    slots = ("m", "u")
    n_work = 2

    def __init__(self, lr=2e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                 decay_mask=None, *, clip_norm=None, clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            beta1=_number_or_schedule(beta1, "beta1", _fraction),
            beta2=_number_or_schedule(beta2, "beta2", _fraction),
            eps=_number_or_schedule(eps, "eps", _rate),
            weight_decay=_number_or_schedule(weight_decay, "weight_decay", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self._set_decay(decay_mask, False)

    def _options(self) -> dict:
        return {"decay_mask": self.decay_mask}

    def _apply(self, g, s, theta, t, work):
        lr, b1, b2, eps, wd = (self._value(k, t) for k in (
            "lr", "beta1", "beta2", "eps", "weight_decay"))
        d, buf = work
        g = _l2(g, theta, wd, self.decay_mask, buf)
        m, u = s["m"], s["u"]
        m *= b1
        m += np.multiply(g, 1.0 - b1, out=d)
        np.abs(g, out=d)
        d += eps
        u *= b2
        np.maximum(u, d, out=u)  # u = max(beta2 u, |g| + eps)
        np.divide(m, u, out=d)
        d *= -lr / (1.0 - b1 ** (t + 1))
        return d


class Adadelta(_DecayOptions):
    """Adadelta (Zeiler 2012, "ADADELTA: An Adaptive Learning Rate Method"), torch's form.

    ``s = rho s + (1 - rho) g^2; d = sqrt(a + eps) / sqrt(s + eps) * g;
    a = rho a + (1 - rho) d^2; theta -= lr d``. The paper has no ``lr`` (``lr = 1``, the
    default). ``weight_decay`` is L2 (added to ``g``), as torch.
    """

    name = "adadelta"
    slots = ("square_avg", "acc_delta")
    n_work = 3

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, decay_mask=None, *,
                 clip_norm=None, clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            rho=_number_or_schedule(rho, "rho", _fraction),
            eps=_number_or_schedule(eps, "eps", _rate),
            weight_decay=_number_or_schedule(weight_decay, "weight_decay", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self._set_decay(decay_mask, False)

    def _options(self) -> dict:
        return {"decay_mask": self.decay_mask}

    def _apply(self, g, s, theta, t, work):
        lr, rho, eps, wd = (self._value(k, t) for k in ("lr", "rho", "eps", "weight_decay"))
        d, e, buf = work
        g = _l2(g, theta, wd, self.decay_mask, buf)
        sq, acc = s["square_avg"], s["acc_delta"]
        sq *= rho
        np.multiply(g, g, out=e)
        e *= 1.0 - rho
        sq += e
        np.add(sq, eps, out=e)
        np.sqrt(e, out=e)  # sqrt(s + eps)
        np.add(acc, eps, out=d)
        np.sqrt(d, out=d)
        d /= e
        d *= g  # d = sqrt(a + eps) / sqrt(s + eps) * g
        acc *= rho
        np.multiply(d, d, out=e)
        e *= 1.0 - rho
        acc += e
        d *= -lr
        return d


class Lion(_DecayOptions):
    """Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms").

    ``c = beta1 m + (1 - beta1) g; theta -= lr (sign(c) + weight_decay theta);
    m = beta2 m + (1 - beta2) g`` (``sign(0) = 0``). The decay is decoupled, as in the paper.
    Lion's steps have unit size per entry, so its ``lr`` is typically 3-10x smaller than
    AdamW's and its ``weight_decay`` correspondingly larger (the paper's advice).
    """

    name = "lion"
    slots = ("m",)
    n_work = 2

    def __init__(self, lr=1e-4, beta1=0.9, beta2=0.99, weight_decay=0.0, decay_mask=None, *,
                 clip_norm=None, clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            beta1=_number_or_schedule(beta1, "beta1", _fraction),
            beta2=_number_or_schedule(beta2, "beta2", _fraction),
            weight_decay=_number_or_schedule(weight_decay, "weight_decay", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self._set_decay(decay_mask, True)

    def _options(self) -> dict:
        return {"decay_mask": self.decay_mask}

    def _apply(self, g, s, theta, t, work):
        lr, b1, b2, wd = (self._value(k, t) for k in ("lr", "beta1", "beta2", "weight_decay"))
        c, d = work
        m = s["m"]
        np.multiply(m, b1, out=c)
        c += np.multiply(g, 1.0 - b1, out=d)
        np.sign(c, out=d)  # not in place: NumPy's in-place sign is ~20x slower
        if wd != 0.0:
            d += _decay(theta, wd, self.decay_mask, c)
        d *= -lr
        m *= b2
        m += np.multiply(g, 1.0 - b2, out=c)
        return d
