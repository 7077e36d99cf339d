"""Training: the loop, babysitting monitors, checkpoints and exact resume."""

from .loop import Trainer, TrainResult
from .monitors import activation_stats, evaluate, update_ratios

__all__ = ["TrainResult", "Trainer", "activation_stats", "evaluate", "update_ratios"]
