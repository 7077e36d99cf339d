"""Checkpoints: the run state as one ``.npz`` of plain arrays, written atomically.

Format version 1 (unchanged since the first release, so older run folders resume): ``theta``,
``buffers``, the generator state ``rng`` (JSON), ``epoch``, ``step``, ``losses``, ``history``
(JSON), ``best_metric`` / ``best_epoch`` (NaN / -1 for none), ``bad_epochs``, ``first_loss``,
``seconds``, the optimizer state as ``opt.<name>`` arrays and, when a path is kept, ``path``
and ``path_steps``; when sharpness is tracked, ``sharpness`` (step, value, bound rows) and
``sharpness_vector`` (optional fields: older checkpoints have none). ``best.npz`` holds
``theta``, ``buffers``, ``epoch`` and ``metric``.
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
    if state.sharpness:
        extra["sharpness"] = np.asarray(state.sharpness, dtype=np.float64)
        extra["sharpness_vector"] = state.sharpness_vector
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


def _field(z: dict, name: str, path: Path):
    if name not in z:
        raise DataError(f"{path} is not a steepest checkpoint: it has no {name!r} field")
    return z[name]


def _scalar(z: dict, name: str, path: Path, kind: str) -> float | int:
    """A 0-d number field of a checkpoint (``kind``: "int" or "float")."""
    a = np.asarray(_field(z, name, path))
    ok = a.shape == () and (a.dtype.kind in "iu" if kind == "int" else a.dtype.kind in "iuf")
    if not ok:
        raise DataError(f"{path}: field {name!r} must be a single {kind}, got "
                        f"{a.dtype} of shape {a.shape}")
    return int(a) if kind == "int" else float(a)


def _json_field(z: dict, name: str, path: Path, expected: type):
    raw = _field(z, name, path)
    try:
        value = json.loads(str(raw))
    except (json.JSONDecodeError, TypeError, ValueError):
        raise DataError(f"{path}: field {name!r} is not valid JSON") from None
    if not isinstance(value, expected):
        raise DataError(f"{path}: field {name!r} must hold a JSON {expected.__name__}")
    return value


def _restore_rng(rng, state: dict, path: Path) -> None:
    name = type(rng.bit_generator).__name__
    if state.get("bit_generator") != name:
        raise DataError(f"{path}: field 'rng' holds the state of a "
                        f"{state.get('bit_generator')!r} generator, the run uses {name}")
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as e:
        raise DataError(f"{path}: field 'rng' is not a valid {name} state ({e})") from None


def _losses(z: dict, path: Path, step: int) -> list:
    losses = np.asarray(_field(z, "losses", path))
    if losses.ndim != 1 or losses.dtype.kind != "f":
        raise DataError(f"{path}: field 'losses' must be a 1-D float vector, got "
                        f"{losses.dtype} of shape {losses.shape}")
    if losses.size != step:
        raise DataError(f"{path}: field 'losses' holds {losses.size} losses for {step} steps")
    return losses.tolist()


def load_checkpoint(path: Path, objective, optimizer, dtype, rng, plan=None) -> RunState:
    """The run state saved in ``path``; restores the objective's buffers and ``rng``.

    Every field is checked and a damaged one is named; with the run's ``plan`` a checkpoint
    whose step count does not match its epoch is refused.
    """
    z = load_npz(path)
    theta = objective.layout.check(_field(z, "theta", path), f"theta in {path}")
    if theta.dtype != dtype:
        raise InputError(f"{path} holds {theta.dtype} parameters, the run is {dtype}")
    epoch, step = _scalar(z, "epoch", path, "int"), _scalar(z, "step", path, "int")
    if plan is not None and step != min(epoch * plan.steps_per_epoch, plan.total_steps):
        raise DataError(f"{path}: step {step} does not match epoch {epoch} of this run "
                        f"({plan.steps_per_epoch} steps per epoch); the checkpoint belongs to "
                        f"another run or is damaged")
    restore_buffers(objective, _field(z, "buffers", path), path)
    _restore_rng(rng, _json_field(z, "rng", path, dict), path)
    try:
        opt_state = optimizer.state_from_arrays(
            {k[4:]: v for k, v in z.items() if k.startswith("opt.")})
    except InputError as e:
        raise DataError(f"{path}: the optimizer state does not fit this run: {e}") from None
    best_epoch = _scalar(z, "best_epoch", path, "int")
    state = RunState(
        theta=theta.copy(), opt_state=opt_state, rng=rng, epoch=epoch, step=step,
        losses=_losses(z, path, step), history=_json_field(z, "history", path, list),
        best_metric=_optional(_scalar(z, "best_metric", path, "float")),
        best_epoch=None if best_epoch < 0 else best_epoch,
        bad_epochs=_scalar(z, "bad_epochs", path, "int"),
        first_loss=_optional(_scalar(z, "first_loss", path, "float")),
        seconds=_scalar(z, "seconds", path, "float"),
    )
    if "path" in z:
        state.path = list(z["path"])
        state.path_steps = np.asarray(_field(z, "path_steps", path)).tolist()
    if "sharpness" in z:
        rows = np.asarray(z["sharpness"])
        if rows.ndim != 2 or rows.shape[1] != 3:
            raise DataError(f"{path}: field 'sharpness' must be rows of (step, value, bound)")
        state.sharpness = [tuple(r) for r in rows.tolist()]
        state.sharpness_vector = np.asarray(_field(z, "sharpness_vector", path))
    return state
