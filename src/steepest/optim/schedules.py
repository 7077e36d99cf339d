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
===================================  ============================================================

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
    "Exponential",
    "InverseTime",
    "Ramp",
    "Schedule",
    "StepDecay",
    "Warmup",
    "as_schedule",
    "constant",
    "cosine",
    "exponential",
    "inverse_time",
    "ramp",
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


SCHEDULES: dict[str, type[Schedule]] = {
    cls.kind: cls for cls in (Constant, StepDecay, Exponential, InverseTime, Cosine, Ramp, Warmup)
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
