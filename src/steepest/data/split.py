"""Deterministic train/validation splits and the mini-batch index iterator."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .._validate import positive_int, probability
from ..errors import InputError
from .synthetic import as_generator


def _val_count(n: int, val_fraction: float | None, val_size: int | None) -> int:
    if n < 2:
        raise InputError(f"need at least 2 rows to split, got {n}")
    if val_fraction is not None and val_size is not None:
        raise InputError("give either val_fraction or val_size, not both")
    if val_size is not None:
        k = positive_int(val_size, "val_size")
        if k >= n:
            raise InputError(f"val_size must be in [1, {n - 1}] for {n} rows, got {k}")
        return k
    frac = probability(0.1 if val_fraction is None else val_fraction, "val_fraction")
    if frac >= 1:
        raise InputError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    return int(min(max(round(frac * n), 1), n - 1))


def _stratified_counts(class_sizes: np.ndarray, k: int) -> np.ndarray:
    """Per-class validation counts summing to ``k``, proportional to the class sizes.

    Largest-remainder rounding: each class gets ``floor(k * n_c / n)``, and the remaining
    slots go to the classes with the largest fractional parts (ties to the lower class index).
    """
    n = int(class_sizes.sum())
    ideal = class_sizes * (k / n)
    counts = np.floor(ideal).astype(np.int64)
    short = k - int(counts.sum())
    if short > 0:
        order = np.lexsort((np.arange(len(ideal)), -(ideal - counts)))
        counts[order[:short]] += 1
    return counts


def split_indices(
    y: np.ndarray,
    val_fraction: float | None = None,
    *,
    val_size: int | None = None,
    seed: int | np.random.Generator = 0,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Return sorted ``(train_idx, val_idx)`` for labels ``y`` (see :func:`train_val_split`)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise InputError(f"y must be 1-D class labels, got shape {y.shape}")
    n = y.shape[0]
    k = _val_count(n, val_fraction, val_size)
    rng = as_generator(seed)
    if stratify:
        classes, inverse, sizes = np.unique(y, return_inverse=True, return_counts=True)
        counts = _stratified_counts(sizes, k)
        order = np.argsort(inverse.ravel(), kind="stable")
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        picks = [
            rng.permutation(order[s : s + size])[:c]
            for s, size, c in zip(starts, sizes, counts, strict=True)
        ]
        val = np.concatenate(picks)
    else:
        val = rng.permutation(n)[:k]
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def train_val_split(
    X: np.ndarray,
    y: np.ndarray,
    val_fraction: float | None = None,
    *,
    val_size: int | None = None,
    seed: int | np.random.Generator = 0,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split rows into ``(X_train, X_val, y_train, y_val)``, deterministically for a seed.

    The validation set has ``val_size`` rows, or ``round(val_fraction * n)`` (default
    fraction 0.1), clipped to ``[1, n - 1]``. With ``stratify`` each class contributes in
    proportion to its size (largest-remainder rounding), the rows drawn at random within the
    class. Both parts keep the original row order. Returned arrays are copies.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if y.ndim != 1:
        raise InputError(f"y must be 1-D class labels, got shape {y.shape}")
    if X.ndim == 0 or X.shape[0] != y.shape[0]:
        raise InputError(
            f"X and y must have the same number of rows, got X {X.shape} and y {y.shape}"
        )
    train, val = split_indices(y, val_fraction, val_size=val_size, seed=seed, stratify=stratify)
    return X[train], X[val], y[train], y[val]


def batch_indices(
    n: int,
    batch_size: int,
    rng: np.random.Generator,
    *,
    replace: bool = False,
    drop_last: bool = False,
) -> Iterator[np.ndarray]:
    """Yield the index arrays of one epoch of mini-batches over ``n`` rows.

    Without replacement: one fresh permutation of ``range(n)`` cut into consecutive chunks of
    ``batch_size``, so every index appears exactly once (the last chunk is smaller unless
    ``drop_last``, which drops it). With ``replace``: ``ceil(n / batch_size)`` batches
    (``floor`` with ``drop_last``), each of ``batch_size`` indices drawn uniformly with
    replacement, as the CS231n solver samples. Randomness comes only from ``rng``.
    """
    n = positive_int(n, "n")
    batch_size = positive_int(batch_size, "batch_size")
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if drop_last and batch_size > n:
        raise InputError(
            f"batch_size {batch_size} exceeds the {n} rows, so drop_last would yield no batch"
        )
    n_batches = n // batch_size if drop_last else -(-n // batch_size)
    if replace:
        return _with_replacement(n, batch_size, n_batches, rng)
    return _permuted(n, batch_size, n_batches, rng)


def _with_replacement(
    n: int, batch_size: int, n_batches: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    for _ in range(n_batches):
        yield rng.integers(0, n, size=batch_size)


def _permuted(
    n: int, batch_size: int, n_batches: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    perm = rng.permutation(n)
    for b in range(n_batches):
        yield perm[b * batch_size : (b + 1) * batch_size]
