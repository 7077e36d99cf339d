"""Optimization: update rules over the flat vector, schedules, L-BFGS, zeroth-order baselines,
and step-size tools.

::

    from steepest.optim import Adam, cosine, warmup
    opt = Adam(lr=warmup(cosine(1e-3, total_steps=5000), steps=200))
    state = opt.init(theta)
    for X, y in batches:
        loss, grad = model.loss_and_grad(theta, X, y, rng=rng)
        state = opt.step(theta, grad, state)   # in place
        # or, leaving state untouched: delta, state = opt.update(theta, grad, state)
"""

from .lbfgs import LBFGSResult, lbfgs
from .rules import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Momentum,
    Nesterov,
    Optimizer,
    RMSProp,
    make_optimizer,
    optimizer_from_config,
)
from .schedules import (
    SCHEDULES,
    Schedule,
    as_schedule,
    constant,
    cosine,
    exponential,
    inverse_time,
    ramp,
    schedule_from_dict,
    step_decay,
    warmup,
)
from .sweep import LRRangeResult, StepSizeSweep, lr_range_test, step_size_sweep
from .zeroth import RandomSearchResult, random_local_search, random_search

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "LBFGSResult",
    "LRRangeResult",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "Schedule",
    "RandomSearchResult",
    "StepSizeSweep",
    "as_schedule",
    "constant",
    "cosine",
    "exponential",
    "inverse_time",
    "lbfgs",
    "lr_range_test",
    "make_optimizer",
    "optimizer_from_config",
    "ramp",
    "random_local_search",
    "random_search",
    "schedule_from_dict",
    "step_decay",
    "step_size_sweep",
    "warmup",
]
