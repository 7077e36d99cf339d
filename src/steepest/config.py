"""The configuration of a training run, validated with pydantic.

One schema serves ``steepest train --config FILE.yaml``, the ``config.yaml`` of every run
directory (so ``--resume`` rebuilds exactly the same run) and the hyperparameter search. Unknown
keys, wrong types and out-of-range values are all reported at once.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from ._bounded import check_size, load_yaml, short_repr
from .errors import InputError


def _takes_bool(annotation) -> bool:
    return annotation is bool or bool in typing.get_args(annotation)


class _Strict(BaseModel):
    """Unknown keys, NaN and infinities are refused, and so is true/false for a number
    (``epochs: true`` is not one epoch)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value, info):
        field = cls.model_fields.get(info.field_name)
        if field is None or _takes_bool(field.annotation):
            return value
        if isinstance(value, bool) or (isinstance(value, list)
                                       and any(isinstance(v, bool) for v in value)):
            raise ValueError(f"expected a number or a name, not {str(value).lower()}")
        return value


KNOWN_DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10", "spiral", "blobs", "iris",
                  "wine", "breast-cancer")


class DataConfig(_Strict):
    name: str = Field("digits", description=(
        f"a dataset ({', '.join(KNOWN_DATASETS)}) or the path of one's own: a CSV, an .npz "
        f"with X and y, or a folder of class folders of images"))
    target: str | None = Field(None, description="the label column of a CSV dataset")
    data_dir: str | None = None
    val_fraction: float = Field(0.1, gt=0, lt=1)
    preprocess: Literal["none", "center", "standardize", "minmax", "pca", "whiten"] = "none"
    pca_components: PositiveInt | None = None
    train_subset: PositiveInt | None = Field(
        None, description="use only this many training rows (after the validation split)"
    )


    @field_validator("name")
    @classmethod
    def _known_or_a_path(cls, name: str) -> str:
        from .data.own import looks_like_path

        key = name.strip().lower().replace("_", "-")
        if key in KNOWN_DATASETS or key in ("fashion", "fmnist", "cifar", "cifar-10"):
            return name
        if looks_like_path(name):
            if not Path(name).expanduser().exists():
                raise ValueError(f"no dataset file or folder {name!r}")
            return name
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(KNOWN_DATASETS)}, or "
                         f"the path of a .csv, an .npz or a folder of class folders of images")


TORCH_LOSSES = ("cross_entropy", "mse")  # steepest.torch.LOSSES, without importing torch


class TorchModelConfig(_Strict):
    """A PyTorch module as the model (``--torch-model FILE.py:FACTORY``). The run folder keeps
    this reference plus ``model.json`` (the file's SHA-256 and the layout), never a pickled
    module, so that resuming and analysing the run rebuild the very same model."""

    factory: str | None = Field(None, description=(
        "a PyTorch model: FILE.py:FACTORY, a function (or class) of a Python file returning a "
        "torch.nn.Module; replaces steepest's MLP (needs pip install 'steepest[torch]')"))
    kwargs: dict[str, Any] = Field(default_factory=dict, description=(
        "keyword arguments of the factory, e.g. model.torch.kwargs.dropout=0.5"))
    loss: Literal[TORCH_LOSSES] = Field("cross_entropy", description="the PyTorch model's loss")
    input_shape: list[PositiveInt] | None = Field(None, description=(
        "the shape of one example, e.g. 1,28,28 (default: the module's own input_shape, else "
        "the dataset's image shape channels-first, else flat rows)"))

    @field_validator("factory")
    @classmethod
    def _file_and_name(cls, factory: str | None) -> str | None:
        if factory is not None and (":" not in factory or not factory.rpartition(":")[0]
                                    or not factory.rpartition(":")[2]):
            raise ValueError("a PyTorch model is FILE.py:FACTORY (e.g. examples/lenet.py:make)")
        return factory


# the settings of steepest's own MLPs, which a PyTorch model (model.torch) replaces
MLP_FIELDS = ("hidden", "activation", "batchnorm", "dropout", "loss", "hinge", "margin", "init",
              "regularizer", "reg", "l1_ratio")


class ModelConfig(_Strict):
    hidden: list[PositiveInt] = Field(default_factory=lambda: [64])
    activation: Literal["relu", "leaky_relu", "sigmoid", "tanh", "maxout"] = "relu"
    batchnorm: bool = False
    dropout: float | None = Field(None, gt=0, le=1, description="keep-probability p")
    loss: Literal["softmax", "svm", "l2", "l1"] = "softmax"
    hinge: Literal["weston-watkins", "crammer-singer"] = "weston-watkins"
    margin: float = Field(1.0, ge=0)
    init: Literal["zeros", "small", "xavier", "he"] | None = None
    regularizer: Literal["l2", "l1", "elastic", "none"] = "l2"
    reg: float = Field(0.0, ge=0)
    l1_ratio: float = Field(0.5, ge=0, le=1)
    torch: TorchModelConfig = Field(default_factory=TorchModelConfig)

    def mlp_settings(self) -> list[str]:
        """The MLP settings that differ from their defaults (``model.hidden``, ...)."""
        fields = type(self).model_fields
        return [f"model.{name}" for name in MLP_FIELDS
                if getattr(self, name) != fields[name].get_default(call_default_factory=True)]

    @model_validator(mode="after")
    def _one_kind_of_model(self):
        t = self.torch
        if t.factory is not None:
            changed = self.mlp_settings()
            if changed:
                one = len(changed) == 1
                raise ValueError(
                    f"{', '.join(changed)} {'is a setting' if one else 'are settings'} of "
                    f"steepest's MLPs; the PyTorch model {t.factory!r} takes its architecture and "
                    f"initialization from its file: leave {'it' if one else 'them'} out")
        elif t.kwargs or t.input_shape is not None or t.loss != "cross_entropy":
            raise ValueError("model.torch.kwargs, loss and input_shape need model.torch.factory "
                             "(--torch-model FILE.py:FACTORY)")
        return self


class ScheduleConfig(_Strict):
    kind: Literal["constant", "step", "exponential", "inverse_time", "cosine", "cosine_restarts",
                  "one_cycle", "polynomial", "plateau"] = "constant"
    factor: float = Field(0.1, gt=0, le=1, description="step and plateau: multiply the rate "
                                                       "by this")
    every_epochs: float = Field(10.0, gt=0, description="step decay: every this many epochs; "
                                                        "cosine restarts: the first period")
    k: float = Field(0.1, ge=0, description="exponential / 1/t decay rate, per epoch")
    final: float = Field(0.0, ge=0, description="cosine, cosine restarts: the final rate; "
                                                "plateau: the lowest rate")
    warmup_epochs: float = Field(0.0, ge=0, description="linear warm-up length, in epochs")
    mult: PositiveInt = Field(1, description="cosine restarts: each period this many times "
                                             "longer than the last")
    power: float = Field(1.0, gt=0, description="polynomial decay's power")
    pct_start: float = Field(0.3, gt=0, lt=1, description="one-cycle: the share of rising")
    patience: int = Field(10, ge=0, description="plateau: epochs without improvement before "
                                                "the rate drops")
    cooldown: int = Field(0, ge=0, description="plateau: epochs to wait after a drop")
    threshold: float = Field(1e-4, ge=0, description="plateau: the relative change that counts "
                                                     "as improvement")


RULES = ("gd", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam",
         "radam", "adamax", "adadelta", "adafactor", "lion", "muon", "sgd_schedule_free",
         "adamw_schedule_free", "sam", "lookahead", "shampoo")
BaseRule = Literal["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "nadam",
                   "radam", "adamax", "adadelta", "lion"]


class OptimConfig(_Strict):
    """The update rule. Hyperparameters left at None take the rule's own default (so a rule
    that has no such hyperparameter simply ignores it)."""

    name: Literal[RULES] = "momentum"
    lr: float = Field(0.05, gt=0)
    momentum: float | None = Field(None, ge=0, lt=1, description="momentum and Nesterov's mu, "
                                                                 "Muon's and schedule-free SGD's "
                                                                 "momentum")
    momentum_final: float | None = Field(
        None, ge=0, lt=1, description="anneal the momentum linearly to this value"
    )
    momentum_anneal_epochs: float = Field(10.0, gt=0)
    beta1: float | None = Field(None, ge=0, lt=1)
    beta2: float | None = Field(None, ge=0, lt=1)
    eps: float | None = Field(None, gt=0)
    decay: float | None = Field(None, gt=0, lt=1, description="RMSProp's decay rate")
    weight_decay: float | None = Field(None, ge=0, description="decoupled weight decay (AdamW, "
                                                               "Lion, Muon, ...)")
    bias_correction: bool | None = None
    clip_norm: float | None = Field(None, gt=0, description="clip the gradient's global norm")
    clip_value: float | None = Field(None, gt=0, description="clip each gradient entry")
    base: BaseRule = Field("sgd", description="the rule SAM and Lookahead wrap")
    rho: float | None = Field(None, gt=0, description="SAM's neighbourhood radius")
    adaptive: bool | None = Field(None, description="SAM: the adaptive variant (ASAM)")
    lookahead_k: PositiveInt | None = Field(None, description="Lookahead: steps between syncs")
    lookahead_alpha: float | None = Field(None, gt=0, le=1, description="Lookahead: slow step")
    update_every: PositiveInt | None = Field(None, description="Shampoo: steps between inverse "
                                                               "roots")
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
    track_sharpness: PositiveInt | None = Field(
        None, description="every this many steps, the largest Hessian eigenvalue of the loss "
                          "on the fixed training subset (eval_train_size rows)")


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

    @property
    def torch_model(self) -> str | None:
        """The ``FILE.py:FACTORY`` of a PyTorch model, or None for steepest's MLP."""
        return self.model.torch.factory

    def to_yaml(self) -> str:
        """The config as YAML, without the settings of the kind of model it does not use (the
        ``torch`` section of an MLP run, the MLP settings of a PyTorch run: all defaults)."""
        data = self.model_dump(mode="json")
        if self.torch_model is None:
            data["model"].pop("torch")
        else:
            data["model"] = {"torch": data["model"]["torch"]}
        return yaml.safe_dump(data, sort_keys=False)


def format_errors(err: ValidationError) -> str:
    """Every problem of a config, one per line: ``location: message (got value)``."""
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "config"
        got = e.get("input")
        if e["type"] == "literal_error":
            allowed = e.get("ctx", {}).get("expected", "")
            leaf = str(e["loc"][-1]) if e["loc"] else "value"
            lines.append(f"  {loc}: unknown {leaf} {short_repr(got)}; allowed: "
                         f"{allowed.replace(' or ', ', ')}")
            continue
        extra = "" if isinstance(got, dict) else f" (got {short_repr(got)})"
        lines.append(f"  {loc}: {e['msg']}{extra}")
    return f"{len(lines)} problem(s) in the configuration:\n" + "\n".join(lines)


def parse_config(data: dict[str, Any] | None) -> RunConfig:
    """Validate a nested dict; raise InputError listing every problem at once."""
    check_size(data, "the configuration")
    try:
        return RunConfig.model_validate(data or {})
    except ValidationError as e:
        raise InputError(format_errors(e)) from None


def load_config(path: str | Path, require_content: bool = False) -> RunConfig:
    """Read and validate a YAML configuration file (bounded in size, nesting and aliases).

    With ``require_content`` an empty file is refused instead of meaning "all defaults" (a run
    folder's config must say what the run was).
    """
    path = Path(path)
    data = load_yaml(path, "config file")
    if data is None and require_content:
        raise InputError(f"{path} is empty; a run folder's config.yaml must hold the run's "
                         f"configuration")
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


def field_of(dotted: str):
    """The pydantic field at a dotted path (``"optim.lr"``), or None if there is none; a key
    inside a free mapping (``model.torch.kwargs.dropout``) is the mapping's field."""
    model: Any = RunConfig
    info = None
    for part in dotted.split("."):
        if info is not None and typing.get_origin(model) is dict:
            return info  # a key inside a free mapping (model.torch.kwargs.dropout)
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        info = fields[part]
        model = info.annotation
    return info


def nest(values: dict[str, Any]) -> dict:
    """Dotted values (``{"optim.lr": 0.1}``) as a nested dict (``{"optim": {"lr": 0.1}}``)."""
    nested: dict = {}
    for dotted, value in values.items():
        node = nested
        *path, leaf = dotted.split(".")
        for part in path:
            node = node.setdefault(part, {})
        node[leaf] = value
    return nested


def set_values(base: dict, values: dict[str, Any]) -> dict:
    """A copy of the nested config dict ``base`` with dotted ``values`` set (None: unchanged).

    The one override mechanism: command-line options, search spaces and ``compare --vary`` all
    name what they change by its dotted path.
    """
    unknown = [k for k in values if field_of(k) is None]
    if unknown:
        raise InputError(f"unknown configuration key(s) {', '.join(map(repr, unknown))}; use "
                         f"dotted paths such as optim.lr, model.hidden, train.batch_size")
    return merge(base, nest(values))


def with_values(base: RunConfig | dict | None, values: dict[str, Any]) -> RunConfig:
    """``base`` (a config, a nested dict or None for the defaults) with dotted ``values``
    set, validated: every problem is reported at once."""
    if isinstance(base, RunConfig):
        base = base.model_dump(mode="json")
    return parse_config(set_values(base or {}, values))


def _leaves(model, prefix=""):
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            yield from _leaves(sub, path + ".")
        else:
            yield path, info


def schema_snapshot() -> dict:
    """Every leaf of the run config: ``path -> (default, choices, description)``.

    The command line's help texts read a copy of this (``steepest/cli/schema.py``) so that
    ``steepest --help`` need not import pydantic; a test keeps the copy equal to this.
    """
    out = {}
    for path, info in _leaves(RunConfig):
        choices = next((typing.get_args(a) for a in (info.annotation, *typing.get_args(
            info.annotation)) if typing.get_origin(a) is Literal), ())
        default = info.get_default(call_default_factory=True)
        out[path] = (default, tuple(choices), info.description or "")
    return out
