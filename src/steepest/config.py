"""The configuration of a training run, validated with pydantic.

One schema serves ``steepest train --config FILE.yaml``, the ``config.yaml`` of every run
directory (so ``--resume`` rebuilds exactly the same run) and the hyperparameter search. Unknown
keys, wrong types and out-of-range values are all reported at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, model_validator

from .errors import InputError

DatasetName = Literal["digits", "mnist", "fashion-mnist", "cifar10", "spiral", "blobs"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class DataConfig(_Strict):
    name: DatasetName = "digits"
    data_dir: str | None = None
    val_fraction: float = Field(0.1, gt=0, lt=1)
    preprocess: Literal["none", "center", "standardize", "minmax", "pca", "whiten"] = "none"
    pca_components: PositiveInt | None = None
    train_subset: PositiveInt | None = Field(
        None, description="use only this many training rows (after the validation split)"
    )


class ModelConfig(_Strict):
    hidden: list[PositiveInt] = Field(default_factory=lambda: [64])
    activation: Literal["relu", "leaky_relu", "sigmoid", "tanh", "maxout"] = "relu"
    batchnorm: bool = False
    dropout: float | None = Field(None, gt=0, le=1, description="keep-probability p")
    loss: Literal["softmax", "svm"] = "softmax"
    hinge: Literal["weston-watkins", "crammer-singer"] = "weston-watkins"
    margin: float = Field(1.0, ge=0)
    init: Literal["zeros", "small", "xavier", "he"] | None = None
    regularizer: Literal["l2", "l1", "elastic", "none"] = "l2"
    reg: float = Field(0.0, ge=0)
    l1_ratio: float = Field(0.5, ge=0, le=1)


class ScheduleConfig(_Strict):
    kind: Literal["constant", "step", "exponential", "inverse_time", "cosine"] = "constant"
    factor: float = Field(0.1, gt=0, le=1, description="step decay: multiply the rate by this")
    every_epochs: float = Field(10.0, gt=0, description="step decay: every this many epochs")
    k: float = Field(0.1, ge=0, description="exponential / 1/t decay rate, per epoch")
    final: float = Field(0.0, ge=0, description="cosine: the final rate")
    warmup_epochs: float = Field(0.0, ge=0, description="linear warm-up length, in epochs")


class OptimConfig(_Strict):
    name: Literal[
        "gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"
    ] = "momentum"
    lr: float = Field(0.05, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    momentum_final: float | None = Field(
        None, ge=0, lt=1, description="anneal the momentum linearly to this value"
    )
    momentum_anneal_epochs: float = Field(10.0, gt=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    eps: float | None = Field(None, gt=0)
    decay: float = Field(0.99, gt=0, lt=1, description="RMSProp's decay rate")
    weight_decay: float = Field(0.01, ge=0, description="AdamW's decoupled weight decay")
    bias_correction: bool = True
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)


class TrainConfig(_Strict):
    epochs: PositiveInt = 20
    iterations: PositiveInt | None = Field(None, description="total steps; overrides epochs")
    batch_size: PositiveInt = 64
    seed: int = Field(0, ge=0)
    replace: bool = Field(False, description="sample mini-batches with replacement")
    dtype: Literal["float32", "float64"] = "float32"
    patience: PositiveInt | None = Field(None, description="early stopping patience (epochs)")
    monitor: Literal["val_acc", "val_loss"] = "val_acc"
    restore_best: bool = True
    eval_train_size: PositiveInt = 1000
    divergence_factor: float = Field(10.0, gt=1)
    monitor_every: PositiveInt = 50
    keep_path_every: PositiveInt | None = Field(
        None, description="keep the parameters every this many steps (for landscape paths)"
    )


class RunConfig(_Strict):
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)

    @model_validator(mode="after")
    def _consistent(self):
        if self.model.batchnorm and self.train.batch_size < 2 and self.optim.name != "gd":
            raise ValueError("batchnorm needs batch_size >= 2")
        if self.data.preprocess == "pca" and self.data.pca_components is None:
            raise ValueError("preprocess 'pca' needs data.pca_components")
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def format_errors(err: ValidationError) -> str:
    """Every problem of a config, one per line: ``location: message (got value)``."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "config"
        got = e.get("input")
        extra = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {loc}: {e['msg']}{extra}")
    return f"{len(lines)} problem(s) in the configuration:\n" + "\n".join(lines)


def parse_config(data: dict[str, Any] | None) -> RunConfig:
    """Validate a nested dict; raise InputError listing every problem at once."""
    try:
        return RunConfig.model_validate(data or {})
    except ValidationError as e:
        raise InputError(format_errors(e)) from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML configuration file."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise InputError(f"cannot read config file {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise InputError(f"{path} is not valid YAML: {e}") from None
    if data is not None and not isinstance(data, dict):
        raise InputError(f"{path} must hold a mapping of sections, got {type(data).__name__}")
    return parse_config(data)


def merge(base: dict, overrides: dict) -> dict:
    """Deep-merge ``overrides`` (nested dicts; None values are skipped) into a copy of ``base``."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
