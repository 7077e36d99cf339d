"""Optimization: update rules over the flat parameter vector, schedules, L-BFGS, zeroth-order
baselines, and step-size tools.

::

    from steepest.optim import Adam, cosine, warmup
    opt = Adam(lr=warmup(cosine(1e-3, total_steps=5000), steps=200))
    state = opt.init(theta)
    for X, y in batches:
        loss, grad = model.loss_and_grad(theta, X, y, rng=rng)
        state = opt.step(theta, grad, state)   # in place
        # or, leaving state untouched: delta, state = opt.update(theta, grad, state)

Beyond that loop, three optional parts of the protocol (every rule has them):

- ``opt.needs_closure`` (SAM): call ``opt.step(theta, grad, state, closure)`` with
  ``closure(point) -> (loss, grad)`` on the same mini-batch;
- ``opt.eval_params(theta, state)``: the point to evaluate at (``theta`` except for the
  schedule-free rules, which return their average ``x``);
- ``opt.observe(metric)``: feeds a metric to stateful schedules (``reduce_on_plateau``), once
  per epoch; their state is saved with the optimizer state (``opt.state_to_arrays``).

Rules that need the tensor shapes (``opt.needs_layout``: Adafactor, Muon, Shampoo) take
``layout=model.layout``.
"""

from .layerwise import Adafactor, Muon, Shampoo, newton_schulz
from .lbfgs import LBFGSResult, lbfgs
from .modern import Adadelta, Adamax, Lion, NAdam, RAdam
from .registry import OPTIMIZERS
from .rules import (
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
from .schedule_free import ScheduleFreeAdamW, ScheduleFreeSGD
from .schedules import (
    SCHEDULES,
    Schedule,
    as_schedule,
    constant,
    cosine,
    cosine_restarts,
    exponential,
    inverse_time,
    one_cycle,
    one_cycle_momentum,
    polynomial,
    ramp,
    reduce_on_plateau,
    schedule_from_dict,
    step_decay,
    warmup,
)
from .sweep import LRRangeResult, StepSizeSweep, lr_range_test, step_size_sweep
from .wrappers import SAM, Lookahead
from .zeroth import RandomSearchResult, random_local_search, random_search

__all__ = [
    "OPTIMIZERS",
    "SAM",
    "SCHEDULES",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "Adamax",
    "LBFGSResult",
    "LRRangeResult",
    "Lion",
    "Lookahead",
    "Momentum",
    "Muon",
    "NAdam",
    "Nesterov",
    "Optimizer",
    "RAdam",
    "RMSProp",
    "RandomSearchResult",
    "Schedule",
    "ScheduleFreeAdamW",
    "ScheduleFreeSGD",
    "Shampoo",
    "StepSizeSweep",
    "as_schedule",
    "constant",
    "cosine",
    "cosine_restarts",
    "exponential",
    "inverse_time",
    "lbfgs",
    "lr_range_test",
    "make_optimizer",
    "newton_schulz",
    "one_cycle",
    "one_cycle_momentum",
    "optimizer_from_config",
    "polynomial",
    "ramp",
    "random_local_search",
    "random_search",
    "reduce_on_plateau",
    "schedule_from_dict",
    "step_decay",
    "step_size_sweep",
    "warmup",
]
