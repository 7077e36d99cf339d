"""The lectures' optimization experiments on a run configuration.

- :func:`compare`: the same run trained once per variant (a set of dotted config values such
  as ``{"optim.name": "adam", "optim.lr": 1e-3}``), every variant with the same seed, so the
  same initial weights and the same batch order; overlaid loss and accuracy curves.
  :func:`optimizer_variants` builds the classic "one curve per update rule" set and
  :func:`vary_variants` any grid of config values (``compare --vary``).
- :func:`lr_sweep`: the step-size sweep (the loss after ONE gradient step of each size, from
  the initial weights) and the learning-rate range test (an exponentially increasing rate over
  a short run), with a suggested rate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._lock import FolderLock
from .build import build
from .config import RunConfig, load_config, with_values
from .errors import InputError
from .optim import LRRangeResult, StepSizeSweep
from .results import Result
from .train import TrainResult

# Rates that train the default digits MLP well in a few epochs (per rule; the newer rules'
# from a 3-rate sweep of 10 epochs on it).
DEFAULT_LR = {"gd": 0.5, "sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.05,
              "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3, "nadam": 3e-3, "radam": 1e-2,
              "adamax": 6e-3, "adadelta": 1.0, "adafactor": 1e-2, "lion": 1e-3, "muon": 0.02,
              "sgd_schedule_free": 1.0, "adamw_schedule_free": 1e-2, "sam": 0.1,
              "lookahead": 0.3, "shampoo": 0.03}


@dataclass(frozen=True)
class Variant:
    """One curve of a comparison: a label, the dotted config values it sets and the name of
    its run folder (by default the label with anything unsafe in a file name replaced)."""

    label: str
    values: dict[str, Any]
    name: str | None = None

    @property
    def folder(self) -> str:
        text = self.name or self.label
        return "".join(c if c.isalnum() or c in "._=-+," else "_" for c in text)


@dataclass(frozen=True)
class VariantStarted:
    """An event of :func:`compare`: variant ``index`` (0-based) of ``total`` starts."""

    label: str
    index: int
    total: int


def optimizer_variants(names: list[str], lrs: dict[str, float] | None = None) -> list[Variant]:
    """One variant per update rule, each at ``lrs[name]`` or its :data:`DEFAULT_LR`."""
    if not names:
        raise InputError("name at least one optimizer to compare")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"{', '.join(twice)} listed twice; to compare several rates of one "
                         f"rule use --set optim.name={twice[0]} --vary optim.lr=0.001,0.01,0.1")
    unknown = [n for n in names if n not in DEFAULT_LR]
    if unknown:
        raise InputError(f"unknown optimizer(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(DEFAULT_LR)}")
    stray = sorted(set(lrs or {}) - set(names))
    if stray:
        raise InputError(f"--lr names {', '.join(stray)}, not among the compared rules "
                         f"({', '.join(names)})")
    lrs = lrs or {}
    return [Variant(f"{name} (lr {lrs.get(name, DEFAULT_LR[name]):g})",
                    {"optim.name": name, "optim.lr": lrs.get(name, DEFAULT_LR[name])}, name)
            for name in dict.fromkeys(names)]


def vary_variants(grid: dict[str, list]) -> list[Variant]:
    """One variant per combination of the values of ``grid`` (dotted key -> values)."""
    if not grid:
        raise InputError("give at least one KEY=v1,v2,... to vary")
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        values = dict(zip(keys, combo))
        label = ", ".join(f"{k}={_show(v)}" for k, v in values.items())
        out.append(Variant(label, values, label.replace(", ", ",")))
    return out


def _show(v) -> str:
    if isinstance(v, list):
        return "[" + ",".join(map(str, v)) + "]"
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class Comparison(Result):
    """Runs of the same configuration that differ only by their variant's values."""

    out_dir: Path
    variants: tuple[Variant, ...]
    runs: tuple[TrainResult, ...]
    resumed: tuple[str, ...] = field(default_factory=tuple)  # labels continued, not restarted

    _omit = ("runs",)

    @property
    def rows(self) -> list[dict]:
        return [{"label": v.label, **v.values, **r.to_dict()}
                for v, r in zip(self.variants, self.runs)]

    def to_dict(self) -> dict:
        return {**super().to_dict(), "runs": self.rows}

    def save(self, out_dir: str | Path | None = None) -> list[Path]:
        """``comparison.json`` and ``comparison.csv`` (one row per variant), written atomically."""
        from ._io import atomic_write_json, atomic_write_text
        from .results import finite_or_none

        out_dir = Path(out_dir or self.out_dir)
        rows = self.rows
        cols = list(dict.fromkeys(k for row in rows for k in row))
        lines = [",".join(cols)] + [",".join(_csv_cell(row.get(c)) for c in cols) for row in rows]
        return [atomic_write_json(out_dir / "comparison.json", finite_or_none(self.to_dict())),
                atomic_write_text(out_dir / "comparison.csv", "\n".join(lines) + "\n")]

    def plot(self):
        """Smoothed training loss per step and validation accuracy per epoch, overlaid."""
        from .viz.plots import new_figure, smooth

        fig = new_figure(figsize=(12, 4.5))
        ax1, ax2 = fig.subplots(1, 2)
        for v, res in zip(self.variants, self.runs):
            ax1.plot(np.arange(1, res.losses.size + 1), smooth(res.losses, 0.95), label=v.label)
            ax2.plot([h["epoch"] for h in res.history], [h["val_acc"] for h in res.history],
                     "o-", ms=3, label=v.label)
        ax1.set(xlabel="step", ylabel="training loss (smoothed)", yscale="log")
        ax1.grid(alpha=0.3, which="both")
        ax1.legend(fontsize=8)
        ax2.set(xlabel="epoch", ylabel="validation accuracy")
        ax2.grid(alpha=0.3)
        ax2.legend(fontsize=8)
        fig.suptitle("the same start and the same batches, one change per curve")
        return fig


def _csv_cell(value) -> str:
    if value is None:
        return ""
    text = _show(value) if isinstance(value, float | list) else str(value)
    return f'"{text}"' if "," in text else text


def _train_or_continue(cfg: RunConfig, run_dir: Path, on_event,
                       callbacks=None) -> tuple[TrainResult, bool]:
    """Train into ``run_dir``, or continue the run already there (same config only)."""
    from .runs import resume_run, train_run

    if (run_dir / "checkpoints" / "last.npz").exists():
        stored = load_config(run_dir / "config.yaml")
        if stored != cfg:
            raise InputError(f"{run_dir} holds a run with another configuration; choose another "
                             f"--out or remove that folder")
        return resume_run(run_dir, on_event=on_event, plots=False, callbacks=callbacks), True
    return train_run(cfg, run_dir, on_event=on_event, plots=False, callbacks=callbacks), False


def compare(cfg: RunConfig, variants: list[Variant], out_dir: str | Path,
            on_event=None, callbacks=None) -> Comparison:
    """Train ``cfg`` once per variant into ``out_dir/<variant folder>``.

    Everything else, the seed included, is shared, so every run starts from the same weights
    and sees the same batches. Running it again continues what is missing: finished variants
    are read back, interrupted ones resume. ``callbacks`` are extra trainer callbacks for every
    run: a list, or a factory called with each variant's folder name that returns one
    (``steepest.tensorboard.TensorBoardLogger.per_run(logdir)`` logs each run apart).
    """
    out_dir = Path(out_dir)
    if not variants:
        raise InputError("a comparison needs at least one variant")
    folders = [v.folder for v in variants]
    if len(set(folders)) != len(folders):
        raise InputError(f"two variants share a label: {', '.join(v.label for v in variants)}")
    runs, resumed = [], []
    with FolderLock(out_dir, "comparison folder"):
        for i, variant in enumerate(variants):
            if on_event is not None:
                on_event(VariantStarted(variant.label, i, len(variants)))
            extra = callbacks(variant.folder) if callable(callbacks) else callbacks
            res, again = _train_or_continue(with_values(cfg, variant.values),
                                            out_dir / variant.folder, on_event, extra)
            runs.append(res)
            if again:
                resumed.append(variant.label)
    return Comparison(out_dir, tuple(variants), tuple(runs), tuple(resumed))


@dataclass(frozen=True)
class LRSweepResult(Result):
    """The step-size sweep at the initial weights and the learning-rate range test."""

    optimizer: str
    sweep: StepSizeSweep
    range_test: LRRangeResult

    def plot(self):
        from .viz.plots import new_figure

        fig = new_figure(figsize=(12, 4.5))
        ax1, ax2 = fig.subplots(1, 2)
        self.sweep.plot(ax=ax1)
        self.range_test.plot(ax=ax2, title=f"learning-rate range test ({self.optimizer})")
        return fig


def lr_sweep(cfg: RunConfig, sample: int = 1000, n_steps: int = 100, lr_min: float = 1e-7,
             lr_max: float = 10.0) -> LRSweepResult:
    """The step-size sweep and the range test at the initial weights of ``cfg``'s model."""
    from .optim import lr_range_test, step_size_sweep

    pieces = build(cfg)
    data, model = pieces.data, pieces.model
    dtype = np.dtype(cfg.train.dtype)
    theta = model.init_params(cfg.train.seed, dtype=np.float64)
    n = min(sample, data.X_train.shape[0])
    sweep = step_size_sweep(model.bind(data.X_train[:n], data.y_train[:n]), theta)
    rng = np.random.default_rng(cfg.train.seed)
    X, y = data.X_train.astype(dtype), data.y_train
    batches: list[np.ndarray] = []

    def batch(th, i):
        while len(batches) <= i:
            batches.extend(pieces.plan.epoch_batches(rng))
        idx = batches[i]
        return model.loss_and_grad(th, X[idx], y[idx], train=True, rng=rng)

    opt = "sgd" if cfg.optim.name == "gd" else cfg.optim.name
    rt = lr_range_test(batch, theta.astype(dtype), lr_min=lr_min, lr_max=lr_max,
                       n_steps=n_steps, optimizer=opt)
    return LRSweepResult(opt, sweep, rt)
