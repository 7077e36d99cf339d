"""Training: the loop, its callbacks (babysitting monitors, checkpoints, exact resume), events."""

from .callbacks import (
    BestTracker,
    Callback,
    Checkpointer,
    DivergenceGuard,
    EventForwarder,
    Monitors,
    PathKeeper,
    RunFiles,
    SharpnessTracker,
    Validation,
    default_callbacks,
)
from .events import EpochEnded, Notice, RunEnded, RunStarted, StepEnded
from .loop import Trainer, TrainResult
from .monitors import activation_stats, evaluate, update_ratios
from .settings import TrainSettings
from .state import Batch, RunState

__all__ = [
    "Batch", "BestTracker", "Callback", "Checkpointer", "DivergenceGuard", "EpochEnded",
    "EventForwarder", "Monitors", "Notice", "PathKeeper", "RunEnded", "RunFiles", "RunStarted",
    "RunState", "SharpnessTracker", "StepEnded", "TrainResult", "TrainSettings", "Trainer",
    "Validation", "activation_stats", "default_callbacks", "evaluate", "update_ratios",
]
