"""Small synthetic classification problems, deterministic for a given seed."""

from __future__ import annotations

import numpy as np

from .._validate import nonneg_float, positive_int
from ..errors import InputError


def as_generator(seed: int | np.random.Generator, name: str = "seed") -> np.random.Generator:
    """Return ``seed`` if it is a Generator, else ``np.random.default_rng(seed)`` for an int."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(
            f"{name} must be a non-negative integer or a numpy.random.Generator, got {seed!r}"
        )
    return np.random.default_rng(int(seed))


def make_spiral(
    n_per_class: int = 100,
    n_classes: int = 3,
    noise: float = 0.2,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The CS231n spiral: ``n_classes`` interleaved arms in 2-D.

    For class ``j`` and ``i = 0..N-1`` (``N = n_per_class``)::

        r = i / (N - 1)                                       # radius 0..1
        t = 4 j + 4 r + noise * e,   e ~ N(0, 1)               # angle, linear in radius
        x = (r sin t, r cos t)

    Returns ``X`` (N*K, 2) float64 and ``y`` (N*K,) int64, rows grouped by class.
    """
    n = positive_int(n_per_class, "n_per_class")
    k = positive_int(n_classes, "n_classes")
    noise = nonneg_float(noise, "noise")
    rng = as_generator(seed)
    X = np.empty((n * k, 2), dtype=np.float64)
    y = np.repeat(np.arange(k, dtype=np.int64), n)
    r = np.linspace(0.0, 1.0, n)
    for j in range(k):
        t = np.linspace(4.0 * j, 4.0 * (j + 1), n) + noise * rng.standard_normal(n)
        X[j * n : (j + 1) * n, 0] = r * np.sin(t)
        X[j * n : (j + 1) * n, 1] = r * np.cos(t)
    return X, y


def make_blobs(
    n_per_class: int = 100,
    n_classes: int = 3,
    n_features: int = 2,
    std: float = 1.0,
    box: float = 10.0,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic Gaussian blobs.

    Centers ``c_j ~ Uniform[-box, box]^D`` (drawn first), then for each point of class ``j``
    ``x = c_j + std * e`` with ``e ~ N(0, I_D)``. Returns ``X`` (N*K, D) float64 and ``y``
    (N*K,) int64, rows grouped by class.
    """
    n = positive_int(n_per_class, "n_per_class")
    k = positive_int(n_classes, "n_classes")
    d = positive_int(n_features, "n_features")
    std = nonneg_float(std, "std")
    box = nonneg_float(box, "box")
    rng = as_generator(seed)
    centers = rng.uniform(-box, box, size=(k, d))
    y = np.repeat(np.arange(k, dtype=np.int64), n)
    X = centers[y] + std * rng.standard_normal((n * k, d))
    return X, y
