"""Boundary checks shared by models, losses, data and the CLI.

Each check raises :class:`steepest.errors.InputError` with a message that names the offending
value and says what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .errors import InputError


def positive_int(value, name: str) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise InputError(f"{name} must be a positive integer (>= 1), got {value}")
    return int(value)


def seed(value, name: str = "seed") -> int:
    """A non-negative integer seed (not a bool, not a float)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise InputError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def float_dtype(value, name: str = "dtype") -> np.dtype:
    """float32 or float64 as a NumPy dtype (names, types and dtypes are accepted)."""
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InputError(f"{name} must be float32 or float64, got {value!r}")
    return dtype


def generator(value, name: str = "rng"):
    """``value`` if it is None or a ``numpy.random.Generator``."""
    if value is not None and not isinstance(value, np.random.Generator):
        raise InputError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)),"
                         f" got {value!r}")
    return value


def nonneg_float(value, name: str) -> float:
    """Return ``value`` as a float, or raise if it is negative, NaN or infinite."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a non-negative number, got {value!r}") from None
    if not np.isfinite(v) or v < 0:
        raise InputError(f"{name} must be a finite non-negative number, got {value!r}")
    return v


def probability(value, name: str, *, open_low: bool = True) -> float:
    """Return ``value`` as a float in (0, 1] (or [0, 1] when ``open_low`` is False)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number in (0, 1], got {value!r}") from None
    low_ok = v > 0 if open_low else v >= 0
    if not (low_ok and v <= 1):
        interval = "(0, 1]" if open_low else "[0, 1]"
        raise InputError(f"{name} must be in {interval}, got {value!r}")
    return v


def choice(value: str, allowed: Iterable[str], name: str) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise listing the allowed names."""
    allowed = list(allowed)
    if value not in allowed:
        raise InputError(f"unknown {name} {value!r}; allowed: {', '.join(map(str, allowed))}")
    return value


def all_finite(X: np.ndarray) -> bool:
    """Whether every entry of a floating array is finite.

    A finite sum proves it in one pass with no temporary (a NaN or an infinity makes the sum
    NaN or infinite), about 6x faster than ``np.isfinite(X).all()`` on a training set; a sum
    that is not finite (a non-finite entry, or finite entries whose sum overflows) falls back
    to the exact test.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum()):
            return True
    return bool(np.isfinite(X).all())


def features(X, name: str = "X", *, n_features: int | None = None) -> np.ndarray:
    """Check a 2-D finite feature matrix; return it as an ndarray (no copy when possible)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise InputError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise InputError(f"{name} has no rows (shape {X.shape})")
    if X.dtype.kind not in "iuf":
        raise InputError(f"{name} must hold real numbers (integer or float), got dtype "
                         f"{X.dtype}")
    if n_features is not None and X.shape[1] != n_features:
        raise InputError(
            f"{name} has {X.shape[1]} features per row but the model expects {n_features}"
        )
    if np.issubdtype(X.dtype, np.floating) and not all_finite(X):
        bad = int(np.size(X) - np.count_nonzero(np.isfinite(X)))
        raise InputError(f"{name} contains {bad} NaN or infinite value(s); inputs must be finite")
    return X


def labels(y, n_rows: int, n_classes: int, name: str = "y") -> np.ndarray:
    """Check integer class labels in [0, n_classes) with one label per row; return int64."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise InputError(f"{name} must be 1-D class labels, got shape {y.shape}")
    if y.shape[0] != n_rows:
        raise InputError(f"{name} has {y.shape[0]} labels but X has {n_rows} rows")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
            raise InputError(f"{name} must hold integer class labels, got non-integer values")
    elif y.dtype.kind not in "iu":
        raise InputError(f"{name} must hold integer class labels, got dtype {y.dtype}")
    y = y.astype(np.int64, copy=False)
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        bad = y[(y < 0) | (y >= n_classes)][0]
        raise InputError(f"{name} contains label {bad}; labels must be in [0, {n_classes})")
    return y


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def fits_in_memory(nbytes: float, what: str) -> None:
    """Refuse a request whose estimated memory exceeds what the machine has available."""
    free = available_memory()
    if free is not None and nbytes > free:
        raise InputError(f"{what} needs about {nbytes / 2**30:,.1f} GiB of memory; this machine "
                         f"has {free / 2**30:,.1f} GiB available")
