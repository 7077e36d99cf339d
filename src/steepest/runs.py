"""Run directories: train from a config into a folder, resume it, load it back.

A run directory holds ``config.yaml`` (the full validated configuration), ``metrics.csv``
(one row per epoch), ``iterations.csv`` (the loss of every step), ``checkpoints/last.npz`` and
``checkpoints/best.npz``, ``final.npz`` (the returned parameters), ``summary.json`` and
``plots/``. A run of a PyTorch model (``model.torch.factory``) also holds ``model.json``: the
factory's file, name, keyword arguments and SHA-256, and the layout of theta; the weights stay
plain arrays (theta, buffers) like every run's, never a pickled module. Resuming and loading
the run refuse a model file that changed since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ._io import atomic_write_text, load_npz
from ._lock import FolderLock
from .build import RunData, RunPieces, build, torch_description
from .config import RunConfig, load_config
from .errors import InputError
from .nn import Model
from .results import Result
from .train import Notice, Trainer, TrainResult
from .train.checkpoint import restore_buffers

WEIGHTS = ("final", "best", "last")
MODEL_FILE = "model.json"  # a PyTorch model's description (see the module docstring)
_MODEL_FILE_BYTES = 2**20


def default_run_dir(cfg: RunConfig, root: str | Path = "runs") -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{dataset_label(cfg)}-{cfg.optim.name}-{stamp}"


def dataset_label(cfg: RunConfig) -> str:
    """The dataset's name, or the file name (without suffix) of one's own data."""
    from .data.own import looks_like_path

    name = cfg.data.name
    return Path(name).stem if looks_like_path(name) else name


def _notify(lock: FolderLock, on_event) -> None:
    """Tell the caller about a stale lock taken over and temporaries cleaned."""
    if on_event is None:
        return
    if lock.took_over:
        on_event(Notice(lock.took_over))
    if lock.cleaned:
        on_event(Notice(f"removed {len(lock.cleaned)} temporary file(s) left by an interrupted "
                        f"write in {lock.folder}"))


def train_run(cfg: RunConfig, run_dir: str | Path | None = None, *, on_event=None,
              plots: bool = True, theta0=None, callbacks=None, figure_format: str = "png",
              dpi: int = 110) -> TrainResult:
    """Train the run described by ``cfg``; write everything into ``run_dir`` when given.

    The run folder is locked for the whole run (a second process asking for it stops with a
    LockedError naming the holder). ``callbacks`` are extra trainer callbacks (see
    :mod:`steepest.train.callbacks`); the run's plots are written as ``figure_format`` (png,
    svg or pdf) at ``dpi``.
    """
    figures = (figure_format, dpi) if plots else None
    if run_dir is None:
        return _run(build(cfg), None, on_event=on_event, callbacks=callbacks, resume=False,
                    theta0=theta0, figures=None)
    run_dir = Path(run_dir)
    description = None if cfg.torch_model is None else torch_description(cfg)
    with FolderLock(run_dir, "run folder") as lock:
        _notify(lock, on_event)
        if (run_dir / "checkpoints" / "last.npz").exists():
            raise InputError(f"{run_dir} already holds a run; resume it with --resume "
                             f"or choose another --out")
        pieces = build(cfg, description)
        atomic_write_text(run_dir / "config.yaml", cfg.to_yaml())
        if description is not None:
            atomic_write_text(run_dir / MODEL_FILE, model_record(description, pieces.model))
        return _run(pieces, run_dir, on_event=on_event, callbacks=callbacks, resume=False,
                    theta0=theta0, figures=figures)


def resume_run(run_dir: str | Path, *, on_event=None, plots: bool = True,
               callbacks=None, figure_format: str = "png", dpi: int = 110) -> TrainResult:
    """Continue an interrupted run from its last checkpoint, bit-identically."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    figures = (figure_format, dpi) if plots else None
    with FolderLock(run_dir, "run folder") as lock:
        _notify(lock, on_event)
        if not (run_dir / "checkpoints" / "last.npz").exists():
            raise InputError(f"{run_dir} has no checkpoint to resume from "
                             f"(checkpoints/last.npz)")
        return _run(build(cfg, read_model_file(run_dir, cfg)), run_dir, on_event=on_event,
                    callbacks=callbacks, resume=True, figures=figures)


def model_record(description: str, model) -> str:
    """``model.json``: the factory's description with the layout the run trains."""
    return json.dumps({**json.loads(description), "layout": model.layout.to_dict()}, indent=2)


def read_model_file(run_dir: Path, cfg: RunConfig) -> str | None:
    """The ``model.json`` text of a PyTorch model's run folder (None for an MLP run)."""
    if cfg.torch_model is None:
        return None
    path = Path(run_dir) / MODEL_FILE
    if not path.is_file():
        raise InputError(f"{run_dir} holds a run of the PyTorch model {cfg.torch_model!r} but "
                         f"no {MODEL_FILE} (which pins the model file it was trained with)")
    if path.stat().st_size > _MODEL_FILE_BYTES:
        raise InputError(f"{path} is too large to be a model description "
                         f"({path.stat().st_size:,} bytes)")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {path}: {e}") from None


def _run(pieces: RunPieces, run_dir, *, on_event, callbacks, resume, theta0=None,
         figures=None):
    """Train the built pieces; ``figures`` is ``(format, dpi)`` of the run's plots, or None."""
    data = pieces.data
    trainer = Trainer(pieces.model, pieces.optimizer, data.X_train, data.y_train, data.X_val,
                      data.y_val, pieces.settings, X_test=data.X_test, y_test=data.y_test,
                      run_dir=run_dir, on_event=on_event, callbacks=callbacks)
    result = trainer.run(theta=theta0, resume=resume)
    if run_dir is not None and figures is not None:
        figure_format, dpi = figures
        save_run_plots(result, pieces.model, data, run_dir / "plots",
                       steps_per_epoch=pieces.plan.steps_per_epoch, format=figure_format,
                       dpi=dpi)
    return result


def save_run_plots(result: TrainResult, model: Model, data: RunData, out_dir: Path,
                   steps_per_epoch: int | None = None, format: str = "png",
                   dpi: int = 110) -> list[Path]:
    """The standard pictures of a finished run: loss, accuracy, update ratios, weights."""
    from .viz import plot_run, save_figures

    weights = _first_layer_weights(model.layout, result.theta, data)
    linear = weights is not None and len(model.layout.select(("weight",))) == 1
    figures = plot_run(result.losses, result.history, first_layer_weights=weights,
                       image_shape=data.image_shape, classes=data.dataset.classes, linear=linear,
                       steps_per_epoch=steps_per_epoch, diverged=result.status == "diverged",
                       sharpness=result.sharpness)
    return save_figures(figures, out_dir, format=format, dpi=dpi)


def _first_layer_weights(layout, theta, data: RunData):
    """The first weight matrix as (pixels, units) when it reads the image's pixels (steepest's
    (in, out) ``fc1.W`` or a PyTorch Linear's (out, in) weight, by the layout's unit axis),
    rows in the image's own order; None otherwise (a convolution, PCA features)."""
    image = data.image_shape
    spec = next(iter(layout.select(("weight",))), None)
    if image is None or spec is None or len(spec.shape) != 2:
        return None
    W = np.moveaxis(np.asarray(theta)[spec.slice].reshape(spec.shape), spec.filter_axis, -1)
    if W.shape[0] != int(np.prod(image)):
        return None
    if data.channels_first:  # rows of (C, H, W) pixels back to the picture's (H, W, C)
        h, w, c = image
        W = W.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(h * w * c, -1)
    return W


def load_run_config(run_dir: str | Path) -> RunConfig:
    """The config of a run folder; an empty or damaged ``config.yaml`` is refused (a run must
    never continue with default settings it did not have)."""
    run_dir = Path(run_dir)
    path = run_dir / "config.yaml"
    if not path.exists():
        raise InputError(f"{run_dir} is not a run directory (no config.yaml)")
    return load_config(path, require_content=True)


@dataclass(frozen=True)
class LoadedRun(Result):
    """A run folder brought back: its config, data, model (buffers restored) and weights."""

    run_dir: Path
    weights: str  # which weights: final, best or last
    config: RunConfig
    data: RunData
    model: Model
    theta: np.ndarray
    step: int | None = None  # the training step these weights are from (None if unknown)

    _omit = ("data", "model", "theta")

    def to_dict(self) -> dict:
        return {**super().to_dict(), "config": self.config.model_dump(mode="json")}


def weights_file(run_dir: Path, which: str) -> Path:
    from ._validate import choice

    choice(which, WEIGHTS, "weights")
    return {"final": run_dir / "final.npz", "best": run_dir / "checkpoints" / "best.npz",
            "last": run_dir / "checkpoints" / "last.npz"}[which]


def load_run(run_dir: str | Path, which: str = "final") -> LoadedRun:
    """A run's config, data, model and the ``which`` weights (final, best or last)."""
    run_dir = Path(run_dir)
    cfg = load_run_config(run_dir)
    path = weights_file(run_dir, which)
    if not path.exists():
        raise InputError(f"{run_dir} has no {which} weights ({path.name} is missing)")
    z = load_npz(path)
    pieces = build(cfg, read_model_file(run_dir, cfg))
    model = pieces.model
    try:
        theta = model.layout.check(z["theta"], f"theta in {path}")
        restore_buffers(model, z["buffers"], path)
    except KeyError as e:
        raise InputError(f"{path} is not a steepest weights file (missing {e})") from None
    if cfg.torch_model is not None and "layout" in z:
        _check_layout(model.layout, z["layout"], path)
    return LoadedRun(run_dir, which, cfg, pieces.data, model, np.asarray(theta),
                     _weights_step(run_dir, which, z))


def _check_layout(layout, saved, path: Path) -> None:
    """Refuse weights whose recorded layout (names, shapes, roles) is not the model's."""
    from .params import Layout

    try:
        recorded = Layout.from_dict(json.loads(str(saved)))
    except (ValueError, TypeError, KeyError, InputError):
        raise InputError(f"{path}: its layout field is damaged") from None
    if recorded != layout:
        raise InputError(f"{path} holds weights of another model: its layout "
                         f"({len(recorded)} tensors, {recorded.size:,} parameters) is not the "
                         f"model's ({len(layout)} tensors, {layout.size:,} parameters)")


def _weights_step(run_dir: Path, which: str, weights: dict) -> int | None:
    """The training step of a run's final, best or last weights, from its own records."""
    if which == "last":
        return int(weights["step"]) if "step" in weights else None
    last = run_dir / "checkpoints" / "last.npz"
    try:
        history = json.loads(str(load_npz(last)["history"])) if last.exists() else []
        summary = read_summary(run_dir) if which == "final" else {}
    except (KeyError, ValueError, OSError):
        return None
    epoch = int(weights["epoch"]) if which == "best" and "epoch" in weights else (
        summary.get("restored_epoch") or summary.get("epochs"))
    steps = {row.get("epoch"): row.get("step") for row in history if isinstance(row, dict)}
    if which == "final" and summary.get("restored_epoch") is None:
        return summary.get("steps")
    return steps.get(epoch)


def read_summary(run_dir: str | Path) -> dict:
    return json.loads((Path(run_dir) / "summary.json").read_text())
