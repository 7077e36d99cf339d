"""Weight initializers. Biases always start at zero, BatchNorm's gamma at one and beta at zero.

``fan_in`` is the number of inputs of a unit (the first dimension of ``W``):

- ``zeros``: every weight 0 (shows the symmetry problem: all hidden units stay identical)
- ``small``: ``0.01 * randn``
- ``xavier``: ``randn / sqrt(fan_in)`` (the "1/sqrt(n)" calibration)
- ``he``: ``randn * sqrt(2 / fan_in)`` (He et al. 2015, for ReLU networks)
"""

from __future__ import annotations

import numpy as np

from .._validate import choice

INITS = ("zeros", "small", "xavier", "he")


def init_weight(kind: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A float64 weight tensor of ``shape`` drawn by initializer ``kind``."""
    choice(kind, INITS, "initializer")
    if kind == "zeros":
        return np.zeros(shape)
    z = rng.standard_normal(shape)
    fan_in = shape[0]
    if kind == "small":
        return 0.01 * z
    if kind == "xavier":
        return z / np.sqrt(fan_in)
    return z * np.sqrt(2.0 / fan_in)
