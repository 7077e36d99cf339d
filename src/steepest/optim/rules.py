"""First-order update rules over the flat parameter vector, in one Optax-like protocol.

::

    opt = Adam(lr=1e-3)
    state = opt.init(theta)                       # {"step": 0-d int64, "m": ..., "v": ...}
    delta, state = opt.update(theta, grad, state)  # functional: state is not modified
    theta += delta

    state = opt.step(theta, grad, state)          # the same update, in place and cheap

Both paths run the same sequence of in-place ufunc operations, so ``theta + delta`` from
:meth:`Optimizer.update` is bit-identical to what :meth:`Optimizer.step` writes into ``theta``.

Conventions shared by every rule:

- ``g`` is the gradient of the loss at the current ``theta``; ``delta`` is what gets *added*.
- Every numeric hyperparameter may be a number or a schedule (``steepest.optim.schedules``, or
  any callable ``step -> value``). A schedule is evaluated at the state's step counter BEFORE it
  is incremented: the first update uses ``lr(0)``. Adam's bias correction uses the incremented
  count ``t = step + 1``.
- The state is a plain ``dict`` of numpy arrays in ``theta``'s dtype plus ``"step"`` (a 0-d
  int64 array), so ``np.savez(path, **state)`` and ``np.load(path, allow_pickle=False)``
  round-trip it (use :meth:`Optimizer.state_from_arrays` to validate what was loaded).
- :meth:`Optimizer.config` returns a JSON-able dict and :func:`optimizer_from_config` rebuilds
  the optimizer from it, schedules included.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np

from .. import _validate as checks
from ..contract import check_theta
from ..errors import InputError
from .schedules import Schedule, as_schedule

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "make_optimizer",
    "optimizer_from_config",
]


# ------------------------------------------------------------------ hyperparameter checks
def _rate(value: float, name: str) -> float:
    return checks.nonneg_float(value, name)


def _fraction(value: float, name: str) -> float:
    """A coefficient in [0, 1) (momentum, decay rates, Adam's betas)."""
    v = checks.nonneg_float(value, name)
    if v >= 1.0:
        raise InputError(f"{name} must be in [0, 1), got {value!r}")
    return v


def _number_or_schedule(value, name: str, check: Callable[[float, str], float]):
    """A checked float, or a schedule (a dict is parsed; any callable is accepted)."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a number or a schedule, got {value!r}")
    if isinstance(value, (int, float, np.integer, np.floating)):
        return check(value, name)
    return as_schedule(value, name)


def _as_theta(theta, what: str = "theta") -> np.ndarray:
    if not isinstance(theta, np.ndarray):
        raise InputError(f"{what} must be a numpy array, got {type(theta).__name__}")
    return check_theta(theta, what=what)


def _mask_to_runs(mask: np.ndarray) -> dict:
    """A boolean vector as ``{"size": n, "runs": [[start, stop], ...]}`` (True intervals)."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1)
    return {"size": int(mask.size), "runs": [[int(a), int(b)] for a, b in zip(starts, stops)]}


def _mask_from_runs(d: Mapping) -> np.ndarray:
    try:
        size = checks.positive_int(d["size"], "decay_mask size")
        runs = d["runs"]
        mask = np.zeros(size, dtype=bool)
        for a, b in runs:
            a, b = int(a), int(b)
            if not 0 <= a <= b <= size:
                raise InputError(f"decay_mask run [{a}, {b}] is outside [0, {size}]")
            mask[a:b] = True
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(
            f"decay_mask must be a boolean array or {{'size': n, 'runs': [[a, b], ...]}}, got {d!r}"
        ) from None
    return mask


# ------------------------------------------------------------------ the protocol
def _adaptive_step(g, cache, lr, eps, out):
    """``out = -lr g / (sqrt(cache) + eps)``, the step of Adagrad and RMSProp, in place."""
    np.sqrt(cache, out=out)
    out += eps
    np.divide(g, out, out=out)
    out *= -lr
    return out


class Optimizer:
    """Base class of the update rules; subclasses define ``_apply`` and their state slots.

    ``_apply(g, state, theta, t, work)`` updates the slot arrays of ``state`` in place, may use
    the scratch vectors ``work``, and returns the array holding ``delta`` (a slot or a scratch
    vector). ``t`` is the step counter before the update.
    """

    name: ClassVar[str] = ""
    slots: ClassVar[tuple[str, ...]] = ()  # state arrays besides "step"
    n_work: ClassVar[int] = 1  # scratch vectors the update needs

    def __init__(self, **hyper):
        # raw values: floats or schedules, in the order of the constructor's signature
        self._hyperparams: dict[str, float | Callable] = dict(hyper)
        self._scratch: list[np.ndarray] = []

    # --------------------------------------------------------- hyperparameters
    def _value(self, name: str, t: int) -> float:
        h = self._hyperparams[name]
        if isinstance(h, float):
            return h
        if isinstance(h, Schedule):
            return h.value_at(t)
        return float(h(t))

    def hyperparameters(self, step: int = 0) -> dict[str, float]:
        """The value of every numeric hyperparameter at ``step`` (for logging)."""
        return {k: self._value(k, int(step)) for k in self._hyperparams}

    def _options(self) -> dict:
        """Non-numeric constructor arguments (flags, masks), as given to ``__init__``."""
        return {}

    def _config_options(self) -> dict:
        return self._options()

    def replace(self, **changes) -> Optimizer:
        """A new optimizer of the same kind with some hyperparameters changed."""
        kwargs = {**self._hyperparams, **self._options()}
        unknown = sorted(set(changes) - set(kwargs))
        if unknown:
            raise InputError(
                f"unknown hyperparameter(s) {', '.join(unknown)} for {self.name!r}; "
                f"allowed: {', '.join(kwargs)}"
            )
        kwargs.update(changes)
        return type(self)(**kwargs)

    def config(self) -> dict:
        """``{"name": ..., <hyperparameters>}``; schedules become dicts. JSON-able."""
        d: dict = {"name": self.name}
        for k, h in self._hyperparams.items():
            if isinstance(h, float):
                d[k] = h
            elif isinstance(h, Schedule):
                d[k] = h.to_dict()
            else:
                raise InputError(
                    f"hyperparameter {k!r} of {self.name!r} is a plain callable {h!r}; only "
                    "numbers and steepest.optim.schedules objects can be saved in a config"
                )
        d.update(self._config_options())
        return d

    def __repr__(self) -> str:
        parts = [f"{k}={h!r}" for k, h in self._hyperparams.items()]
        parts += [f"{k}={v!r}" for k, v in self._options().items() if not isinstance(v, np.ndarray)]
        return f"{type(self).__name__}({', '.join(parts)})"

    # --------------------------------------------------------- state
    def init(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """A fresh state for ``theta``: zero slots in its dtype and ``step = 0``."""
        theta = _as_theta(np.asarray(theta))
        self._check_theta(theta)
        state = {"step": np.zeros((), dtype=np.int64)}
        for k in self.slots:
            state[k] = np.zeros_like(theta)
        return state

    def _check_theta(self, theta: np.ndarray) -> None:
        """Hook for rules whose hyperparameters depend on theta's size (AdamW's mask)."""

    def _check(self, theta, grad, state) -> tuple[np.ndarray, int]:
        """Cheap per-call checks; returns the gradient (in theta's dtype) and the step."""
        _as_theta(theta)
        if not isinstance(grad, np.ndarray):
            grad = np.asarray(grad)
        if grad.shape != theta.shape:
            raise InputError(f"grad has shape {grad.shape} but theta has shape {theta.shape}")
        if grad.dtype != theta.dtype:
            grad = grad.astype(theta.dtype)
        if not isinstance(state, dict):
            raise InputError(f"state must be the dict made by {self.name}.init, got {state!r}")
        try:
            if len(state) != len(self.slots) + 1:
                raise KeyError("step")
            step = state["step"]
            for k in self.slots:
                a = state[k]
                if a.shape != theta.shape or a.dtype != theta.dtype:
                    raise InputError(
                        f"state[{k!r}] has shape {a.shape} and dtype {a.dtype}, but theta has "
                        f"shape {theta.shape} and dtype {theta.dtype}"
                    )
        except (KeyError, AttributeError):
            raise InputError(
                f"state is not a {self.name!r} state: expected arrays "
                f"{', '.join(('step',) + self.slots)}, got keys {sorted(state)}"
            ) from None
        return grad, int(step)

    def state_to_arrays(self, state: Mapping) -> dict[str, np.ndarray]:
        """The state as a dict of arrays for ``np.savez(path, **arrays)`` (validated, no copy)."""
        return self._validate_state(state, theta=None, copy=False)

    def state_from_arrays(self, arrays: Mapping, theta: np.ndarray | None = None) -> dict:
        """A state (fresh, writable copies) from saved arrays, e.g. ``np.load(path)``.

        Checks that exactly the keys of this rule are present, that ``step`` is a non-negative
        integer scalar and that the slots are 1-D floating vectors of one shape and dtype (that
        of ``theta`` when it is given).
        """
        if theta is not None:
            theta = _as_theta(np.asarray(theta))
        return self._validate_state(arrays, theta=theta, copy=True)

    def _validate_state(self, arrays: Mapping, theta, copy: bool) -> dict:
        if not isinstance(arrays, Mapping):
            raise InputError(f"a {self.name!r} state must be a mapping of arrays, got {arrays!r}")
        expected = ("step",) + self.slots
        keys = set(arrays.keys())
        missing = [k for k in expected if k not in keys]
        extra = sorted(keys - set(expected))
        if missing or extra:
            raise InputError(
                f"a {self.name!r} state needs exactly the arrays {', '.join(expected)}; "
                f"missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'}"
            )
        step = np.asarray(arrays["step"])
        if step.shape != () or step.dtype.kind not in "iu" or int(step) < 0:
            raise InputError(
                f"state 'step' must be a non-negative integer scalar, got shape {step.shape}, "
                f"dtype {step.dtype}"
            )
        out = {"step": np.array(int(step), dtype=np.int64)}
        ref_shape = theta.shape if theta is not None else None
        ref_dtype = theta.dtype if theta is not None else None
        for k in self.slots:
            a = np.asarray(arrays[k])
            if a.ndim != 1 or not np.issubdtype(a.dtype, np.floating):
                raise InputError(
                    f"state {k!r} must be a 1-D floating vector, got shape {a.shape}, "
                    f"dtype {a.dtype}"
                )
            if ref_shape is None:
                ref_shape, ref_dtype = a.shape, a.dtype
            if a.shape != ref_shape or a.dtype != ref_dtype:
                raise InputError(
                    f"state {k!r} has shape {a.shape} and dtype {a.dtype}; expected shape "
                    f"{ref_shape} and dtype {ref_dtype}"
                )
            out[k] = np.array(a, copy=True) if copy else a
        if theta is not None:
            self._check_theta(theta)
        return out

    # --------------------------------------------------------- updates
    def _work(self, theta: np.ndarray) -> list[np.ndarray]:
        w = self._scratch
        if len(w) != self.n_work or w[0].shape != theta.shape or w[0].dtype != theta.dtype:
            w = self._scratch = [np.empty_like(theta) for _ in range(self.n_work)]
        return w

    def update(self, theta: np.ndarray, grad, state: dict) -> tuple[np.ndarray, dict]:
        """``(delta, new_state)`` with ``state`` left untouched; the caller adds ``delta``.

        The arguments come in the order of :meth:`step` (parameters, gradient, state)."""
        grad, t = self._check(theta, grad, state)
        new = {k: state[k].copy() for k in self.slots}
        delta = self._apply(grad, new, theta, t, self._work(theta)).copy()
        new["step"] = np.array(t + 1, dtype=np.int64)
        return delta, new

    def step(self, theta: np.ndarray, grad, state: dict) -> dict:
        """Update ``theta`` and ``state`` in place; returns ``state`` (the same dict).

        After the first call no vector is allocated: the rule works in scratch vectors kept by
        the optimizer and in the state's own arrays (only ``state["step"]`` is a new 0-d array).
        """
        grad, t = self._check(theta, grad, state)
        delta = self._apply(grad, state, theta, t, self._work(theta))
        theta += delta
        state["step"] = np.array(t + 1, dtype=np.int64)
        return state

    def _apply(self, g, s, theta, t, work):  # pragma: no cover - every rule overrides it
        raise NotImplementedError


# ------------------------------------------------------------------ the rules
class SGD(Optimizer):
    """Gradient descent: ``delta = -lr g``.

    Full-batch gradient descent, mini-batch SGD and batch-size-1 ("online") SGD are all this
    rule; they differ only in which examples the caller averages ``g`` over.
    """

    name = "sgd"

    def __init__(self, lr):
        super().__init__(lr=_number_or_schedule(lr, "lr", _rate))

    def _apply(self, g, s, theta, t, work):
        (d,) = work
        return np.multiply(g, -self._value("lr", t), out=d)  # delta = -lr g


class Momentum(Optimizer):
    """Momentum in the lecture's velocity convention: ``v = mu v - lr g; theta += v``.

    PyTorch's ``SGD(momentum=mu)`` keeps ``b = mu b + g`` and does ``theta -= lr b``. With a
    constant ``lr`` the two are the same sequence of iterates (``v = -lr b``); with a scheduled
    lr they differ, because here the rate at each step scales only that step's gradient,
    while PyTorch multiplies the whole accumulated buffer by the current rate.
    """

    name = "momentum"
    slots = ("v",)

    def __init__(self, lr, mu=0.9):
        super().__init__(lr=_number_or_schedule(lr, "lr", _rate),
                         mu=_number_or_schedule(mu, "mu", _fraction))

    def _apply(self, g, s, theta, t, work):
        lr, mu = self._value("lr", t), self._value("mu", t)
        v, (buf,) = s["v"], work
        v *= mu
        v -= np.multiply(g, lr, out=buf)  # v = mu v - lr g
        return v


class Nesterov(Optimizer):
    """Nesterov momentum in the CS231n form, using the gradient at theta (no look-ahead pass).

    ``v_prev = v; v = mu v - lr g; theta += -mu v_prev + (1 + mu) v``, which equals
    ``theta += mu v - lr g``. PyTorch's ``SGD(momentum=mu, nesterov=True)`` does
    ``b = mu b + g; theta -= lr (g + mu b)``: the same iterates for a constant ``lr``
    (``v = -lr b``), different ones for a scheduled lr.
    """

    name = "nesterov"
    slots = ("v",)
    n_work = 2

    def __init__(self, lr, mu=0.9):
        super().__init__(lr=_number_or_schedule(lr, "lr", _rate),
                         mu=_number_or_schedule(mu, "mu", _fraction))

    def _apply(self, g, s, theta, t, work):
        lr, mu = self._value("lr", t), self._value("mu", t)
        v, (d, buf) = s["v"], work
        np.multiply(v, -mu, out=d)  # -mu v_prev
        v *= mu
        v -= np.multiply(g, lr, out=buf)  # v = mu v - lr g
        d += np.multiply(v, 1.0 + mu, out=buf)  # + (1 + mu) v
        return d


class Adagrad(Optimizer):
    """Adagrad: ``cache += g^2; theta -= lr g / (sqrt(cache) + eps)`` (PyTorch's formula)."""

    name = "adagrad"
    slots = ("cache",)

    def __init__(self, lr=1e-2, eps=1e-10):
        super().__init__(lr=_number_or_schedule(lr, "lr", _rate),
                         eps=_number_or_schedule(eps, "eps", _rate))

    def _apply(self, g, s, theta, t, work):
        lr, eps = self._value("lr", t), self._value("eps", t)
        cache, (d,) = s["cache"], work
        cache += np.multiply(g, g, out=d)  # cache += g^2
        return _adaptive_step(g, cache, lr, eps, d)


class RMSProp(Optimizer):
    """RMSProp: ``cache = decay cache + (1 - decay) g^2; theta -= lr g / (sqrt(cache) + eps)``.

    This is the standard form (Hinton's lecture 6e; PyTorch's ``RMSprop(alpha=decay)``).
    """

    name = "rmsprop"
    slots = ("cache",)

    def __init__(self, lr=1e-2, decay=0.99, eps=1e-8):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            decay=_number_or_schedule(decay, "decay", _fraction),
            eps=_number_or_schedule(eps, "eps", _rate),
        )

    def _apply(self, g, s, theta, t, work):
        lr, decay, eps = (self._value(k, t) for k in ("lr", "decay", "eps"))
        cache, (d,) = s["cache"], work
        cache *= decay
        np.multiply(g, g, out=d)
        d *= 1.0 - decay
        cache += d  # cache = decay cache + (1 - decay) g^2
        return _adaptive_step(g, cache, lr, eps, d)


class Adam(Optimizer):
    """Adam with bias correction (Kingma & Ba; PyTorch's formula).

    With ``t`` incremented first: ``m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    mhat = m / (1 - b1^t); vhat = v / (1 - b2^t); theta -= lr mhat / (sqrt(vhat) + eps)``.
    ``bias_correction=False`` gives the lecture notes' form ``theta -= lr m / (sqrt(v) + eps)``.
    """

    name = "adam"
    slots = ("m", "v")

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            beta1=_number_or_schedule(beta1, "beta1", _fraction),
            beta2=_number_or_schedule(beta2, "beta2", _fraction),
            eps=_number_or_schedule(eps, "eps", _rate),
        )
        if not isinstance(bias_correction, (bool, np.bool_)):
            raise InputError(f"bias_correction must be True or False, got {bias_correction!r}")
        self.bias_correction = bool(bias_correction)

    def _options(self) -> dict:
        return {"bias_correction": self.bias_correction}

    def _adam_direction(self, g, s, t, d) -> float:
        """Update m and v, write ``m / (sqrt(v) + eps_hat)`` into ``d`` and return ``c``.

        ``c * d == mhat / (sqrt(vhat) + eps)``: with ``c1 = 1 - b1^t`` and ``c2 = 1 - b2^t``,
        ``mhat / (sqrt(vhat) + eps) = (sqrt(c2) / c1) * m / (sqrt(v) + eps sqrt(c2))``, so the
        bias corrections cost two scalars instead of two passes over the vector.
        """
        b1, b2, eps = (self._value(k, t) for k in ("beta1", "beta2", "eps"))
        m, v = s["m"], s["v"]
        m *= b1
        m += np.multiply(g, 1.0 - b1, out=d)  # m = b1 m + (1 - b1) g
        v *= b2
        np.multiply(g, g, out=d)
        d *= 1.0 - b2
        v += d  # v = b2 v + (1 - b2) g^2
        c, eps_hat = 1.0, eps
        if self.bias_correction:
            n = t + 1
            sqrt_c2 = math.sqrt(1.0 - b2**n)
            c, eps_hat = sqrt_c2 / (1.0 - b1**n), eps * sqrt_c2
        np.sqrt(v, out=d)
        d += eps_hat
        np.divide(m, d, out=d)
        return c

    def _apply(self, g, s, theta, t, work):
        (d,) = work
        c = self._adam_direction(g, s, t, d)
        d *= -self._value("lr", t) * c  # delta = -lr mhat / (sqrt(vhat) + eps)
        return d


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter; ``torch.optim.AdamW``).

    ``theta -= lr (mhat / (sqrt(vhat) + eps) + weight_decay * theta)``, the decay applied only
    where ``decay_mask`` is True (for instance ``model.layout.mask(("weight",))``); ``None``
    decays every entry, as ``torch.optim.AdamW`` does for a single parameter group. PyTorch
    applies the decay as ``theta *= 1 - lr wd`` before the Adam step; that is the same update.
    """

    name = "adamw"
    n_work = 2

    def __init__(
        self,
        lr=1e-3,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=1e-2,
        decay_mask=None,
        bias_correction=True,
    ):
        super().__init__(lr, beta1, beta2, eps, bias_correction)
        self._hyperparams["weight_decay"] = _number_or_schedule(weight_decay, "weight_decay", _rate)
        if decay_mask is None:
            self.decay_mask = None
        elif isinstance(decay_mask, Mapping):
            self.decay_mask = _mask_from_runs(decay_mask)
        else:
            mask = np.asarray(decay_mask)
            if mask.ndim != 1 or mask.dtype != np.bool_:
                raise InputError(
                    f"decay_mask must be a 1-D boolean array over theta, got shape {mask.shape} "
                    f"and dtype {mask.dtype}"
                )
            self.decay_mask = mask.copy()

    def _options(self) -> dict:
        return {"decay_mask": self.decay_mask, "bias_correction": self.bias_correction}

    def _config_options(self) -> dict:
        mask = None if self.decay_mask is None else _mask_to_runs(self.decay_mask)
        return {"decay_mask": mask, "bias_correction": self.bias_correction}

    def _check_theta(self, theta: np.ndarray) -> None:
        if self.decay_mask is not None and self.decay_mask.shape != theta.shape:
            raise InputError(
                f"decay_mask has {self.decay_mask.size} entries but theta has {theta.size}"
            )

    def _apply(self, g, s, theta, t, work):
        lr, wd = self._value("lr", t), self._value("weight_decay", t)
        d, decay = work
        self._check_theta(theta)
        c = self._adam_direction(g, s, t, d)  # c d = mhat / (sqrt(vhat) + eps)
        np.multiply(theta, wd / c, out=decay)
        if self.decay_mask is not None:
            decay *= self.decay_mask
        d += decay
        d *= -lr * c  # delta = -lr (mhat / (sqrt(vhat) + eps) + wd theta)
        return d


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, Adagrad, RMSProp, Adam, AdamW)
}


def make_optimizer(name: str, **hyper) -> Optimizer:
    """``OPTIMIZERS[name](**hyper)``, with errors naming unknown or missing hyperparameters."""
    checks.choice(name, OPTIMIZERS, "optimizer")
    cls = OPTIMIZERS[name]
    params = inspect.signature(cls.__init__).parameters
    allowed = [p for p in params if p != "self"]
    unknown = sorted(set(hyper) - set(allowed))
    if unknown:
        raise InputError(
            f"unknown hyperparameter(s) {', '.join(unknown)} for optimizer {name!r}; "
            f"allowed: {', '.join(allowed)}"
        )
    missing = [
        p for p in allowed if params[p].default is inspect.Parameter.empty and p not in hyper
    ]
    if missing:
        raise InputError(f"optimizer {name!r} needs hyperparameter(s): {', '.join(missing)}")
    return cls(**hyper)


def optimizer_from_config(d: Mapping) -> Optimizer:
    """Rebuild an optimizer from :meth:`Optimizer.config` output."""
    if not isinstance(d, Mapping) or "name" not in d:
        raise InputError(f"an optimizer config must be a dict with a 'name' key, got {d!r}")
    hyper = {k: v for k, v in d.items() if k != "name"}
    return make_optimizer(d["name"], **hyper)
