"""The flat parameter vector and its named layout.

Every trainable number of a model lives in ONE contiguous 1-D array ``theta``. A :class:`Layout`
maps each named tensor (``"fc1.W"``, ``"fc1.b"``, ``"bn1.gamma"``) to its slice of ``theta``, its
shape and its role (``"weight"``, ``"bias"`` or ``"norm"``). Per-tensor arrays are views, so
``W -= lr * dW`` on a view updates ``theta`` and perturbing the whole model is one axpy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from math import prod

import numpy as np

from .errors import InputError

ROLES = ("weight", "bias", "norm")


def check_theta(theta, *, size: int | None = None, what: str = "theta",
                finite: bool = False) -> np.ndarray:
    """``theta`` as an ndarray if it is a 1-D real floating vector (of ``size`` entries).

    ``finite=True`` also refuses NaN and infinities. No copy is made.
    """
    arr = np.asarray(theta)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise InputError(f"{what} must be a non-empty 1-D parameter vector, got shape {arr.shape}")
    if size is not None and arr.shape[0] != size:
        raise InputError(f"{what} must be a 1-D vector of {size} parameters, got shape "
                         f"{arr.shape}")
    if arr.dtype.kind != "f":
        raise InputError(f"{what} must be floating point (float32 or float64), got dtype "
                         f"{arr.dtype}")
    if finite and not np.isfinite(arr).all():
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise InputError(f"{what} contains {bad} NaN or infinite value(s); it must be finite")
    return arr


@dataclass(frozen=True)
class ParamSpec:
    """One named tensor inside the flat vector: ``theta[start:stop].reshape(shape)``.

    ``unit_axis`` is the axis of a weight tensor that indexes its units (filters, output
    channels): steepest's Linear stores ``W`` as (in, out), so axis 1 (the last, the default);
    PyTorch stores (out, in, ...), so axis 0. Filter normalization rescales along it.
    """

    name: str
    shape: tuple[int, ...]
    start: int
    stop: int
    role: str
    unit_axis: int = -1

    @property
    def filter_axis(self) -> int:
        """``unit_axis`` as a non-negative axis of ``shape``."""
        return self.unit_axis % len(self.shape) if self.shape else 0

    @property
    def size(self) -> int:
        return self.stop - self.start

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)


class Layout:
    """Ordered, named description of a flat vector.

    ``Layout([("fc1.W", (784, 256), "weight"), ("fc1.b", (256,), "bias")])`` lays the tensors
    out back to back in the given order. An entry may carry a fourth element, the
    ``unit_axis`` of a weight tensor (see :class:`ParamSpec`; the last axis by default).
    """

    def __init__(self, entries: Iterable[tuple]):
        specs: list[ParamSpec] = []
        offset = 0
        seen: set[str] = set()
        for entry in entries:
            name, shape, role, *rest = entry
            unit_axis = int(rest[0]) if rest else -1
            if name in seen:
                raise InputError(f"duplicate tensor name {name!r} in layout")
            if role not in ROLES:
                raise InputError(f"unknown role {role!r} for {name!r}; allowed: {', '.join(ROLES)}")
            shape = tuple(int(s) for s in shape)
            if any(s < 1 for s in shape):
                raise InputError(f"tensor {name!r} has a non-positive dimension in shape {shape}")
            if shape and not -len(shape) <= unit_axis < len(shape):
                raise InputError(f"tensor {name!r} of shape {shape} has no axis {unit_axis}")
            n = prod(shape)
            specs.append(ParamSpec(name, shape, offset, offset + n, role, unit_axis))
            seen.add(name)
            offset += n
        self.specs: tuple[ParamSpec, ...] = tuple(specs)
        self.size: int = offset
        self._by_name = {s.name: s for s in specs}

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self) -> Iterator[ParamSpec]:
        return iter(self.specs)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> ParamSpec:
        try:
            return self._by_name[name]
        except KeyError:
            raise InputError(
                f"no tensor named {name!r}; the layout has: {', '.join(self.names)}"
            ) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Layout) and self.specs == other.specs

    def __repr__(self) -> str:
        inner = ", ".join(f"{s.name}{list(s.shape)}" for s in self.specs)
        return f"Layout({inner}; size={self.size})"

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]

    def check(self, theta: np.ndarray, what: str = "theta") -> np.ndarray:
        """Raise unless ``theta`` is a 1-D floating array of exactly ``self.size`` entries."""
        return check_theta(theta, size=self.size, what=what)

    def view(self, theta: np.ndarray, name: str) -> np.ndarray:
        """The tensor ``name`` as a view into ``theta`` (writes go through)."""
        s = self[name]
        return theta[s.start : s.stop].reshape(s.shape)

    def views(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Every tensor as a view into ``theta``, by name."""
        return {s.name: theta[s.start : s.stop].reshape(s.shape) for s in self.specs}

    def flatten(self, tensors: dict[str, np.ndarray], dtype=np.float64) -> np.ndarray:
        """Pack named tensors (every name of the layout, shapes matching) into a new flat vector."""
        missing = [n for n in self.names if n not in tensors]
        if missing:
            raise InputError(f"missing tensors: {', '.join(missing)}")
        out = np.empty(self.size, dtype=dtype)
        for s in self.specs:
            t = np.asarray(tensors[s.name])
            if t.shape != s.shape:
                raise InputError(f"tensor {s.name!r} has shape {t.shape}, expected {s.shape}")
            out[s.start : s.stop] = t.reshape(-1)
        return out

    def select(self, roles: Iterable[str]) -> list[ParamSpec]:
        """The specs whose role is in ``roles``."""
        roles = set(roles)
        return [s for s in self.specs if s.role in roles]

    def mask(self, roles: Iterable[str]) -> np.ndarray:
        """Boolean vector over ``theta``: True where the entry belongs to one of ``roles``."""
        m = np.zeros(self.size, dtype=bool)
        for s in self.select(roles):
            m[s.start : s.stop] = True
        return m

    def to_dict(self) -> list[dict]:
        """A JSON-able description (names, shapes, roles), enough to rebuild the layout."""
        return [{"name": s.name, "shape": list(s.shape), "role": s.role,
                 **({} if s.unit_axis == -1 else {"unit_axis": s.unit_axis})}
                for s in self.specs]

    @classmethod
    def from_dict(cls, entries: list[dict]) -> Layout:
        return cls((e["name"], tuple(e["shape"]), e["role"], e.get("unit_axis", -1))
                   for e in entries)
