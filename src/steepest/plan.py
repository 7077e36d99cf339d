"""The arithmetic of a run, computed once: batch size, steps per epoch, total steps.

Everything that counts steps (the trainer, the batch iterator, the schedules built from an
epoch-based config, the plots) reads one :class:`RunPlan`, so they cannot disagree.

- Full-batch gradient descent uses every training row in each step: one step per epoch.
- Mini-batches without replacement: one permutation per epoch cut into ``ceil(n / B)`` batches
  (the last one smaller when ``B`` does not divide ``n``). A last batch of a single row is
  merged into the one before it (``B + 1`` rows): one row is a useless gradient estimate, and
  BatchNorm cannot normalize it, so the run would fail at the end of its first epoch.
- Mini-batches with replacement (the CS231n solver's sampling): ``ceil(n / B)`` batches of
  exactly ``B`` rows drawn uniformly, so an epoch is the same number of steps either way.
- ``iterations`` (total steps), when given, overrides ``epochs``; the last epoch may then be
  partial.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from . import _validate as checks
from .data import batch_indices
from .errors import InputError


@dataclass(frozen=True)
class RunPlan:
    """How many rows a step sees and how many steps a run takes."""

    n_train: int
    batch_size: int  # rows per step (n_train when full_batch)
    full_batch: bool
    replace: bool
    steps_per_epoch: int
    total_steps: int

    @classmethod
    def make(cls, n_train: int, batch_size: int, epochs: int = 1, iterations: int | None = None,
             *, full_batch: bool = False, replace: bool = False) -> RunPlan:
        n_train = checks.positive_int(n_train, "the number of training rows")
        batch = n_train if full_batch else min(checks.positive_int(batch_size, "batch_size"),
                                               n_train)
        steps_per_epoch = math.ceil(n_train / batch)
        if not (full_batch or replace) and n_train % batch == 1 and n_train > batch:
            steps_per_epoch -= 1  # the one-row remainder joins the last full batch
        if iterations is not None:
            total = checks.positive_int(iterations, "iterations")
        else:
            total = checks.positive_int(epochs, "epochs") * steps_per_epoch
        return cls(n_train, batch, bool(full_batch), bool(replace), steps_per_epoch, total)

    @property
    def total_epochs(self) -> int:
        """Epochs the run touches (the last may be partial when ``iterations`` is set)."""
        return math.ceil(self.total_steps / self.steps_per_epoch)

    def epoch_of(self, step: int) -> int:
        """The 1-based epoch that step ``step`` (1-based) belongs to."""
        return (step - 1) // self.steps_per_epoch + 1

    def steps(self, epochs: float, name: str = "a length in epochs") -> int:
        """``epochs`` (possibly fractional) as a whole number of steps, at least 1."""
        value = float(epochs)
        if not math.isfinite(value) or value <= 0:
            raise InputError(f"{name} must be a positive finite number of epochs, got {epochs!r}")
        return max(1, round(value * self.steps_per_epoch))

    def epoch_batches(self, rng: np.random.Generator) -> Iterator[np.ndarray]:
        """The row indices of the ``steps_per_epoch`` batches of one epoch."""
        if self.full_batch:
            return iter([np.arange(self.n_train)])
        batches = batch_indices(self.n_train, self.batch_size, rng, replace=self.replace)
        if not self.replace and self.n_train % self.batch_size == 1 \
                and self.n_train > self.batch_size:
            return _merge_last(batches)
        return batches

    def to_dict(self) -> dict:
        return {"n_train": self.n_train, "batch_size": self.batch_size,
                "full_batch": self.full_batch, "replace": self.replace,
                "steps_per_epoch": self.steps_per_epoch, "total_steps": self.total_steps,
                "total_epochs": self.total_epochs}


def _merge_last(batches: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """The batches with a one-row last batch appended to the one before it."""
    previous = None
    for batch in batches:
        if previous is not None:
            if batch.size == 1:
                yield np.concatenate([previous, batch])
                return
            yield previous
        previous = batch
    if previous is not None:
        yield previous
