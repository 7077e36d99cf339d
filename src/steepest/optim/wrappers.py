"""Rules built around another rule: SAM (and ASAM) and Lookahead.

The inner rule is ``base=``: an optimizer, a config dict, or a registry name with its
hyperparameters passed alongside (``SAM(base="adam", lr=1e-3, rho=0.05)``); SGD by default. Its
state lives in the wrapper's state under ``base.<name>`` (``base.step``, ``base.m``, ...), and its
stateful schedules are saved as ``base.sched.<hyperparameter>.<field>``. The wrapper's own
``clip_norm`` / ``clip_value`` clip every gradient the wrapper receives or evaluates before the
inner rule sees it (the inner rule's own clipping, if any, applies after that).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping

import numpy as np

from .. import _validate as checks
from ..errors import InputError
from .rules import (
    I64,
    Optimizer,
    _flag,
    _number_or_schedule,
    _positive,
    _rate,
    make_optimizer,
    optimizer_from_config,
)

__all__ = ["SAM", "Lookahead"]

_PREFIX = "base."


def _inner_rule(base, hyper: dict, owner: str) -> Optimizer:
    if isinstance(base, Optimizer):
        inner = base
    elif isinstance(base, Mapping):
        inner = optimizer_from_config(base)
    elif isinstance(base, str):
        return _checked_inner(make_optimizer(base, **hyper), owner)
    else:
        raise InputError(f"{owner} base must be an optimizer, its config dict or a registry "
                         f"name, got {base!r}")
    if hyper:
        raise InputError(f"{owner}: hyperparameter(s) {', '.join(sorted(hyper))} go with a base "
                         f"given by name; set them on the base optimizer {inner!r} instead")
    return _checked_inner(inner, owner)


def _checked_inner(inner: Optimizer, owner: str) -> Optimizer:
    if inner.needs_closure:
        raise InputError(f"{owner} cannot wrap {inner.name!r}, which needs a closure")
    return inner


class _Wrapper(Optimizer):
    """An optimizer that runs ``self.base`` inside its own update."""

    base: Optimizer

    def _state_spec(self) -> dict:
        spec = {k: None for k in self.slots}
        spec[_PREFIX + "step"] = I64
        spec.update({_PREFIX + k: v for k, v in self.base._spec().items()})
        return spec

    def _init_state(self, theta, state) -> None:
        for k, v in self.base.init(theta).items():
            state[_PREFIX + k] = v

    def _check_theta(self, theta) -> None:
        self.base._check_theta(theta)

    def _stateful_schedules(self) -> dict:
        own = super()._stateful_schedules()
        own.update({_PREFIX + k: v for k, v in self.base._stateful_schedules().items()})
        return own

    def hyperparameters(self, step: int = 0) -> dict[str, float]:
        """The inner rule's values (its ``lr`` for logging) and the wrapper's own."""
        return {**self.base.hyperparameters(step), **super().hyperparameters(step)}

    def replace(self, **changes) -> Optimizer:
        """A new wrapper with some hyperparameters changed; those it does not have (``lr``)
        are changed on (a copy of) its inner rule."""
        params = inspect.signature(type(self).__init__).parameters
        inner = {k: v for k, v in changes.items() if k not in params}
        if inner:
            base = changes.get("base", self.base)
            if not isinstance(base, Optimizer):
                base = _inner_rule(base, {}, self.name)
            changes = {k: v for k, v in changes.items() if k in params}
            changes["base"] = base.replace(**inner)
        return super().replace(**changes)

    def _inner_state(self, s: dict) -> dict:
        n = len(_PREFIX)
        return {k[n:]: v for k, v in s.items() if k.startswith(_PREFIX)}

    def _inner_delta(self, g, s, theta) -> np.ndarray:
        """Run one step of the inner rule on ``s``'s ``base.*`` arrays; returns its delta."""
        inner = self._inner_state(s)
        t = int(inner["step"])
        delta = self.base._apply(self.base._clip(g, t), inner, theta, t,
                                 self.base._work(theta))
        s[_PREFIX + "step"] = np.array(t + 1, dtype=np.int64)
        return delta

    def eval_params(self, theta, state) -> np.ndarray:
        return self.base.eval_params(theta, self._inner_state(state))


class SAM(_Wrapper):
    """Sharpness-aware minimization (Foret et al. 2021); ``adaptive=True`` gives ASAM (Kwon et
    al. 2021).

    Two gradient evaluations per step. With ``g`` the gradient at ``theta``, the perturbation
    is ``e = rho g / ||g||`` (SAM) or ``e = rho T^2 g / ||T g||`` with ``T = |theta| + eta``
    element-wise (ASAM; ``eta = 0.01`` as in the authors' code, which leaves the tensors that
    are not weights unscaled, where here every entry is scaled). The gradient ``g'`` at
    ``theta + e`` -- same mini-batch, from ``closure`` -- is handed to the inner rule, which
    updates ``theta`` (not ``theta + e``). ``||.||`` is the 2-norm over the whole vector, plus
    ``1e-12`` so that a zero gradient gives no perturbation. ASAM's perturbation is scaled by
    ``|theta|``, so it wants a ``rho`` about ten times SAM's.

    ``needs_closure`` is True: call ``step(theta, grad, state, closure)`` where
    ``closure(point) -> (loss, grad)`` evaluates the current mini-batch at ``point`` (a scratch
    vector owned by SAM: read it, do not keep or modify it). Dropout masks and BatchNorm
    statistics are the caller's business: the closure should use the same mask and should not
    update the running statistics twice.
    """

    name = "sam"
    needs_closure = True
    n_work = 2

    def __init__(self, base="sgd", rho=0.05, adaptive=False, eta=0.01, *, clip_norm=None,
                 clip_value=None, **base_hyper):
        super().__init__(
            rho=_number_or_schedule(rho, "rho", _positive),
            eta=_number_or_schedule(eta, "eta", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self.adaptive = _flag(adaptive, "adaptive")
        self.base = _inner_rule(base, base_hyper, "sam")

    def _options(self) -> dict:
        return {"base": self.base, "adaptive": self.adaptive}

    def _perturbation(self, g, theta, t, e, tw) -> np.ndarray:
        """``e = rho g / ||g||`` or ASAM's ``rho T^2 g / ||T g||`` into ``e`` (``tw``: scratch)."""
        if self.adaptive:
            np.abs(theta, out=tw)
            tw += self._value("eta", t)  # T
            np.multiply(tw, g, out=e)
            norm = math.sqrt(float(np.dot(e, e)))  # ||T g||
            e *= tw  # T^2 g
        else:
            norm = math.sqrt(float(np.dot(g, g)))
            np.copyto(e, g)
        e *= self._value("rho", t) / (norm + 1e-12)
        return e

    def _sam_delta(self, g, s, theta, t, closure) -> np.ndarray:
        if not callable(closure):
            raise InputError("sam needs closure(point) -> (loss, grad) evaluating the same "
                             f"mini-batch at another point, got {closure!r}")
        e, point = self._work(theta)
        self._perturbation(g, theta, t, e, point)
        np.add(theta, e, out=point)
        result = closure(point)
        try:
            _, g2 = result
        except (TypeError, ValueError):
            raise InputError(f"sam's closure must return (loss, grad), got {result!r}") from None
        g2 = self._grad_for(theta, g2)
        return self._inner_delta(self._clip(g2, t), s, theta)

    def update(self, theta, grad, state, closure: Callable | None = None):
        """``(delta, new_state)``, ``state`` untouched; ``closure`` as in :meth:`step`."""
        grad, t = self._prepare(theta, grad, state)
        new = {k: v.copy() for k, v in state.items() if k != "step"}
        delta = self._sam_delta(grad, new, theta, t, closure).copy()
        new["step"] = np.array(t + 1, dtype=np.int64)
        return delta, new

    def step(self, theta, grad, state, closure: Callable | None = None) -> dict:
        """One SAM step in place: ``grad`` is the gradient at ``theta``; ``closure(point)``
        returns ``(loss, grad)`` of the same mini-batch at ``point``."""
        grad, t = self._prepare(theta, grad, state)
        theta += self._sam_delta(grad, state, theta, t, closure)
        state["step"] = np.array(t + 1, dtype=np.int64)
        return state

    def _apply(self, g, s, theta, t, work):
        raise InputError("sam needs a closure: call step(theta, grad, state, closure)")


class Lookahead(_Wrapper):
    """Lookahead (Zhang et al. 2019, "Lookahead Optimizer: k steps forward, 1 step back").

    The inner rule moves the fast weights ``theta``; every ``k`` steps the slow weights move
    toward them, ``slow += alpha (theta - slow)``, and ``theta`` restarts from ``slow``. The
    inner rule's state (momentum, Adam moments) is kept across the synchronisations, the
    paper's default. ``slow`` is in the state; ``theta`` equals it right after a sync.
    """

    name = "lookahead"
    slots = ("slow",)

    def __init__(self, base="sgd", k=5, alpha=0.5, *, clip_norm=None, clip_value=None,
                 **base_hyper):
        super().__init__(
            alpha=_number_or_schedule(alpha, "alpha", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self.k = checks.positive_int(k, "lookahead k")
        self.base = _inner_rule(base, base_hyper, "lookahead")

    def _options(self) -> dict:
        return {"base": self.base, "k": self.k}

    def _init_state(self, theta, state) -> None:
        super()._init_state(theta, state)
        state["slow"][...] = theta

    def _apply(self, g, s, theta, t, work):
        delta = self._inner_delta(g, s, theta)
        if (t + 1) % self.k:
            return delta
        (d,) = work
        slow = s["slow"]
        np.add(theta, delta, out=d)  # the fast weights after k inner steps
        d -= slow
        d *= self._value("alpha", t)
        slow += d  # slow += alpha (fast - slow)
        return np.subtract(slow, theta, out=d)  # theta restarts from slow
