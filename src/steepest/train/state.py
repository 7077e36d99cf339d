"""The mutable state of a run: what the loop advances, callbacks read and checkpoints hold."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Batch:
    """One step's mini-batch result: ``loss`` and ``grad`` at the weights before the update."""

    step: int  # the step this batch belongs to (1-based)
    loss: float
    grad: np.ndarray


@dataclass
class RunState:
    """Everything a checkpoint must hold to continue exactly, and the run's outcome so far.

    ``status`` is "running" until something ends the run: "completed", "early_stopped",
    "diverged", or "stopped" (a callback asked for it); :meth:`stop` sets it with a message.
    """

    theta: np.ndarray
    opt_state: dict
    rng: np.random.Generator
    epoch: int = 0  # epochs completed
    step: int = 0
    losses: list = field(default_factory=list)  # the mini-batch loss of every step
    history: list = field(default_factory=list)  # one metrics row per epoch
    best_metric: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    first_loss: float | None = None
    seconds: float = 0.0
    path: list = field(default_factory=list)
    path_steps: list = field(default_factory=list)
    sharpness: list = field(default_factory=list)  # (step, lambda_max, stability bound) rows
    sharpness_vector: np.ndarray | None = None  # the last top eigenvector (a warm start)
    status: str = "running"
    message: str = ""
    epoch_losses: list = field(default_factory=list)  # this epoch's losses (not saved)
    restored_epoch: int | None = None  # the epoch whose weights the run returns, if restored

    @property
    def running(self) -> bool:
        return self.status == "running"

    def stop(self, status: str, message: str) -> None:
        """End the run after the current step (the first request wins)."""
        if self.running:
            self.status, self.message = status, message
