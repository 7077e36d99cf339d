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
- Every rule clips its gradient when given ``clip_value=`` and/or ``clip_norm=`` (see
  :class:`Optimizer`).
- Three optional parts of the protocol, with defaults in the base class:
  ``needs_closure`` (SAM's ``step(theta, grad, state, closure)``), :meth:`Optimizer.eval_params`
  (the point to evaluate: theta, or the schedule-free average) and :meth:`Optimizer.observe`
  (a metric for the stateful schedules, whose state :meth:`Optimizer.state_to_arrays` saves as
  ``sched.<hyperparameter>.<field>`` arrays).

This module holds the protocol and the classic rules; the newer ones are in ``modern``
(NAdam, RAdam, Adamax, Adadelta, Lion), ``layerwise`` (Adafactor, Muon, Shampoo: they need the
model's layout), ``schedule_free`` and ``wrappers`` (SAM, Lookahead); ``registry`` names them all.
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
from ..params import Layout
from .schedules import Schedule, as_schedule

__all__ = [
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


def _positive(value: float, name: str) -> float:
    v = checks.nonneg_float(value, name)
    if v == 0:
        raise InputError(f"{name} must be positive, got {value!r}")
    return v


def _flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name} must be True or False, got {value!r}")
    return bool(value)


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


def _parse_decay_mask(decay_mask) -> np.ndarray | None:
    """``None``, a boolean vector over theta, or its ``{"size", "runs"}`` config form."""
    if decay_mask is None:
        return None
    if isinstance(decay_mask, Mapping):
        return _mask_from_runs(decay_mask)
    mask = np.asarray(decay_mask)
    if mask.ndim != 1 or mask.dtype != np.bool_:
        raise InputError(
            f"decay_mask must be a 1-D boolean array over theta, got shape {mask.shape} "
            f"and dtype {mask.dtype}"
        )
    return mask.copy()


def _parse_layout(layout, name: str) -> Layout:
    """A :class:`steepest.params.Layout`, or its ``to_dict()`` list (from a config)."""
    if layout is None:
        raise InputError(
            f"optimizer {name!r} needs layout= (the model's steepest.params.Layout) to know the "
            "shapes of the tensors inside theta"
        )
    if isinstance(layout, Layout):
        return layout
    try:
        return Layout.from_dict(list(layout))
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InputError):
            raise
        raise InputError(f"layout must be a steepest.params.Layout or its to_dict() list, got "
                         f"{layout!r}") from None


def _option_to_json(value):
    """A constructor option as it is written in a config."""
    if isinstance(value, np.ndarray) and value.dtype == np.bool_:
        return _mask_to_runs(value)
    if isinstance(value, Layout):
        return value.to_dict()
    if isinstance(value, Optimizer):
        return value.config()
    if isinstance(value, tuple):
        return list(value)
    return value


def _decay(theta, wd: float, mask, out) -> np.ndarray:
    """``out = wd * theta`` (zero where ``mask`` is False), for decoupled or L2 weight decay."""
    np.multiply(theta, wd, out=out)
    if mask is not None:
        out *= mask
    return out


# ------------------------------------------------------------------ the protocol
def _adaptive_step(g, cache, lr, eps, out):
    """``out = -lr g / (sqrt(cache) + eps)``, the step of Adagrad and RMSProp, in place."""
    np.sqrt(cache, out=out)
    out += eps
    np.divide(g, out, out=out)
    out *= -lr
    return out


# Kinds of state array besides the theta-sized vectors (spec value None) and the fixed-length
# vectors in theta's dtype (spec value: a shape tuple).
F64 = "f64"  # a 0-d float64 scalar (running products, sums)
I64 = "i64"  # a 0-d int64 counter (a wrapped rule's step)

# torch.nn.utils.clip_grad_norm_ divides by (norm + 1e-6); so do we, for the same numbers.
_CLIP_NORM_EPS = 1e-6


class Optimizer:
    """Base class of the update rules; subclasses define ``_apply`` and their state arrays.

    ``_apply(g, state, theta, t, work)`` updates the arrays of ``state`` in place, may use the
    scratch vectors ``work``, and returns the array holding ``delta`` (a slot or a scratch
    vector). ``t`` is the step counter before the update. The state arrays are the theta-sized
    ``slots`` unless :meth:`_state_spec` says otherwise.

    Every rule takes ``clip_norm=`` and ``clip_value=`` (numbers or schedules, off by default):
    the gradient is first clipped element-wise to ``[-clip_value, clip_value]``, then scaled by
    ``min(1, clip_norm / (||g||_2 + 1e-6))`` with the norm over the whole vector (torch's
    ``clip_grad_value_`` and ``clip_grad_norm_``). The caller's gradient is never modified.
    """

    name: ClassVar[str] = ""
    slots: ClassVar[tuple[str, ...]] = ()  # theta-sized state vectors besides "step"
    n_work: ClassVar[int] = 1  # scratch vectors the update needs
    needs_closure: ClassVar[bool] = False  # True: step(theta, grad, state, closure)
    needs_layout: ClassVar[bool] = False  # True: the constructor needs layout=

    def __init__(self, *, clip_norm=None, clip_value=None, **hyper):
        # raw values: floats, schedules or None, in the order of the constructor's signature
        self._hyperparams: dict[str, float | Callable | None] = dict(hyper)
        for key, value in (("clip_norm", clip_norm), ("clip_value", clip_value)):
            if value is not None:
                self._hyperparams[key] = _number_or_schedule(value, key, _positive)
        self._scratch: list[np.ndarray] = []
        self._clip_buf: np.ndarray | None = None
        self._spec_cache: dict | None = None

    # --------------------------------------------------------- hyperparameters
    def _value(self, name: str, t: int) -> float:
        h = self._hyperparams[name]
        if isinstance(h, float) or h is None:
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
        return {k: _option_to_json(v) for k, v in self._options().items()}

    def replace(self, **changes) -> Optimizer:
        """A new optimizer of the same kind with some hyperparameters changed."""
        kwargs = {**self._hyperparams, **self._options()}
        params = inspect.signature(type(self).__init__).parameters
        allowed = [p for p, v in params.items() if p != "self" and v.kind != v.VAR_KEYWORD]
        unknown = sorted(set(changes) - set(kwargs) - set(allowed))
        if unknown:
            raise InputError(
                f"unknown hyperparameter(s) {', '.join(unknown)} for {self.name!r}; "
                f"allowed: {', '.join(allowed)}"
            )
        kwargs.update(changes)
        return type(self)(**kwargs)

    def config(self) -> dict:
        """``{"name": ..., <hyperparameters>}``; schedules become dicts. JSON-able."""
        d: dict = {"name": self.name}
        for k, h in self._hyperparams.items():
            if isinstance(h, float) or h is None:
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

    # --------------------------------------------------------- stateful schedules
    def _stateful_schedules(self) -> dict[str, Schedule]:
        """``"sched.<hyperparameter>" -> schedule`` for every schedule that keeps state."""
        return {f"sched.{k}": h for k, h in self._hyperparams.items()
                if isinstance(h, Schedule) and h.stateful}

    def observe(self, metric: float) -> None:
        """Show ``metric`` (e.g. the validation metric, once per epoch) to every stateful
        schedule among the hyperparameters (``reduce_on_plateau``); a no-op without one."""
        seen: set[int] = set()
        for sched in self._stateful_schedules().values():
            if id(sched) not in seen:  # one schedule may drive two hyperparameters
                seen.add(id(sched))
                sched.observe(metric)

    def _schedule_arrays(self) -> dict[str, np.ndarray]:
        return {f"{prefix}.{k}": v for prefix, sched in self._stateful_schedules().items()
                for k, v in sched.state_arrays().items()}

    def _load_schedule_arrays(self, arrays: Mapping) -> None:
        """Restore the schedules' state from the ``sched.*`` entries of ``arrays``."""
        for prefix, sched in self._stateful_schedules().items():
            names = {f"{prefix}.{n}": n for n in sched.state_names()}
            missing = [k for k in names if k not in arrays]
            if missing:
                raise InputError(f"a {self.name!r} state needs the schedule arrays "
                                 f"{', '.join(names)}; missing: {', '.join(missing)}")
            sched.load_state_arrays({n: arrays[k] for k, n in names.items()})

    # --------------------------------------------------------- state
    def _state_spec(self) -> dict[str, object]:
        """Every state array besides "step": ``name -> None`` (a theta-sized vector), a shape
        tuple (a vector of that length in theta's dtype), :data:`F64` or :data:`I64` (0-d)."""
        return {k: None for k in self.slots}

    def _spec(self) -> dict[str, object]:
        if self._spec_cache is None:
            self._spec_cache = self._state_spec()
        return self._spec_cache

    def init(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """A fresh state for ``theta`` (zero slots in its dtype, ``step = 0``).

        A fresh state starts a run: it also resets the stateful schedules (see :meth:`observe`).
        """
        theta = _as_theta(np.asarray(theta))
        self._check_theta(theta)
        state = {"step": np.zeros((), dtype=np.int64)}
        for k, kind in self._spec().items():
            if kind is None:
                state[k] = np.zeros_like(theta)
            elif kind == F64:
                state[k] = np.zeros((), dtype=np.float64)
            elif kind == I64:
                state[k] = np.zeros((), dtype=np.int64)
            else:
                state[k] = np.zeros(kind, dtype=theta.dtype)
        self._init_state(theta, state)
        for sched in self._stateful_schedules().values():
            sched.reset()
        return state

    def _init_state(self, theta: np.ndarray, state: dict) -> None:
        """Hook: set the state arrays that do not start at zero."""

    def _check_theta(self, theta: np.ndarray) -> None:
        """Refuse a theta that does not fit the rule's masks or layout."""
        mask = getattr(self, "decay_mask", None)
        if mask is not None and mask.shape != theta.shape:
            raise InputError(f"decay_mask has {mask.size} entries but theta has {theta.size}")

    @staticmethod
    def _grad_for(theta: np.ndarray, grad) -> np.ndarray:
        """``grad`` as an array of theta's shape and dtype (cast if needed, never copied else)."""
        if not isinstance(grad, np.ndarray):
            grad = np.asarray(grad)
        if grad.shape != theta.shape:
            raise InputError(f"grad has shape {grad.shape} but theta has shape {theta.shape}")
        if grad.dtype != theta.dtype:
            grad = grad.astype(theta.dtype)
        return grad

    def _check(self, theta, grad, state) -> tuple[np.ndarray, int]:
        """Cheap per-call checks; returns the gradient (in theta's dtype) and the step."""
        _as_theta(theta)
        grad = self._grad_for(theta, grad)
        if not isinstance(state, dict):
            raise InputError(f"state must be the dict made by {self.name}.init, got {state!r}")
        spec = self._spec()
        try:
            if len(state) != len(spec) + 1:
                raise KeyError("step")
            step = state["step"]
            for k, kind in spec.items():
                a = state[k]
                if kind == F64 or kind == I64:
                    continue
                shape = theta.shape if kind is None else kind
                if a.shape != shape or a.dtype != theta.dtype:
                    raise InputError(
                        f"state[{k!r}] has shape {a.shape} and dtype {a.dtype}, but it should "
                        f"have shape {shape} and theta's dtype {theta.dtype} (theta has shape "
                        f"{theta.shape})"
                    )
        except (KeyError, AttributeError):
            raise InputError(
                f"state is not a {self.name!r} state: expected arrays "
                f"{', '.join(('step', *spec))}, got keys {sorted(state)}"
            ) from None
        return grad, int(step)

    def state_to_arrays(self, state: Mapping) -> dict[str, np.ndarray]:
        """The state as a dict of arrays for ``np.savez(path, **arrays)`` (validated, no copy).

        Stateful schedules add their state as ``sched.<hyperparameter>.<field>`` arrays
        (copies), so a checkpoint restored by :meth:`state_from_arrays` continues exactly.
        """
        out = self._validate_state(state, theta=None, copy=False)
        out.update(self._schedule_arrays())
        return out

    def state_from_arrays(self, arrays: Mapping, theta: np.ndarray | None = None) -> dict:
        """A state (fresh, writable copies) from saved arrays, e.g. ``np.load(path)``.

        Checks that exactly the keys of this rule are present, that ``step`` is a non-negative
        integer scalar and that the vectors are 1-D floating arrays of the expected lengths and
        one dtype (that of ``theta`` when it is given). The ``sched.*`` arrays are loaded into
        the stateful schedules (see :meth:`state_to_arrays`).
        """
        if not isinstance(arrays, Mapping):
            raise InputError(f"a {self.name!r} state must be a mapping of arrays, got {arrays!r}")
        if theta is not None:
            theta = _as_theta(np.asarray(theta))
        sched_keys = set(self._schedule_arrays())
        rest = {k: arrays[k] for k in arrays.keys() if k not in sched_keys}
        state = self._validate_state(rest, theta=theta, copy=True)
        self._load_schedule_arrays(arrays)
        return state

    def _validate_state(self, arrays: Mapping, theta, copy: bool) -> dict:
        if not isinstance(arrays, Mapping):
            raise InputError(f"a {self.name!r} state must be a mapping of arrays, got {arrays!r}")
        spec = self._spec()
        expected = ("step", *spec)
        keys = set(arrays.keys())
        missing = [k for k in expected if k not in keys]
        extra = sorted(keys - set(expected))
        if missing or extra:
            raise InputError(
                f"a {self.name!r} state needs exactly the arrays {', '.join(expected)}; "
                f"missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'}"
            )
        out = {"step": _counter(arrays["step"], "step")}
        ref_shape = theta.shape if theta is not None else None
        ref_dtype = theta.dtype if theta is not None else None
        for k, kind in spec.items():
            if kind == F64 or kind == I64:
                out[k] = _scalar_state(arrays[k], k, kind)
                continue
            a = np.asarray(arrays[k])
            if a.ndim != 1 or not np.issubdtype(a.dtype, np.floating):
                raise InputError(
                    f"state {k!r} must be a 1-D floating vector, got shape {a.shape}, "
                    f"dtype {a.dtype}"
                )
            if ref_dtype is None:
                ref_dtype = a.dtype
            if kind is None and ref_shape is None:
                ref_shape = a.shape
            want = ref_shape if kind is None else kind
            if a.shape != want or a.dtype != ref_dtype:
                raise InputError(
                    f"state {k!r} has shape {a.shape} and dtype {a.dtype}; expected shape "
                    f"{want} and dtype {ref_dtype}"
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

    def _clip(self, g: np.ndarray, t: int) -> np.ndarray:
        """``g`` clipped by value, then by global norm (a scratch copy; ``g`` is untouched)."""
        hp = self._hyperparams
        if "clip_value" not in hp and "clip_norm" not in hp:
            return g
        buf = self._clip_buf
        if buf is None or buf.shape != g.shape or buf.dtype != g.dtype:
            buf = self._clip_buf = np.empty_like(g)
        out = g
        if "clip_value" in hp:
            c = self._value("clip_value", t)
            out = np.clip(g, -c, c, out=buf)
        if "clip_norm" in hp:
            norm = math.sqrt(float(np.dot(out, out)))
            scale = self._value("clip_norm", t) / (norm + _CLIP_NORM_EPS)
            if scale < 1.0:
                out = np.multiply(out, scale, out=buf)
        return out

    def _prepare(self, theta, grad, state) -> tuple[np.ndarray, int]:
        grad, t = self._check(theta, grad, state)
        return self._clip(grad, t), t

    def update(self, theta: np.ndarray, grad, state: dict) -> tuple[np.ndarray, dict]:
        """``(delta, new_state)`` with ``state`` left untouched; the caller adds ``delta``.

        The arguments come in the order of :meth:`step` (parameters, gradient, state)."""
        grad, t = self._prepare(theta, grad, state)
        new = {k: v.copy() for k, v in state.items() if k != "step"}
        delta = self._apply(grad, new, theta, t, self._work(theta)).copy()
        new["step"] = np.array(t + 1, dtype=np.int64)
        return delta, new

    def step(self, theta: np.ndarray, grad, state: dict) -> dict:
        """Update ``theta`` and ``state`` in place; returns ``state`` (the same dict).

        After the first call no vector is allocated: the rule works in scratch vectors kept by
        the optimizer and in the state's own arrays (only ``state["step"]`` is a new 0-d array).
        """
        grad, t = self._prepare(theta, grad, state)
        delta = self._apply(grad, state, theta, t, self._work(theta))
        theta += delta
        state["step"] = np.array(t + 1, dtype=np.int64)
        return state

    def eval_params(self, theta: np.ndarray, state: dict) -> np.ndarray:
        """The parameters to evaluate (validate, test, save as the result) after a step.

        ``theta`` itself for every rule except the schedule-free ones, which take gradients at
        one point and return another (see :class:`steepest.optim.ScheduleFreeSGD`); the
        returned array must be treated as read-only.
        """
        return theta

    def _apply(self, g, s, theta, t, work):  # pragma: no cover - every rule overrides it
        raise NotImplementedError


def _counter(value, name: str) -> np.ndarray:
    step = np.asarray(value)
    if step.shape != () or step.dtype.kind not in "iu" or int(step) < 0:
        raise InputError(
            f"state {name!r} must be a non-negative integer scalar, got shape {step.shape}, "
            f"dtype {step.dtype}"
        )
    return np.array(int(step), dtype=np.int64)


def _scalar_state(value, name: str, kind: str) -> np.ndarray:
    if kind == I64:
        return _counter(value, name)
    a = np.asarray(value)
    if a.shape != () or a.dtype.kind != "f":
        raise InputError(f"state {name!r} must be a 0-d float, got shape {a.shape}, "
                         f"dtype {a.dtype}")
    return np.array(a, dtype=np.float64)


# ------------------------------------------------------------------ the rules
class SGD(Optimizer):
    """Gradient descent: ``delta = -lr g``.

    Full-batch gradient descent, mini-batch SGD and batch-size-1 ("online") SGD are all this
    rule; they differ only in which examples the caller averages ``g`` over.
    """

    name = "sgd"

    def __init__(self, lr, *, clip_norm=None, clip_value=None):
        super().__init__(lr=_number_or_schedule(lr, "lr", _rate),
                         clip_norm=clip_norm, clip_value=clip_value)

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

    def __init__(self, lr, mu=0.9, *, clip_norm=None, clip_value=None):
        super().__init__(lr=_number_or_schedule(lr, "lr", _rate),
                         mu=_number_or_schedule(mu, "mu", _fraction),
                         clip_norm=clip_norm, clip_value=clip_value)

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

    def __init__(self, lr, mu=0.9, *, clip_norm=None, clip_value=None):
        super().__init__(lr=_number_or_schedule(lr, "lr", _rate),
                         mu=_number_or_schedule(mu, "mu", _fraction),
                         clip_norm=clip_norm, clip_value=clip_value)

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

    def __init__(self, lr=1e-2, eps=1e-10, *, clip_norm=None, clip_value=None):
        super().__init__(lr=_number_or_schedule(lr, "lr", _rate),
                         eps=_number_or_schedule(eps, "eps", _rate),
                         clip_norm=clip_norm, clip_value=clip_value)

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

    def __init__(self, lr=1e-2, decay=0.99, eps=1e-8, *, clip_norm=None, clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            decay=_number_or_schedule(decay, "decay", _fraction),
            eps=_number_or_schedule(eps, "eps", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
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

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True, *,
                 clip_norm=None, clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            beta1=_number_or_schedule(beta1, "beta1", _fraction),
            beta2=_number_or_schedule(beta2, "beta2", _fraction),
            eps=_number_or_schedule(eps, "eps", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self.bias_correction = _flag(bias_correction, "bias_correction")

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
        *,
        clip_norm=None,
        clip_value=None,
    ):
        super().__init__(lr, beta1, beta2, eps, bias_correction, clip_norm=clip_norm,
                         clip_value=clip_value)
        self._hyperparams["weight_decay"] = _number_or_schedule(weight_decay, "weight_decay", _rate)
        self.decay_mask = _parse_decay_mask(decay_mask)

    def _options(self) -> dict:
        return {"decay_mask": self.decay_mask, "bias_correction": self.bias_correction}

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


def _registry() -> dict[str, type[Optimizer]]:
    from .registry import OPTIMIZERS

    return OPTIMIZERS


def make_optimizer(name: str, **hyper) -> Optimizer:
    """``OPTIMIZERS[name](**hyper)``, with errors naming unknown or missing hyperparameters.

    The wrappers (``sam``, ``lookahead``) take their inner rule as ``base=`` (a name, a config
    dict or an optimizer) and pass the hyperparameters they do not know to it.
    """
    registry = _registry()
    checks.choice(name, registry, "optimizer")
    cls = registry[name]
    params = inspect.signature(cls.__init__).parameters
    allowed = [p for p, v in params.items() if p != "self" and v.kind != v.VAR_KEYWORD]
    forwards = any(v.kind == v.VAR_KEYWORD for v in params.values())
    unknown = sorted(set(hyper) - set(allowed))
    if unknown and not forwards:
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


def __getattr__(name: str):
    # OPTIMIZERS lives in .registry, which imports the rule modules, which import this one
    if name == "OPTIMIZERS":
        return _registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
