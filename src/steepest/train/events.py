"""What a training run reports while it runs: small, typed, immutable events.

The trainer hands them to an ``on_event`` callable (the CLI draws its progress bar from
them); callbacks see the same moments through their hooks (:mod:`steepest.train.callbacks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunStarted:
    """A run (new or resumed) is about to take its first step."""

    total_steps: int
    total_epochs: int
    steps_per_epoch: int
    epoch: int  # epochs already completed (non-zero when resuming)
    step: int


@dataclass(frozen=True)
class StepEnded:
    """One update was applied; ``loss`` is the mini-batch loss before it."""

    step: int
    epoch: int
    loss: float


@dataclass(frozen=True)
class EpochEnded:
    """An epoch finished; ``metrics`` is its row of ``metrics.csv``."""

    epoch: int
    step: int
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunEnded:
    """The run is over; ``result`` is its :class:`~steepest.train.loop.TrainResult`."""

    result: Any


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not an error (a stale lock taken over,
    temporary files of a killed run cleaned up)."""

    message: str
