"""One training run of a rule at one setting on one problem, and what each rule is tuned on.

:func:`run_setting` is the benchmark's loop. It draws its batches from a
:class:`~steepest.plan.RunPlan` exactly as the :class:`~steepest.train.Trainer` does (one
generator seeded by the seed draws batch orders and dropout masks; the seed also makes the
initial parameters), but keeps only what a fair comparison needs: after every step (or every
``eval_every`` steps) it measures the problem's metric at the optimizer's evaluation point
(``opt.eval_params``: the average of a schedule-free rule) and records the first step that
meets the target, and its clock counts only the steps (gradients and updates), never these
measurements. A loss that is not finite or exceeds 100 times its first value ends the run
(diverged), as the trainer's divergence guard does (with a larger factor: a 2-D function may
climb a while before it falls).

Search spaces (:func:`search_space`): the learning rate, log-uniform over a range per rule
(:data:`LR_RANGES`, three and a half to five decades around the rule's usual rates, wide
enough for every problem of the suite); with ``tune_momentum`` also the rule's momentum-like
coefficient (``mu``, ``momentum`` or ``beta1``), as ``1 - coefficient`` log-uniform in
[0.001, 0.5]. Rules without such a coefficient (``sgd``) get the same number of trials on the
rate alone.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass, field

import numpy as np

from .. import _validate as checks
from ..contract import evaluate, fast_kwargs, preserved_buffers
from ..results import Result
from .problems import Instance, Problem

DIVERGENCE_FACTOR = 100.0
CURVE_POINTS = 200  # at most this many points of a run's curve are kept

LR_RANGES = {
    "sgd": (1e-4, 3.0), "momentum": (1e-5, 1.0), "nesterov": (1e-5, 1.0),
    "sgd_schedule_free": (1e-3, 30.0), "adagrad": (1e-4, 10.0), "adadelta": (1e-2, 30.0),
    "lion": (1e-6, 1e-1), "shampoo": (1e-4, 3.0), "muon": (1e-4, 1.0),
}
DEFAULT_LR_RANGE = (1e-5, 1.0)  # the Adam family, RMSProp, Adafactor and the rest
MOMENTUM_RANGE = (1e-3, 0.5)  # of 1 - coefficient
_COEFFICIENTS = ("mu", "momentum", "beta1")


def _rule_class(rule: str):
    from ..optim import OPTIMIZERS

    checks.choice(rule, OPTIMIZERS, "optimizer")
    return OPTIMIZERS[rule]


def momentum_parameter(rule: str) -> str | None:
    """The rule's momentum-like coefficient (``mu``, ``momentum`` or ``beta1``), or None."""
    params = inspect.signature(_rule_class(rule).__init__).parameters
    return next((p for p in _COEFFICIENTS if p in params), None)


def search_space(rule: str, tune_momentum: bool = False) -> dict[str, tuple[float, float]]:
    """``{name: (low, high)}``, every range log-uniform: ``lr``, and with ``tune_momentum``
    ``1-<coefficient>`` for rules that have one (see the module docstring)."""
    space = {"lr": LR_RANGES.get(rule, DEFAULT_LR_RANGE)}
    coefficient = momentum_parameter(rule) if tune_momentum else None
    if coefficient is not None:
        space[f"1-{coefficient}"] = MOMENTUM_RANGE
    return space


def hyperparameters(sampled: dict) -> dict:
    """The rule's keyword arguments from sampled values (``1-mu`` becomes ``mu``)."""
    return {(k[2:] if k.startswith("1-") else k): (1.0 - v if k.startswith("1-") else v)
            for k, v in sampled.items()}


def make_rule(rule: str, hyper: dict, layout):
    """The optimizer ``rule`` with ``hyper``; rules that need the layout get it, and decoupled
    weight decay spares biases and normalization parameters (as ``steepest train`` does)."""
    from ..optim import make_optimizer

    cls = _rule_class(rule)
    params = inspect.signature(cls.__init__).parameters
    extra = {}
    if "decay_mask" in params:
        extra["decay_mask"] = layout.mask(("weight",))
    if getattr(cls, "needs_layout", False):
        extra["layout"] = layout
    return make_optimizer(rule, **hyper, **extra)


# ----------------------------------------------------------------------------- one run
@dataclass(frozen=True)
class RunRecord(Result):
    """One run: the first step (and training seconds) that met the target, or None; the
    metric and losses at the end; whether it diverged; its curve (step, metric)."""

    steps_to_target: int | None
    seconds_to_target: float | None
    final: float  # the problem's metric at the end (loss or validation accuracy)
    val_loss: float
    train_loss: float
    test_acc: float | None
    steps: int  # steps taken (fewer than the budget after a divergence)
    seconds: float  # training seconds of the whole run (measurements excluded)
    diverged: bool
    message: str = ""
    curve: tuple = field(default=(), repr=False)  # ((step, metric), ...), thinned

    _omit = ("curve",)

    @property
    def reached(self) -> bool:
        return self.steps_to_target is not None


class _Watch:
    """The metric at the evaluation point, the first step that met the target, the curve."""

    def __init__(self, problem: Problem, inst: Instance):
        self.problem, self.inst = problem, inst
        self.hit: tuple[int, float] | None = None
        self.curve: list[tuple[int, float]] = []
        self.spent = 0.0  # seconds spent measuring

    def measure(self, point) -> tuple[float, float]:
        """``(metric, loss)``: for test functions both the loss; else validation accuracy
        and loss."""
        inst = self.inst
        if not inst.has_data:
            loss = float(inst.objective.loss(point))
            return loss, loss
        with preserved_buffers(inst.objective):
            loss, acc = evaluate(inst.objective, point, inst.X_val, inst.y_val)
        return (float(acc) if self.problem.metric == "accuracy" else float(loss)), float(loss)

    def check(self, step: int, point, seconds: float) -> None:
        started = time.perf_counter()
        metric = self.measure(point)[0]
        self.curve.append((step, metric))
        if self.hit is None and self.problem.reached(metric):
            self.hit = (step, seconds)
        self.spent += time.perf_counter() - started


def _thin(curve: list) -> tuple:
    if len(curve) <= CURVE_POINTS:
        return tuple(curve)
    keep = np.unique(np.linspace(0, len(curve) - 1, CURVE_POINTS).round().astype(int))
    return tuple(curve[i] for i in keep)


def _batches(plan, rng, inst: Instance):
    """``(X, y)`` of every step of the plan (``(None, None)`` for a test function)."""
    while True:
        if not inst.has_data:
            yield None, None
            continue
        for idx in plan.epoch_batches(rng):
            if plan.full_batch:
                yield inst.X_train, inst.y_train
            else:
                yield inst.X_train[idx], inst.y_train[idx]


def _closure(obj, Xb, yb, rng_state):
    """SAM's second gradient: same batch, same dropout masks, running statistics kept."""

    def closure(point):
        rng = np.random.default_rng()
        rng.bit_generator.state = rng_state
        with preserved_buffers(obj):
            return obj.loss_and_grad(point, Xb, yb, train=True, rng=rng)

    return closure


def _finish(problem, inst, watch, opt, theta, state, step, seconds, diverged, message):
    point = opt.eval_params(theta, state)
    final, val_loss = watch.measure(point) if np.all(np.isfinite(point)) else (math.nan,) * 2
    train_loss, test_acc = val_loss, None
    if inst.has_data and np.all(np.isfinite(point)):
        with preserved_buffers(inst.objective):
            train_loss = float(evaluate(inst.objective, point, inst.X_fit, inst.y_fit)[0])
            test_acc = float(evaluate(inst.objective, point, inst.X_test, inst.y_test)[1])
    if not diverged and not math.isfinite(final):
        diverged, message = True, f"the {problem.metric} at the end is {final}"
    hit = watch.hit
    return RunRecord(
        steps_to_target=None if hit is None else int(hit[0]),
        seconds_to_target=None if hit is None else float(hit[1]), final=float(final),
        val_loss=float(val_loss), train_loss=float(train_loss), test_acc=test_acc, steps=step,
        seconds=seconds, diverged=diverged, message=message, curve=_thin(watch.curve))


def run_setting(problem: Problem, inst: Instance, rule: str, hyper: dict, seed: int = 0,
                steps: int | None = None) -> RunRecord:
    """Train ``rule`` with ``hyper`` on the built problem from ``init_params(seed)`` for
    ``steps`` steps (default: the problem's budget); see the module docstring."""
    from ..plan import RunPlan

    steps = checks.positive_int(problem.steps if steps is None else steps, "steps")
    obj, dtype = inst.objective, np.dtype(problem.dtype)
    opt = make_rule(rule, hyper, obj.layout)
    theta = obj.layout.check(obj.init_params(seed)).astype(dtype, copy=True)
    state = opt.init(theta)
    rng = np.random.default_rng(seed)
    n = len(inst.X_train) if inst.has_data else 1
    plan = RunPlan.make(n, problem.batch_size or n, iterations=steps,
                        full_batch=problem.batch_size is None)
    grad = np.empty_like(theta)
    extra = fast_kwargs(obj, out=grad, validate=False)
    watch, first = _Watch(problem, inst), None
    watch.check(0, opt.eval_params(theta, state), 0.0)
    watch.spent, diverged, message, step = 0.0, False, "", 0
    started = time.perf_counter()
    for Xb, yb in _batches(plan, rng, inst):
        if step >= steps:
            break
        rng_state = rng.bit_generator.state if opt.needs_closure else None
        loss, g = obj.loss_and_grad(theta, Xb, yb, train=True, rng=rng, **extra)
        first = loss if first is None else first
        if not (math.isfinite(loss) and loss <= DIVERGENCE_FACTOR * max(first, 1e-12)):
            diverged = True
            message = (f"the loss became {loss:.4g} at step {step + 1}, more than "
                       f"{DIVERGENCE_FACTOR:g}x its first value {first:.4g}")
            break
        if opt.needs_closure:
            state = opt.step(theta, g, state, _closure(obj, Xb, yb, rng_state))
        else:
            state = opt.step(theta, g, state)
        step += 1
        if step % problem.eval_every == 0 or step == steps:
            elapsed = time.perf_counter() - started - watch.spent
            watch.check(step, opt.eval_params(theta, state), elapsed)
    seconds = time.perf_counter() - started - watch.spent
    return _finish(problem, inst, watch, opt, theta, state, step, seconds, diverged, message)
