"""Hyperparameter schedules: plain callables ``step -> value``.

``step`` counts optimizer iterations (mini-batch updates) from 0, never epochs; a training loop
that thinks in epochs converts with ``steps_per_epoch``. Every schedule is a small frozen
dataclass, so it is hashable, comparable and printable, and it round-trips through a plain dict::

    s = warmup(cosine(0.1, total_steps=10_000), steps=500)
    s(0), s(499), s(10_000)
    schedule_from_dict(s.to_dict()) == s

The kinds, with ``t`` the step:

===================================  ============================================================
``constant(v)``                      ``v``
``step_decay(v0, factor, every)``    ``v0 * factor ** (t // every)``
``exponential(v0, k)``               ``v0 * exp(-k t)``
``inverse_time(v0, k)``              ``v0 / (1 + k t)``
``cosine(v0, total_steps, final)``   ``final + (v0 - final) (1 + cos(pi t / total_steps)) / 2``
                                     for ``t < total_steps``, then ``final``
``ramp(start, end, steps)``          ``start + (end - start) min(t, steps) / steps``
``warmup(inner, steps, start)``      ``start + (inner(t) - start) (t + 1) / steps`` for
                                     ``t < steps``, then ``inner(t)``
``polynomial(v0, total_steps, p)``   ``v0 (1 - min(t, total_steps) / total_steps) ** p``
``cosine_restarts(v0, period)``      a cosine from ``v0`` to ``final``, restarted: cycle ``i``
                                     lasts ``period * mult ** i`` steps
``one_cycle(max_value, total)``      from ``max_value / div_factor`` up to ``max_value``, then
                                     down to ``max_value / div_factor / final_div_factor``
``reduce_on_plateau(v0, ...)``       ``v0``, multiplied by ``factor`` whenever the metric given
                                     to :meth:`Schedule.observe` stops improving (stateful)
===================================  ============================================================

Stateful schedules. ``reduce_on_plateau`` depends on the metrics it has been shown, not on the
step. Such a schedule keeps that state itself (it is still a frozen dataclass: the state is not a
field, so equality, hashing and ``to_dict`` see only the settings) and exposes it through
:meth:`Schedule.state_arrays` / :meth:`Schedule.load_state_arrays` (named 0-d arrays) and
:meth:`Schedule.reset`. An optimizer saves these arrays with its own state, named
``sched.<hyperparameter>.<field>`` (``sched.lr.best``), so a checkpoint resumes exactly;
:meth:`steepest.optim.Optimizer.observe` forwards a metric to every stateful schedule it uses.
Stateless schedules have no state arrays and ignore :meth:`Schedule.observe`.

``warmup`` does not shift its inner schedule: the inner schedule sees the same global step, so
``warmup(cosine(v0, T), W)`` still reaches ``final`` at step ``T``. The blend weight ``(t + 1) /
steps`` makes the very first step already use a small non-zero rate (``start`` is therefore
never used exactly unless ``inner(0) == start``) and makes step ``steps - 1`` use ``inner(t)``
exactly, so the hand-over is continuous whatever the inner schedule is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import ClassVar

import numpy as np

from .. import _validate as checks
from ..errors import InputError

__all__ = [
    "SCHEDULES",
    "Constant",
    "Cosine",
    "CosineRestarts",
    "Exponential",
    "InverseTime",
    "OneCycle",
    "Polynomial",
    "Ramp",
    "ReduceOnPlateau",
    "Schedule",
    "StepDecay",
    "Warmup",
    "as_schedule",
    "constant",
    "cosine",
    "cosine_restarts",
    "exponential",
    "inverse_time",
    "one_cycle",
    "one_cycle_momentum",
    "polynomial",
    "ramp",
    "reduce_on_plateau",
    "schedule_from_dict",
    "step_decay",
    "warmup",
]


def _check_step(step) -> int:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
        # 0-d integer arrays (an optimizer state's counter) are accepted too
        if isinstance(step, np.ndarray) and step.ndim == 0 and step.dtype.kind in "iu":
            step = int(step)
        else:
            raise InputError(f"a schedule step must be a non-negative integer, got {step!r}")
    if step < 0:
        raise InputError(f"a schedule step must be a non-negative integer, got {step}")
    return int(step)


@dataclass(frozen=True)
class Schedule:
    """Base class: ``schedule(step) -> float`` and ``to_dict()``."""

    kind: ClassVar[str] = ""

    def __call__(self, step: int) -> float:
        return self.value_at(_check_step(step))

    def value_at(self, t: int) -> float:  # pragma: no cover - every kind overrides it
        """The value at step ``t``, which the caller has checked (a non-negative int)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """``{"kind": ..., <fields>}``; nested schedules become nested dicts (JSON-able)."""
        d: dict = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            d[f.name] = value.to_dict() if isinstance(value, Schedule) else value
        return d

    # ----------------------------------------------------------- state (stateful kinds only)
    def state_names(self) -> tuple[str, ...]:
        """The names of the state arrays; empty for a schedule that depends on the step only."""
        return ()

    @property
    def stateful(self) -> bool:
        """True when the value depends on what :meth:`observe` was shown."""
        return bool(self.state_names())

    def state_arrays(self) -> dict[str, np.ndarray]:
        """The state as named 0-d arrays (copies), ready for ``np.savez``."""
        return {}

    def load_state_arrays(self, arrays: Mapping) -> None:
        """Restore the state from :meth:`state_arrays` output (exactly those names)."""
        _check_state_names(self, arrays)

    def observe(self, value: float) -> None:
        """Show the schedule a metric (once per epoch); step-driven schedules ignore it."""

    def reset(self) -> None:
        """Forget what :meth:`observe` was shown (a fresh run)."""


def _check_state_names(schedule: Schedule, arrays: Mapping) -> None:
    expected = set(schedule.state_names())
    if not isinstance(arrays, Mapping) or set(arrays) != expected:
        got = sorted(arrays) if isinstance(arrays, Mapping) else arrays
        raise InputError(
            f"a {schedule.kind!r} schedule state needs exactly the arrays "
            f"{', '.join(sorted(expected)) or '(none)'}, got {got!r}"
        )


def _scalar_array(arrays: Mapping, name: str, kind: str):
    """``arrays[name]`` as a Python float (``kind`` "f") or non-negative int (``kind`` "i")."""
    a = np.asarray(arrays[name])
    if a.shape != () or (a.dtype.kind not in ("iu" if kind == "i" else "f")):
        raise InputError(f"schedule state {name!r} must be a 0-d "
                         f"{'integer' if kind == 'i' else 'float'} array, got shape {a.shape}, "
                         f"dtype {a.dtype}")
    if kind == "i":
        if int(a) < 0:
            raise InputError(f"schedule state {name!r} must be non-negative, got {int(a)}")
        return int(a)
    return float(a)


@dataclass(frozen=True)
class Constant(Schedule):
    """The same value at every step."""

    value: float
    kind: ClassVar[str] = "constant"

    def __post_init__(self):
        object.__setattr__(self, "value", checks.nonneg_float(self.value, "constant value"))

    def value_at(self, t: int) -> float:
        return self.value


@dataclass(frozen=True)
class StepDecay(Schedule):
    """``v0 * factor ** (t // every)``: multiply by ``factor`` every ``every`` steps."""

    v0: float
    factor: float
    every: int
    kind: ClassVar[str] = "step_decay"

    def __post_init__(self):
        object.__setattr__(self, "v0", checks.nonneg_float(self.v0, "step_decay v0"))
        object.__setattr__(self, "factor", checks.probability(self.factor, "step_decay factor"))
        object.__setattr__(self, "every", checks.positive_int(self.every, "step_decay every"))

    def value_at(self, t: int) -> float:
        return self.v0 * self.factor ** (t // self.every)


@dataclass(frozen=True)
class Exponential(Schedule):
    """``v0 * exp(-k t)``."""

    v0: float
    k: float
    kind: ClassVar[str] = "exponential"

    def __post_init__(self):
        object.__setattr__(self, "v0", checks.nonneg_float(self.v0, "exponential v0"))
        object.__setattr__(self, "k", checks.nonneg_float(self.k, "exponential k"))

    def value_at(self, t: int) -> float:
        return self.v0 * math.exp(-self.k * t)


@dataclass(frozen=True)
class InverseTime(Schedule):
    """``v0 / (1 + k t)``."""

    v0: float
    k: float
    kind: ClassVar[str] = "inverse_time"

    def __post_init__(self):
        object.__setattr__(self, "v0", checks.nonneg_float(self.v0, "inverse_time v0"))
        object.__setattr__(self, "k", checks.nonneg_float(self.k, "inverse_time k"))

    def value_at(self, t: int) -> float:
        return self.v0 / (1.0 + self.k * t)


@dataclass(frozen=True)
class Cosine(Schedule):
    """Half a cosine from ``v0`` (step 0) to ``final`` (step ``total_steps``), then ``final``."""

    v0: float
    total_steps: int
    final: float = 0.0
    kind: ClassVar[str] = "cosine"

    def __post_init__(self):
        object.__setattr__(self, "v0", checks.nonneg_float(self.v0, "cosine v0"))
        object.__setattr__(
            self, "total_steps", checks.positive_int(self.total_steps, "cosine total_steps")
        )
        object.__setattr__(self, "final", checks.nonneg_float(self.final, "cosine final"))

    def value_at(self, t: int) -> float:
        if t >= self.total_steps:
            return self.final
        c = 0.5 * (1.0 + math.cos(math.pi * t / self.total_steps))
        return self.final + (self.v0 - self.final) * c


@dataclass(frozen=True)
class Ramp(Schedule):
    """Linear from ``start`` (step 0) to ``end`` (step ``steps``), then ``end``.

    Meant for momentum annealing (``ramp(0.5, 0.99, 1000)``); ``end < start`` ramps down.
    """

    start: float
    end: float
    steps: int
    kind: ClassVar[str] = "ramp"

    def __post_init__(self):
        object.__setattr__(self, "start", checks.nonneg_float(self.start, "ramp start"))
        object.__setattr__(self, "end", checks.nonneg_float(self.end, "ramp end"))
        object.__setattr__(self, "steps", checks.positive_int(self.steps, "ramp steps"))

    def value_at(self, t: int) -> float:
        if t >= self.steps:
            return self.end
        return self.start + (self.end - self.start) * (t / self.steps)


@dataclass(frozen=True)
class Warmup(Schedule):
    """Linear warm-up in front of any schedule ``inner`` (see the module docstring).

    For ``t < steps`` the value is ``start + (inner(t) - start) * (t + 1) / steps``; from step
    ``steps - 1`` on it is exactly ``inner(t)``. ``inner`` is evaluated at the global step.
    """

    inner: Schedule
    steps: int
    start: float = 0.0
    kind: ClassVar[str] = "warmup"

    def __post_init__(self):
        inner = as_schedule(self.inner, "warmup inner")
        if not isinstance(inner, Schedule):
            raise InputError(f"warmup inner must be a number or a schedule, got {self.inner!r}")
        object.__setattr__(self, "inner", inner)
        object.__setattr__(self, "steps", checks.positive_int(self.steps, "warmup steps"))
        object.__setattr__(self, "start", checks.nonneg_float(self.start, "warmup start"))

    def value_at(self, t: int) -> float:
        v = self.inner.value_at(t)
        if t >= self.steps:
            return v
        return self.start + (v - self.start) * ((t + 1) / self.steps)

    # a stateful inner schedule keeps its state; its arrays are named "inner.<field>"
    def state_names(self) -> tuple[str, ...]:
        return tuple(f"inner.{n}" for n in self.inner.state_names())

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {f"inner.{k}": v for k, v in self.inner.state_arrays().items()}

    def load_state_arrays(self, arrays: Mapping) -> None:
        _check_state_names(self, arrays)
        self.inner.load_state_arrays({k[len("inner."):]: v for k, v in arrays.items()})

    def observe(self, value: float) -> None:
        self.inner.observe(value)

    def reset(self) -> None:
        self.inner.reset()


@dataclass(frozen=True)
class Polynomial(Schedule):
    """``v0 (1 - min(t, total_steps) / total_steps) ** power``: zero from ``total_steps`` on.

    ``torch.optim.lr_scheduler.PolynomialLR(total_iters=total_steps, power=power)``; torch
    applies it as a running product of ratios, this closed form agrees to round-off.
    """

    v0: float
    total_steps: int
    power: float = 1.0
    kind: ClassVar[str] = "polynomial"

    def __post_init__(self):
        object.__setattr__(self, "v0", checks.nonneg_float(self.v0, "polynomial v0"))
        object.__setattr__(
            self, "total_steps", checks.positive_int(self.total_steps, "polynomial total_steps")
        )
        object.__setattr__(self, "power", checks.nonneg_float(self.power, "polynomial power"))

    def value_at(self, t: int) -> float:
        return self.v0 * (1.0 - min(t, self.total_steps) / self.total_steps) ** self.power


@dataclass(frozen=True)
class CosineRestarts(Schedule):
    """SGDR (Loshchilov & Hutter 2017): cosine cycles from ``v0`` to ``final``, restarted.

    Cycle ``i`` lasts ``period * mult ** i`` steps; with ``t_cur`` the steps since the last
    restart and ``t_i`` the current cycle's length the value is
    ``final + (v0 - final) (1 + cos(pi t_cur / t_i)) / 2``. This is
    ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0=period, T_mult=mult,
    eta_min=final)`` stepped once per optimizer step.
    """

    v0: float
    period: int
    mult: int = 1
    final: float = 0.0
    kind: ClassVar[str] = "cosine_restarts"

    def __post_init__(self):
        object.__setattr__(self, "v0", checks.nonneg_float(self.v0, "cosine_restarts v0"))
        object.__setattr__(
            self, "period", checks.positive_int(self.period, "cosine_restarts period")
        )
        object.__setattr__(self, "mult", checks.positive_int(self.mult, "cosine_restarts mult"))
        object.__setattr__(self, "final", checks.nonneg_float(self.final, "cosine_restarts final"))

    def value_at(self, t: int) -> float:
        t_i = self.period
        if self.mult == 1:
            t_cur = t % t_i
        else:
            t_cur = t
            while t_cur >= t_i:  # cycles grow geometrically: O(log t) iterations
                t_cur -= t_i
                t_i *= self.mult
        return self.final + (self.v0 - self.final) * (1 + math.cos(math.pi * t_cur / t_i)) / 2


_ANNEALS = ("cos", "linear")


@dataclass(frozen=True)
class OneCycle(Schedule):
    """The 1cycle policy (Smith & Topin 2019) in ``torch.optim.lr_scheduler.OneCycleLR``'s form.

    Two phases (the default): ``start -> peak`` over the first ``pct_start`` of
    ``total_steps``, then ``peak -> end``. Three phases (``three_phase=True``, the paper's form):
    ``start -> peak``, ``peak -> start`` (symmetric), then ``start -> end``. Each phase anneals
    by ``end + (start - end) (1 + cos(pi p)) / 2`` (``anneal="cos"``) or linearly, ``p`` the
    fraction of the phase done; phase boundaries are torch's (``pct_start * total_steps - 1``
    and, with three phases, ``2 pct_start total_steps - 2``), so the values agree exactly.
    Build it with :func:`one_cycle` (a rate) or :func:`one_cycle_momentum` (the momentum or
    Adam's beta1, cycled inversely). From step ``total_steps`` on it stays at ``end``, where
    torch raises; a phase of zero length, where torch divides by zero, ends at once.
    """

    start: float
    peak: float
    end: float
    total_steps: int
    pct_start: float = 0.3
    anneal: str = "cos"
    three_phase: bool = False
    kind: ClassVar[str] = "one_cycle"

    def __post_init__(self):
        for name in ("start", "peak", "end"):
            object.__setattr__(self, name, checks.nonneg_float(getattr(self, name),
                                                               f"one_cycle {name}"))
        object.__setattr__(
            self, "total_steps", checks.positive_int(self.total_steps, "one_cycle total_steps")
        )
        pct = checks.probability(self.pct_start, "one_cycle pct_start", open_low=False)
        object.__setattr__(self, "pct_start", pct)
        checks.choice(self.anneal, _ANNEALS, "one_cycle anneal")
        if not isinstance(self.three_phase, (bool, np.bool_)):
            raise InputError(f"one_cycle three_phase must be True or False, got "
                             f"{self.three_phase!r}")
        object.__setattr__(self, "three_phase", bool(self.three_phase))

    def _phases(self) -> list[tuple[float, float, float]]:
        """``(end_step, from, to)`` of each phase, as torch computes them."""
        n = self.total_steps
        first = float(self.pct_start * n) - 1
        if self.three_phase:
            return [(first, self.start, self.peak),
                    (float(2 * self.pct_start * n) - 2, self.peak, self.start),
                    (n - 1, self.start, self.end)]
        return [(first, self.start, self.peak), (n - 1, self.peak, self.end)]

    def value_at(self, t: int) -> float:
        if t >= self.total_steps:
            return self.end
        phases = self._phases()
        begin = 0.0
        for i, (end_step, a, b) in enumerate(phases):
            if t <= end_step or i == len(phases) - 1:
                span = end_step - begin
                pct = (t - begin) / span if span != 0 else 1.0
                if self.anneal == "cos":
                    return b + (a - b) / 2.0 * (math.cos(math.pi * pct) + 1)
                return (b - a) * pct + a
            begin = end_step
        raise AssertionError("unreachable")  # pragma: no cover


_MODES = ("min", "max")
_THRESHOLD_MODES = ("rel", "abs")


def _nonneg_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ReduceOnPlateau(Schedule):
    """``v0``, cut by ``factor`` when the metric stops improving (a stateful schedule).

    ``torch.optim.lr_scheduler.ReduceLROnPlateau``'s rule, one :meth:`observe` per epoch: a
    metric ``a`` improves on the best ``b`` when ``a < b (1 - threshold)`` (``mode="min"``,
    ``threshold_mode="rel"``), ``a > b (1 + threshold)`` (``"max"``), or ``a < b - threshold``
    / ``a > b + threshold`` (``"abs"``). After more than ``patience`` epochs without
    improvement the value becomes ``max(value * factor, min_value)`` (ignored when it would
    change by no more than ``eps``), then ``cooldown`` epochs pass during which bad epochs are
    not counted. ``min_value`` is torch's ``min_lr``. The value does not depend on the step.

    State arrays (0-d): ``value``, ``best``, ``num_bad_epochs``, ``cooldown_counter``,
    ``last_epoch`` (the number of metrics observed).
    """

    v0: float
    mode: str = "min"
    factor: float = 0.1
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_value: float = 0.0
    eps: float = 1e-8
    kind: ClassVar[str] = "reduce_on_plateau"

    _STATE: ClassVar[tuple[str, ...]] = (
        "value", "best", "num_bad_epochs", "cooldown_counter", "last_epoch"
    )

    def __post_init__(self):
        object.__setattr__(self, "v0", checks.nonneg_float(self.v0, "reduce_on_plateau v0"))
        checks.choice(self.mode, _MODES, "reduce_on_plateau mode")
        factor = checks.nonneg_float(self.factor, "reduce_on_plateau factor")
        if not 0 < factor < 1:
            raise InputError(f"reduce_on_plateau factor must be in (0, 1), got {self.factor!r}")
        object.__setattr__(self, "factor", factor)
        object.__setattr__(self, "patience",
                           _nonneg_int(self.patience, "reduce_on_plateau patience"))
        object.__setattr__(self, "threshold",
                           checks.nonneg_float(self.threshold, "reduce_on_plateau threshold"))
        checks.choice(self.threshold_mode, _THRESHOLD_MODES, "reduce_on_plateau threshold_mode")
        object.__setattr__(self, "cooldown",
                           _nonneg_int(self.cooldown, "reduce_on_plateau cooldown"))
        object.__setattr__(self, "min_value",
                           checks.nonneg_float(self.min_value, "reduce_on_plateau min_value"))
        object.__setattr__(self, "eps", checks.nonneg_float(self.eps, "reduce_on_plateau eps"))
        self.reset()

    def reset(self) -> None:
        worst = math.inf if self.mode == "min" else -math.inf
        object.__setattr__(self, "_state", {
            "value": self.v0, "best": worst, "num_bad_epochs": 0, "cooldown_counter": 0,
            "last_epoch": 0,
        })

    def value_at(self, t: int) -> float:
        return self._state["value"]

    def _improves(self, a: float, best: float) -> bool:
        if self.threshold_mode == "rel":
            if self.mode == "min":
                return a < best * (1.0 - self.threshold)
            return a > best * (self.threshold + 1.0)
        if self.mode == "min":
            return a < best - self.threshold
        return a > best + self.threshold

    def observe(self, value: float) -> None:
        try:
            current = float(value)
        except (TypeError, ValueError):
            raise InputError(f"a metric must be a number, got {value!r}") from None
        s = self._state
        s["last_epoch"] += 1
        if self._improves(current, s["best"]):
            s["best"], s["num_bad_epochs"] = current, 0
        else:
            s["num_bad_epochs"] += 1
        if s["cooldown_counter"] > 0:
            s["cooldown_counter"] -= 1
            s["num_bad_epochs"] = 0  # bad epochs in the cooldown do not count
        if s["num_bad_epochs"] > self.patience:
            old = s["value"]
            new = max(old * self.factor, self.min_value)
            if old - new > self.eps:
                s["value"] = new
            s["cooldown_counter"], s["num_bad_epochs"] = self.cooldown, 0

    def state_names(self) -> tuple[str, ...]:
        return self._STATE

    def state_arrays(self) -> dict[str, np.ndarray]:
        s = self._state
        out = {k: np.array(s[k], dtype=np.float64) for k in ("value", "best")}
        for k in ("num_bad_epochs", "cooldown_counter", "last_epoch"):
            out[k] = np.array(s[k], dtype=np.int64)
        return out

    def load_state_arrays(self, arrays: Mapping) -> None:
        _check_state_names(self, arrays)
        new = {k: _scalar_array(arrays, k, "f") for k in ("value", "best")}
        for k in ("num_bad_epochs", "cooldown_counter", "last_epoch"):
            new[k] = _scalar_array(arrays, k, "i")
        if not (math.isfinite(new["value"]) and new["value"] >= 0):
            raise InputError(f"schedule state 'value' must be finite and >= 0, got "
                             f"{new['value']}")
        object.__setattr__(self, "_state", new)


SCHEDULES: dict[str, type[Schedule]] = {
    cls.kind: cls
    for cls in (
        Constant, StepDecay, Exponential, InverseTime, Cosine, Ramp, Warmup, Polynomial,
        CosineRestarts, OneCycle, ReduceOnPlateau,
    )
}


# Lower-case constructors: the names used in configs and in the lecture-style prose.
def constant(value: float) -> Constant:
    """The same value at every step."""
    return Constant(value)


def step_decay(v0: float, factor: float, every: int) -> StepDecay:
    """``v0 * factor ** (t // every)`` with ``factor`` in (0, 1]."""
    return StepDecay(v0, factor, every)


def exponential(v0: float, k: float) -> Exponential:
    """``v0 * exp(-k t)`` with ``k >= 0``."""
    return Exponential(v0, k)


def inverse_time(v0: float, k: float) -> InverseTime:
    """``v0 / (1 + k t)`` with ``k >= 0``."""
    return InverseTime(v0, k)


def cosine(v0: float, total_steps: int, final: float = 0.0) -> Cosine:
    """Half a cosine from ``v0`` to ``final`` over ``total_steps`` steps, ``final`` after."""
    return Cosine(v0, total_steps, final)


def ramp(start: float, end: float, steps: int) -> Ramp:
    """Linear from ``start`` to ``end`` over ``steps`` steps, ``end`` after."""
    return Ramp(start, end, steps)


def warmup(inner, steps: int, start: float = 0.0) -> Warmup:
    """Linear warm-up over ``steps`` steps in front of ``inner`` (a schedule or a number)."""
    return Warmup(inner, steps, start)


def polynomial(v0: float, total_steps: int, power: float = 1.0) -> Polynomial:
    """``v0 (1 - min(t, total_steps) / total_steps) ** power`` (torch's ``PolynomialLR``)."""
    return Polynomial(v0, total_steps, power)


def cosine_restarts(v0: float, period: int, mult: int = 1, final: float = 0.0) -> CosineRestarts:
    """Cosine cycles from ``v0`` to ``final`` of ``period``, ``period * mult``, ... steps
    (torch's ``CosineAnnealingWarmRestarts(T_0=period, T_mult=mult, eta_min=final)``)."""
    return CosineRestarts(v0, period, mult, final)


def one_cycle(
    max_value: float,
    total_steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal: str = "cos",
    three_phase: bool = False,
) -> OneCycle:
    """The 1cycle rate of torch's ``OneCycleLR(max_lr=max_value, ...)``: from
    ``max_value / div_factor`` up to ``max_value``, then down to
    ``max_value / div_factor / final_div_factor``."""
    div = checks.nonneg_float(div_factor, "one_cycle div_factor")
    final_div = checks.nonneg_float(final_div_factor, "one_cycle final_div_factor")
    if div == 0 or final_div == 0:
        raise InputError(f"one_cycle div_factor and final_div_factor must be positive, got "
                         f"{div_factor!r} and {final_div_factor!r}")
    start = checks.nonneg_float(max_value, "one_cycle max_value") / div
    return OneCycle(start, max_value, start / final_div, total_steps, pct_start, anneal,
                    three_phase)


def one_cycle_momentum(
    total_steps: int,
    base: float = 0.85,
    max_value: float = 0.95,
    pct_start: float = 0.3,
    anneal: str = "cos",
    three_phase: bool = False,
) -> OneCycle:
    """The momentum (or beta1) that ``OneCycleLR(cycle_momentum=True)`` cycles inversely to the
    rate: ``max_value`` down to ``base`` at the rate's peak, then back to ``max_value``."""
    return OneCycle(max_value, base, max_value, total_steps, pct_start, anneal, three_phase)


def reduce_on_plateau(
    v0: float,
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_value: float = 0.0,
    eps: float = 1e-8,
) -> ReduceOnPlateau:
    """``v0``, multiplied by ``factor`` after ``patience`` epochs without improvement of the
    metric given to :meth:`Schedule.observe` (torch's ``ReduceLROnPlateau``)."""
    return ReduceOnPlateau(v0, mode, factor, patience, threshold, threshold_mode, cooldown,
                           min_value, eps)


def schedule_from_dict(d: Mapping) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_dict` output (nested dicts allowed)."""
    if not isinstance(d, Mapping):
        raise InputError(f"a schedule description must be a dict, got {d!r}")
    if "kind" not in d:
        raise InputError(f"a schedule description needs a 'kind' key, got keys {sorted(d)}")
    kind = checks.choice(d["kind"], SCHEDULES, "schedule kind")
    cls = SCHEDULES[kind]
    names = [f.name for f in fields(cls)]
    args = {k: v for k, v in d.items() if k != "kind"}
    unknown = sorted(set(args) - set(names))
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)} for schedule {kind!r}; "
            f"allowed: {', '.join(names)}"
        )
    required = [f.name for f in fields(cls) if f.default is MISSING]
    missing = [n for n in required if n not in args]
    if missing:
        raise InputError(f"schedule {kind!r} is missing field(s): {', '.join(missing)}")
    if kind == "warmup":
        args["inner"] = (
            schedule_from_dict(args["inner"])
            if isinstance(args["inner"], Mapping)
            else args["inner"]
        )
    return cls(**args)


def as_schedule(x, name: str = "value") -> Schedule | Callable[[int], float]:
    """A number becomes ``constant(x)``; a schedule passes through; a dict is parsed.

    Any other callable is passed through as well (it cannot be saved in a config, though).
    """
    if isinstance(x, Schedule):
        return x
    if isinstance(x, Mapping):
        return schedule_from_dict(x)
    if isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool):
        return Constant(checks.nonneg_float(x, name))
    if callable(x):
        return x
    raise InputError(f"{name} must be a number, a schedule or a schedule dict, got {x!r}")
