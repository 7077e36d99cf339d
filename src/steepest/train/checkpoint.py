"""Checkpoints: the run state as one ``.npz`` of plain arrays, written atomically.

Format version 1 (unchanged since the first release, so older run folders resume): ``theta``,
``buffers``, the generator state ``rng`` (JSON), ``epoch``, ``step``, ``losses``, ``history``
(JSON), ``best_metric`` / ``best_epoch`` (NaN / -1 for none), ``bad_epochs``, ``first_loss``,
``seconds``, the optimizer state as ``opt.<name>`` arrays and, when a path is kept, ``path``
and ``path_steps``. ``best.npz`` holds ``theta``, ``buffers``, ``epoch`` and ``metric``.
Loaded with ``allow_pickle=False``; a damaged or foreign file is refused with its name.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .._io import atomic_savez, load_npz
from ..errors import DataError, InputError
from .state import RunState

CHECKPOINT_VERSION = 1


def buffers_of(objective) -> np.ndarray:
    """The objective's non-trainable buffers (an empty vector when it has none)."""
    buffers = getattr(objective, "buffers", None)
    return np.zeros(0) if buffers is None else np.asarray(buffers)


def save_checkpoint(path: Path, state: RunState, objective, optimizer) -> Path:
    extra = {}
    if state.path:
        extra = {"path": np.stack(state.path), "path_steps": np.array(state.path_steps)}
    opt_arrays = optimizer.state_to_arrays(state.opt_state)
    return atomic_savez(
        path,
        version=CHECKPOINT_VERSION,
        theta=state.theta,
        buffers=buffers_of(objective),
        rng=json.dumps(state.rng.bit_generator.state),
        epoch=state.epoch,
        step=state.step,
        losses=np.asarray(state.losses, dtype=np.float64),
        history=json.dumps(state.history),
        best_metric=np.nan if state.best_metric is None else state.best_metric,
        best_epoch=-1 if state.best_epoch is None else state.best_epoch,
        bad_epochs=state.bad_epochs,
        first_loss=np.nan if state.first_loss is None else state.first_loss,
        seconds=state.seconds,
        **{f"opt.{k}": v for k, v in opt_arrays.items()},
        **extra,
    )


def save_best(path: Path, state: RunState, objective) -> Path:
    return atomic_savez(path, version=CHECKPOINT_VERSION, theta=state.theta,
                        buffers=buffers_of(objective), epoch=state.epoch,
                        metric=state.best_metric)


def restore_buffers(objective, buffers, path: Path) -> None:
    """Copy saved buffers into the objective's, refusing a shape that does not fit."""
    own = getattr(objective, "buffers", None)
    buffers = np.asarray(buffers)
    if own is None:
        if buffers.size:
            raise InputError(f"{path} holds buffers but this objective has none")
        return
    if buffers.shape != np.shape(own):
        raise InputError(f"{path} does not match this model's buffers (BatchNorm statistics): "
                         f"{buffers.shape} against {np.shape(own)}")
    own[...] = buffers


def _optional(value: float) -> float | None:
    return None if math.isnan(value) else value


def load_checkpoint(path: Path, objective, optimizer, dtype, rng) -> RunState:
    """The run state saved in ``path``; restores the objective's buffers and ``rng``."""
    z = load_npz(path)
    try:
        theta = objective.layout.check(z["theta"], f"theta in {path}")
        if theta.dtype != dtype:
            raise InputError(f"{path} holds {theta.dtype} parameters, the run is {dtype}")
        restore_buffers(objective, z["buffers"], path)
        rng.bit_generator.state = json.loads(str(z["rng"]))
        opt_state = optimizer.state_from_arrays(
            {k[4:]: v for k, v in z.items() if k.startswith("opt.")})
        best_epoch = int(z["best_epoch"])
        state = RunState(
            theta=theta.copy(), opt_state=opt_state, rng=rng, epoch=int(z["epoch"]),
            step=int(z["step"]), losses=z["losses"].tolist(),
            history=json.loads(str(z["history"])),
            best_metric=_optional(float(z["best_metric"])),
            best_epoch=None if best_epoch < 0 else best_epoch,
            bad_epochs=int(z["bad_epochs"]), first_loss=_optional(float(z["first_loss"])),
            seconds=float(z["seconds"]),
        )
    except KeyError as e:
        raise DataError(f"{path} is not a steepest checkpoint (missing {e})") from None
    if "path" in z:
        state.path = list(z["path"])
        state.path_steps = z["path_steps"].tolist()
    return state
