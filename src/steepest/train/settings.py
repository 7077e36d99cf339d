"""The trainer's settings: a plain, frozen dataclass (pydantic validates configs at the
boundary; :func:`steepest.build.train_settings` turns a run config into these)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .. import _validate as checks
from ..errors import InputError

MONITORED = ("val_acc", "val_loss")


@dataclass(frozen=True)
class TrainSettings:
    """How to train: length, batches, seed, precision, stopping and babysitting.

    - ``epochs`` or ``iterations`` (total steps, overriding epochs); ``batch_size`` rows per
      step, ``full_batch`` for gradient descent on all rows, ``replace`` to draw batches with
      replacement (see :class:`steepest.plan.RunPlan`);
    - ``seed`` draws every batch order and dropout mask; ``dtype`` float32 or float64;
    - ``patience`` epochs without improvement of ``monitor`` stop the run early, and
      ``restore_best`` returns the best epoch's weights;
    - ``divergence_factor``: the loss above this multiple of its first value stops the run;
    - ``eval_train_size`` training rows for the train accuracy and activation statistics,
      ``monitor_every`` steps between update-ratio measurements (at least one per epoch),
      ``keep_path_every`` steps between kept parameter vectors (for landscape paths);
    - ``track_sharpness``: every this many steps, the largest Hessian eigenvalue of the loss on
      the fixed training subset (see :class:`~steepest.train.callbacks.SharpnessTracker`).
    """

    epochs: int = 20
    iterations: int | None = None
    batch_size: int = 64
    full_batch: bool = False
    replace: bool = False
    seed: int = 0
    dtype: str = "float32"
    patience: int | None = None
    monitor: str = "val_acc"
    restore_best: bool = True
    eval_train_size: int = 1000
    divergence_factor: float = 10.0
    monitor_every: int = 50
    keep_path_every: int | None = None
    track_sharpness: int | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_train_size", "monitor_every"):
            checks.positive_int(getattr(self, name), name)
        for name in ("iterations", "patience", "keep_path_every", "track_sharpness"):
            if getattr(self, name) is not None:
                checks.positive_int(getattr(self, name), name)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int | np.integer) \
                or self.seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {self.seed!r}")
        checks.choice(self.dtype, ("float32", "float64"), "dtype")
        checks.choice(self.monitor, MONITORED, "monitored metric")
        factor = float(self.divergence_factor)
        if not factor > 1 or factor != factor:
            raise InputError(f"divergence_factor must be a number above 1, got "
                             f"{self.divergence_factor!r}")

    @classmethod
    def from_mapping(cls, values) -> TrainSettings:
        """Settings from any mapping with (a subset of) these field names."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in dict(values).items() if k in names})
