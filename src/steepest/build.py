"""From a validated :class:`~steepest.config.RunConfig` to the pieces of a run.

Everything is a deterministic function of the configuration (its seed included), which is
what lets ``--resume`` rebuild exactly the data, model and optimizer of an interrupted run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np

from .config import RunConfig
from .data import Dataset, Preprocessor, load_dataset, train_val_split
from .errors import InputError
from .nn import Model, mlp
from .plan import RunPlan
from .train.settings import TrainSettings


@dataclass(frozen=True)
class RunData:
    """The splits of a run after preprocessing (statistics fitted on the training rows only)."""

    dataset: Dataset
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    preprocessor: Preprocessor | None
    # image rows permuted from height x width x channels to channels-first (a PyTorch model)
    channels_first: bool = False

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def image_shape(self):
        """The image shape when the features are still pixels (no PCA), else None: the
        dataset's own (height, width[, channels]), also when the rows are stored
        channels-first (see ``channels_first``)."""
        if self.preprocessor is not None and self.preprocessor.method in ("pca", "whiten"):
            return None
        return self.dataset.image_shape

    def channels_first_rows(self) -> RunData:
        """These splits with every image row permuted from (H, W, C) to (C, H, W), PyTorch's
        convention (a copy; the labels and the dataset are shared)."""
        h, w, c = self.image_shape

        def permute(X):
            return np.ascontiguousarray(X.reshape(-1, h, w, c).transpose(0, 3, 1, 2)
                                        ).reshape(X.shape[0], -1)

        return replace(self, X_train=permute(self.X_train), X_val=permute(self.X_val),
                       X_test=permute(self.X_test), channels_first=True)

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` of the ``train``, ``val`` or ``test`` split."""
        from ._validate import choice

        choice(name, ("train", "val", "test"), "split")
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")


def build_data(cfg: RunConfig) -> RunData:
    d = cfg.data
    extra = {} if d.target is None else {"target": d.target}
    ds = load_dataset(d.name, data_dir=d.data_dir, seed=cfg.train.seed, **extra)
    X_tr, X_val, y_tr, y_val = train_val_split(ds.X_train, ds.y_train, d.val_fraction,
                                               seed=cfg.train.seed)
    if d.train_subset is not None:
        X_tr, y_tr = X_tr[: d.train_subset], y_tr[: d.train_subset]
    X_te, y_te = ds.X_test, ds.y_test
    pre = None
    if d.preprocess != "none":
        pre = Preprocessor(d.preprocess, n_components=d.pca_components).fit(X_tr)
        X_tr, X_val, X_te = pre.transform(X_tr), pre.transform(X_val), pre.transform(X_te)
    return RunData(ds, X_tr, y_tr, X_val, y_val, X_te, y_te, pre)


def build_model(cfg: RunConfig, n_features: int, n_classes: int) -> Model:
    """The MLP of the config, after checking that training it fits in memory."""
    from ._validate import fits_in_memory

    m = cfg.model
    widths = [n_features, *(h * (2 if m.activation == "maxout" else 1)  # mlp: maxout_k=2
                             for h in m.hidden), n_classes]
    n_params = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))
    # theta, its gradient, the optimizer's state and scratch, the best copy: about 8 vectors,
    # and the activations of one batch
    batch = cfg.train.batch_size
    fits_in_memory(8.0 * 8 * n_params + 8.0 * 4 * batch * sum(widths),
                   f"a model of {n_params:,} parameters (layers {'-'.join(map(str, widths))})")
    return mlp([n_features, *m.hidden, n_classes], activation=m.activation,
               batchnorm=m.batchnorm, dropout=m.dropout, loss=m.loss, reg=m.reg,
               regularizer=m.regularizer, init=m.init, margin=m.margin, hinge=m.hinge,
               l1_ratio=m.l1_ratio)


def torch_description(cfg: RunConfig) -> str:
    """The ``model.json`` text of the config's PyTorch model: the factory, its keyword
    arguments and the SHA-256 of its file (:func:`steepest.torch.describe_factory`). Raises
    :class:`~steepest.torch.TorchUnavailable` (an InputError) without PyTorch."""
    t = cfg.model.torch
    return _steepest_torch(t.factory).describe_factory(t.factory, t.kwargs)


def _steepest_torch(factory: str):
    """:mod:`steepest.torch`; without PyTorch a TorchUnavailable naming the model asked for."""
    try:
        from . import torch as st
    except InputError as e:  # steepest.torch.TorchUnavailable
        raise type(e)(f"the PyTorch model {factory!r}: {e}") from None
    return st


def _input_shape(cfg: RunConfig, module, data: RunData):
    """The shape of one example: the config's ``input_shape``, else the module's own, else the
    dataset's image shape channels-first ((28, 28) -> (1, 28, 28); (32, 32, 3) -> (3, 32,
    32)), else None (flat rows)."""
    if cfg.model.torch.input_shape is not None:
        return tuple(cfg.model.torch.input_shape)
    own = getattr(module, "input_shape", None)
    if own is not None:
        return own
    image = data.image_shape
    if image is None or len(image) not in (2, 3):
        return None
    return (1, *image) if len(image) == 2 else (image[2], image[0], image[1])


def _check_description(description: str, t) -> None:
    """Refuse a run's ``model.json`` that names another factory or other arguments than its
    config (``t``: the ``model.torch`` section), or a model file whose SHA-256 is not the one
    recorded (said for the command line; :func:`steepest.torch.load_described` checks it
    again, and names a damaged description)."""
    import hashlib
    from pathlib import Path

    try:
        d = json.loads(description)
        path, recorded = Path(d["path"]), str(d["sha256"])
        named = (d["factory"], d.get("kwargs") or {})
    except (ValueError, TypeError, KeyError, AttributeError):
        return
    if named != (t.factory.rpartition(":")[2], t.kwargs):
        raise InputError(f"the run's model.json names {d.get('spec', d['factory'])!r} with "
                         f"arguments {named[1]}, its config {t.factory!r} with {t.kwargs}")
    if path.is_file():
        now = hashlib.sha256(path.read_bytes()).hexdigest()
        if now != recorded:
            raise InputError(f"model file {str(path)!r} changed since the run was trained with "
                             f"it (sha256 {recorded[:12]}..., now {now[:12]}...): restore the "
                             f"version the run used, or train a new run")


def _layout(entries):
    """The layout a run's ``model.json`` records; a damaged one is named."""
    from .params import Layout

    try:
        return Layout.from_dict(entries)
    except (KeyError, TypeError, ValueError, InputError):
        raise InputError("the run's model.json holds a damaged layout") from None


def build_torch_model(cfg: RunConfig, data: RunData, description: str | None = None):
    """``(objective, data)``: the config's PyTorch model as a
    :class:`~steepest.torch.TorchObjective`, and the data it reads.

    ``description``: a run folder's ``model.json`` (:func:`torch_description`, plus the
    layout the run was trained with): the file must be unchanged (SHA-256) and give the same
    layout. Image rows stored height x width x channels (CIFAR-10's (32, 32, 3)) are permuted
    to channels-first once here, when the model takes (C, H, W) examples, so that the
    objective reshapes each row straight to PyTorch's layout.
    """
    from ._validate import fits_in_memory

    t = cfg.model.torch
    st = _steepest_torch(t.factory)
    if description is not None:
        _check_description(description, t)
    module = (st.load_factory(t.factory, t.kwargs) if description is None
              else st.load_described(description))
    shape = _input_shape(cfg, module, data)
    image = data.image_shape
    if (image is not None and len(image) == 3 and shape is not None
            and tuple(shape) == (image[2], image[0], image[1]) != tuple(image)):
        data = data.channels_first_rows()  # HWC rows -> CHW rows, once for the whole run
    obj = st.objective(module, t.loss, input_shape=shape, dtype=cfg.train.dtype)
    recorded = None if description is None else json.loads(description).get("layout")
    if recorded is not None and _layout(recorded) != obj.layout:
        raise InputError(f"the PyTorch model {t.factory!r} no longer has the layout its run was "
                         f"trained with ({len(recorded)} tensors recorded, "
                         f"{len(obj.layout)} now; {obj.layout.size:,} parameters)")
    fits_in_memory(8.0 * 8 * obj.n_params, f"a PyTorch model of {obj.n_params:,} parameters")
    try:
        obj.check_data(data.X_train[:2], data.y_train[:2])
    except InputError as e:
        how = ("flat rows" if shape is None else
               f"examples of shape {tuple(shape)}")
        raise InputError(f"{e} (the model {t.factory!r} was given {how} of "
                         f"{data.n_features} features; set the shape of one example with "
                         f"--input-shape or an input_shape attribute of the module)") from None
    return obj, data


def build_objective(cfg: RunConfig, data: RunData, description: str | None = None):
    """``(model, data)``: steepest's MLP of the config, or its PyTorch model (which may
    reorder the image rows, see :func:`build_torch_model`)."""
    if cfg.torch_model is not None:
        return build_torch_model(cfg, data, description)
    return build_model(cfg, data.n_features, data.dataset.n_classes), data


def train_settings(cfg: RunConfig) -> TrainSettings:
    """The trainer's settings; the optimizer "gd" means full-batch gradient descent."""
    return TrainSettings.from_mapping({**cfg.train.model_dump(),
                                       "full_batch": cfg.optim.name == "gd"})


def run_plan(cfg: RunConfig, n_train: int) -> RunPlan:
    """The run's step arithmetic (see :class:`~steepest.plan.RunPlan`)."""
    t = cfg.train
    return RunPlan.make(n_train, t.batch_size, t.epochs, t.iterations,
                        full_batch=cfg.optim.name == "gd", replace=t.replace)


def build_schedule(cfg: RunConfig, plan: RunPlan):
    """The learning rate as a function of the step, from the epoch-based config."""
    from .optim import schedules

    o, s = cfg.optim, cfg.optim.schedule
    spe = plan.steps_per_epoch
    if s.kind == "constant":
        inner = schedules.constant(o.lr)
    elif s.kind == "step":
        inner = schedules.step_decay(o.lr, s.factor, plan.steps(s.every_epochs, "every_epochs"))
    elif s.kind == "exponential":
        inner = schedules.exponential(o.lr, s.k / spe)
    elif s.kind == "inverse_time":
        inner = schedules.inverse_time(o.lr, s.k / spe)
    elif s.kind == "cosine":
        inner = schedules.cosine(o.lr, plan.total_steps, final=s.final)
    else:
        inner = _newer_schedule(cfg, plan)
    if s.warmup_epochs > 0:
        inner = schedules.warmup(inner, plan.steps(s.warmup_epochs, "warmup_epochs"))
    return inner


def _newer_schedule(cfg: RunConfig, plan: RunPlan):
    """Cosine restarts, one-cycle, polynomial decay and reduce-on-plateau (which watches the
    monitored validation metric once an epoch: the Trainer shows it to the optimizer)."""
    from .optim import schedules

    o, s = cfg.optim, cfg.optim.schedule
    if s.kind == "cosine_restarts":
        return schedules.cosine_restarts(o.lr, plan.steps(s.every_epochs, "every_epochs"),
                                         s.mult, s.final)
    if s.kind == "one_cycle":
        return schedules.one_cycle(o.lr, plan.total_steps, pct_start=s.pct_start)
    if s.kind == "polynomial":
        return schedules.polynomial(o.lr, plan.total_steps, s.power)
    mode = "max" if cfg.train.monitor == "val_acc" else "min"
    return schedules.reduce_on_plateau(o.lr, mode=mode, factor=s.factor, patience=s.patience,
                                       threshold=s.threshold, cooldown=s.cooldown,
                                       min_value=s.final)


# config field -> the constructor parameters it may feed (a rule takes the first it has)
_HYPERPARAMETERS = {
    "momentum": ("mu", "momentum"), "beta1": ("beta1",), "beta2": ("beta2",), "eps": ("eps",),
    "decay": ("decay",), "weight_decay": ("weight_decay",),
    "bias_correction": ("bias_correction",), "clip_norm": ("clip_norm",),
    "clip_value": ("clip_value",), "rho": ("rho",), "adaptive": ("adaptive",),
    "lookahead_k": ("k",), "lookahead_alpha": ("alpha",), "update_every": ("update_every",),
}


def _parameters(cls) -> set[str]:
    import inspect

    return {p for p in inspect.signature(cls.__init__).parameters if p != "self"}


def build_optimizer(cfg: RunConfig, model: Model, plan: RunPlan):
    """The update rule of the config. Hyperparameters the config leaves at None keep the
    rule's default; the wrappers (SAM, Lookahead) pass the others to the rule they wrap."""
    from .optim import OPTIMIZERS, make_optimizer, schedules

    o = cfg.optim
    name = "sgd" if o.name == "gd" else o.name
    cls = OPTIMIZERS[name]
    takes = _parameters(cls)
    if name in ("sam", "lookahead"):
        takes |= _parameters(OPTIMIZERS[o.base])
    hyper: dict = {"lr": build_schedule(cfg, plan)}
    for field, names in _HYPERPARAMETERS.items():
        value = getattr(o, field)
        target = next((n for n in names if n in takes), None)
        if value is not None and target is not None:
            hyper[target] = value
    mu = next((n for n in ("mu", "momentum") if n in takes), None)
    if o.momentum_final is not None and mu is not None:
        start = o.momentum if o.momentum is not None else 0.9
        hyper[mu] = schedules.ramp(start, o.momentum_final,
                                   plan.steps(o.momentum_anneal_epochs, "momentum_anneal_epochs"))
    if "decay_mask" in takes:  # decay weights, not biases or normalization parameters
        hyper["decay_mask"] = model.layout.mask(("weight",))
    if getattr(cls, "needs_layout", False):
        hyper["layout"] = model.layout
    if name in ("sam", "lookahead"):
        hyper["base"] = o.base
    return make_optimizer(name, **hyper)


@dataclass(frozen=True)
class RunPieces:
    """Everything :func:`build` makes from a config."""

    config: RunConfig
    data: RunData
    model: Model
    plan: RunPlan
    optimizer: object
    settings: TrainSettings


def build(cfg: RunConfig, description: str | None = None) -> RunPieces:
    """Data, model, plan, optimizer and trainer settings of the run ``cfg`` describes;
    ``description``: the run folder's ``model.json`` of a PyTorch model (see
    :func:`build_torch_model`)."""
    model, data = build_objective(cfg, build_data(cfg), description)
    plan = run_plan(cfg, data.X_train.shape[0])
    return RunPieces(cfg, data, model, plan, build_optimizer(cfg, model, plan),
                     train_settings(cfg))
