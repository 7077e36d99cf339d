"""The benchmark's problems: an objective, its data, a step budget and a documented target.

Each :class:`Problem` says how long one training run is (``steps``, or ``quick_steps`` in the
quick suite), how it draws its batches (``batch_size``; None is full-batch), how often the
target is checked (``eval_every`` steps) and what the target is:

- ``metric="loss"``: the loss at the optimizer's evaluation point must fall to ``target`` or
  below (the 2-D test functions, whose loss is exact and cheap: checked after every step);
- ``metric="accuracy"``: the validation accuracy at the evaluation point must reach
  ``target`` (the classifiers; checked every ``eval_every`` steps, so steps to the target are
  known to that resolution).

The same metric, at the end of the budget, is what the tuning maximizes (accuracy) or
minimizes (loss), as in DeepOBS. Building a problem (:meth:`Problem.build`) loads its data and
makes a fresh objective; :meth:`Problem.unavailable` says, without loading anything, why a
problem cannot run here (MNIST files absent, PyTorch absent), and the suite skips it with
that note.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..contract import FunctionObjective, checked_data
from ..errors import InputError

MNIST_ENV = "STEEPEST_MNIST_DIR"


@dataclass(frozen=True)
class Instance:
    """A built problem: the objective and its data (all None for a data-free test function).

    ``X_fit``/``y_fit`` is a fixed subset of at most 1,000 training rows for the final
    training loss.
    """

    objective: object
    X_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    X_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    X_fit: np.ndarray | None = None
    y_fit: np.ndarray | None = None

    @property
    def has_data(self) -> bool:
        return self.X_train is not None


@dataclass(frozen=True)
class Problem:
    """One benchmark problem (see the module docstring for the fields' meaning)."""

    name: str
    description: str
    metric: str
    target: float
    steps: int
    quick_steps: int
    batch_size: int | None
    eval_every: int
    dtype: str
    builder: Callable[[], Instance]
    needs: str | None = None  # "mnist" or "torch": checked by unavailable()

    @property
    def direction(self) -> str:
        """``"minimize"`` (loss) or ``"maximize"`` (accuracy): how the tuning ranks trials."""
        return "minimize" if self.metric == "loss" else "maximize"

    def reached(self, value: float) -> bool:
        """Whether ``value`` of the metric meets the target."""
        if not np.isfinite(value):
            return False
        return value <= self.target if self.metric == "loss" else value >= self.target

    def budget(self, quick: bool) -> int:
        return self.quick_steps if quick else self.steps

    def target_text(self) -> str:
        if self.metric == "loss":
            return f"loss <= {self.target:g}"
        return f"validation accuracy >= {self.target:g}"

    def spec(self, quick: bool) -> dict:
        """What makes two runs of this problem comparable (kept in the benchmark folder)."""
        return {"metric": self.metric, "target": self.target, "steps": self.budget(quick),
                "batch_size": self.batch_size, "eval_every": self.eval_every,
                "dtype": self.dtype, "description": self.description}

    def unavailable(self) -> str | None:
        """Why this problem cannot run here (a sentence), or None when it can."""
        if self.needs == "torch" and importlib.util.find_spec("torch") is None:
            return f"{self.name} skipped: it needs PyTorch, which is not installed"
        if self.needs == "mnist":
            return _mnist_missing()
        return None

    def build(self) -> Instance:
        return self.builder()


# ----------------------------------------------------------------------------- data problems
def _mnist_missing() -> str | None:
    folder = os.environ.get(MNIST_ENV)
    if not folder:
        return f"mnist skipped: set ${MNIST_ENV} to a folder holding the four MNIST files"
    path = Path(folder).expanduser()
    wanted = ("train-images", "train-labels", "t10k-images", "t10k-labels")
    absent = [w for w in wanted if not path.is_dir() or not any(path.glob(f"{w}*"))]
    if absent:
        return (f"mnist skipped: ${MNIST_ENV}={folder} holds no "
                f"{', '.join(a + '*' for a in absent)} file")
    return None


def _splits(dataset, val_fraction: float, dtype: str, objective) -> Instance:
    """The dataset split into train / validation (seed 0) and checked once for the objective
    (the loop then skips the per-batch checks)."""
    from ..data import train_val_split

    X_tr, X_val, y_tr, y_val = train_val_split(dataset.X_train, dataset.y_train, val_fraction,
                                               seed=0)
    X_tr, y_tr = checked_data(objective, np.ascontiguousarray(X_tr, dtype=dtype), y_tr,
                              "the training data")
    X_val, y_val = checked_data(objective, np.ascontiguousarray(X_val, dtype=dtype), y_val,
                                "the validation data")
    X_te, y_te = checked_data(objective, np.ascontiguousarray(dataset.X_test, dtype=dtype),
                              dataset.y_test, "the test data")
    fit = np.sort(np.random.default_rng(0).permutation(len(X_tr))[:1000])
    return Instance(objective, X_tr, y_tr, X_val, y_val, X_te, y_te, X_tr[fit], y_tr[fit])


def _mlp_instance(name: str, hidden: list[int], val_fraction: float, **load) -> Instance:
    from ..data import load_dataset
    from ..nn import mlp

    ds = load_dataset(name, seed=0, **load)
    model = mlp([ds.n_features, *hidden, ds.n_classes], activation="relu", loss="softmax")
    return _splits(ds, val_fraction, "float32", model)


def _digits() -> Instance:
    return _mlp_instance("digits", [64], 0.1)


def _mnist() -> Instance:
    return _mlp_instance("mnist", [128], 1 / 12, data_dir=os.environ.get(MNIST_ENV),
                         download=False)


def _spiral() -> Instance:
    return _mlp_instance("spiral", [100], 0.2, n_per_class=300)


def small_cnn():
    """The benchmark's CNN for 1 x 8 x 8 digits: conv 3x3 (8 filters) - ReLU - max-pool 2 -
    linear to 10 classes (a PyTorch module). Made under a forked PyTorch generator, so
    building it leaves torch's global generator as it was (its values are replaced by
    ``init_params(seed)`` anyway)."""
    import torch
    from torch import nn

    with torch.random.fork_rng(devices=[]):
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


def _cnn() -> Instance:
    from ..data import load_dataset
    from ..torch import TorchObjective

    obj = TorchObjective(small_cnn(), loss="cross_entropy", input_shape=(1, 8, 8))
    return _splits(load_dataset("digits", seed=0), 0.1, "float32", obj)


# ----------------------------------------------------------------------------- test functions
class TestFunction(FunctionObjective):
    """A 2-D test function of :mod:`steepest.trajectories` as an objective whose start
    depends on the seed: the function's own start point with each coordinate moved by a
    relative Gaussian jitter of 10 % drawn from the seed (so runs with several seeds have a
    spread, and no rule is favoured by a start on a lattice of its step; every rule gets the
    same starts)."""

    __test__ = False  # not a pytest class

    def __init__(self, fn):
        self.function = fn
        super().__init__(lambda theta: fn(theta), np.asarray(fn.start, dtype=np.float64))

    def init_params(self, seed: int = 0, dtype=None) -> np.ndarray:
        theta = super().init_params(seed, dtype)
        jitter = np.random.default_rng([seed, 2718]).standard_normal(theta.size)
        return theta * (1.0 + 0.1 * jitter).astype(theta.dtype)


def _quadratic() -> Instance:
    from ..trajectories import function2d

    return Instance(TestFunction(function2d("quadratic", kappa=100.0)))


def _rosenbrock() -> Instance:
    from ..trajectories import function2d

    return Instance(TestFunction(function2d("rosenbrock")))


# ----------------------------------------------------------------------------- the suite
PROBLEMS: dict[str, Problem] = {p.name: p for p in (
    Problem("digits", "MLP 64-64-10 (ReLU, softmax) on the 8x8 digits, batches of 64",
            "accuracy", 0.95, 400, 150, 64, 10, "float32", _digits),
    Problem("mnist", "MLP 784-128-10 (ReLU, softmax) on MNIST, batches of 128",
            "accuracy", 0.97, 2000, 200, 128, 100, "float32", _mnist, needs="mnist"),
    Problem("spiral", "MLP 2-100-3 (ReLU, softmax) on the 3-arm spiral (900 points), full "
            "batch", "accuracy", 0.95, 500, 200, None, 10, "float32", _spiral),
    Problem("quadratic", "f = (x^2 + 100 y^2) / 2 (condition number 100) from near (-8, 2)",
            "loss", 1e-6, 1000, 600, None, 1, "float64", _quadratic),
    Problem("rosenbrock", "f = (1 - x)^2 + 100 (y - x^2)^2 from near (-1.5, 2)",
            "loss", 1e-4, 3000, 1000, None, 1, "float64", _rosenbrock),
    Problem("cnn", "PyTorch CNN (conv 3x3x8 - ReLU - max-pool - linear) on the 8x8 digits, "
            "batches of 64", "accuracy", 0.95, 400, 150, 64, 10, "float32", _cnn,
            needs="torch"),
)}
QUICK_PROBLEMS = ("quadratic", "rosenbrock", "digits")


def get_problem(name: str) -> Problem:
    """The problem called ``name``; an unknown name gets the list of the suite's problems."""
    if not isinstance(name, str) or name not in PROBLEMS:
        raise InputError(f"unknown problem {name!r}; allowed: {', '.join(PROBLEMS)}")
    return PROBLEMS[name]
