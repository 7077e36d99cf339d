"""The registry of update rules by name (``make_optimizer(name, **hyper)``, configs)."""

from __future__ import annotations

from .layerwise import Adafactor, Muon, Shampoo
from .modern import Adadelta, Adamax, Lion, NAdam, RAdam
from .rules import SGD, Adagrad, Adam, AdamW, Momentum, Nesterov, Optimizer, RMSProp
from .schedule_free import ScheduleFreeAdamW, ScheduleFreeSGD
from .wrappers import SAM, Lookahead

__all__ = ["OPTIMIZERS"]

OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls
    for cls in (
        SGD, Momentum, Nesterov, Adagrad, RMSProp, Adam, AdamW, NAdam, RAdam, Adamax, Adadelta,
        Adafactor, Lion, Muon, ScheduleFreeSGD, ScheduleFreeAdamW, SAM, Lookahead, Shampoo,
    )
}
