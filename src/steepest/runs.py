"""Run directories: train from a config into a folder, resume it, load it back.

A run directory holds ``config.yaml`` (the full validated configuration), ``metrics.csv``
(one row per epoch), ``iterations.csv`` (the loss of every step), ``checkpoints/last.npz`` and
``checkpoints/best.npz``, ``final.npz`` (the returned parameters), ``summary.json`` and
``plots/``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np

from ._io import atomic_write_text, load_npz
from .build import batch_size, build_data, build_model, build_optimizer, steps_per_epoch
from .config import RunConfig, load_config
from .errors import InputError
from .train import Trainer, TrainResult


def default_run_dir(cfg: RunConfig, root: str | Path = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{cfg.data.name}-{cfg.optim.name}-{stamp}"


def train_run(cfg: RunConfig, run_dir: str | Path | None = None, *, on_event=None,
              plots: bool = True, theta0=None) -> TrainResult:
    """Train the run described by ``cfg``; write everything into ``run_dir`` when given."""
    data = build_data(cfg)
    model = build_model(cfg, data.n_features, data.dataset.n_classes)
    opt = build_optimizer(cfg, model, data.X_train.shape[0])
    if run_dir is not None:
        run_dir = Path(run_dir)
        if (run_dir / "checkpoints" / "last.npz").exists():
            raise InputError(f"{run_dir} already holds a run; resume it with --resume "
                             f"or choose another --out")
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())
    return _run(cfg, data, model, opt, run_dir, on_event, plots, resume=False, theta0=theta0)


def resume_run(run_dir: str | Path, *, on_event=None, plots: bool = True) -> TrainResult:
    """Continue an interrupted run from its last checkpoint, bit-identically."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    if not (run_dir / "checkpoints" / "last.npz").exists():
        raise InputError(f"{run_dir} has no checkpoint to resume from (checkpoints/last.npz)")
    data = build_data(cfg)
    model = build_model(cfg, data.n_features, data.dataset.n_classes)
    opt = build_optimizer(cfg, model, data.X_train.shape[0])
    return _run(cfg, data, model, opt, run_dir, on_event, plots, resume=True)


def _run(cfg, data, model, opt, run_dir, on_event, plots, resume, theta0=None):
    spec = cfg.train.model_copy(update={"batch_size": batch_size(cfg, data.X_train.shape[0])})
    trainer = Trainer(model, opt, data.X_train, data.y_train, data.X_val, data.y_val, spec,
                      X_test=data.X_test, y_test=data.y_test, run_dir=run_dir,
                      on_event=on_event)
    result = trainer.run(theta=theta0, resume=resume)
    if run_dir is not None and plots:
        from .viz import plot_run

        plot_run(result, model, run_dir / "plots", image_shape=data.image_shape,
                 classes=data.dataset.classes,
                 steps_per_epoch=steps_per_epoch(cfg, data.X_train.shape[0]))
    return result


def load_run_config(run_dir: str | Path) -> RunConfig:
    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").exists():
        raise InputError(f"{run_dir} is not a run directory (no config.yaml)")
    return load_config(run_dir / "config.yaml")


def load_run(run_dir: str | Path, which: str = "final"):
    """``(cfg, data, model, theta)`` of a run; ``which`` is final, best or last."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    files = {"final": run_dir / "final.npz", "best": run_dir / "checkpoints" / "best.npz",
             "last": run_dir / "checkpoints" / "last.npz"}
    if which not in files:
        raise InputError(f"unknown weights {which!r}; allowed: final, best, last")
    if not files[which].exists():
        raise InputError(f"{run_dir} has no {which} weights ({files[which].name} is missing)")
    z = load_npz(files[which])
    data = build_data(cfg)
    model = build_model(cfg, data.n_features, data.dataset.n_classes)
    theta = model.layout.check(z["theta"], f"theta in {files[which]}")
    model.buffers[:] = z["buffers"]
    return cfg, data, model, np.asarray(theta)


def read_summary(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())
