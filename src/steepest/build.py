"""From a validated :class:`~steepest.config.RunConfig` to the pieces of a run.

Everything is a deterministic function of the configuration (its seed included), which is
what lets ``--resume`` rebuild exactly the data, model and optimizer of an interrupted run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import RunConfig
from .data import Dataset, Preprocessor, load_dataset, train_val_split
from .nn import Model, mlp


@dataclass
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

    @property
    def n_features(self) -> int:
        return self.X_train.shape[1]

    @property
    def image_shape(self):
        """The image shape when the features are still pixels (no PCA), else None."""
        if self.preprocessor is not None and self.preprocessor.method in ("pca", "whiten"):
            return None
        return self.dataset.image_shape


def build_data(cfg: RunConfig) -> RunData:
    d = cfg.data
    ds = load_dataset(d.name, data_dir=d.data_dir, seed=cfg.train.seed)
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
    m = cfg.model
    return mlp([n_features, *m.hidden, n_classes], activation=m.activation,
               batchnorm=m.batchnorm, dropout=m.dropout, loss=m.loss, reg=m.reg,
               regularizer=m.regularizer, init=m.init, margin=m.margin, hinge=m.hinge,
               l1_ratio=m.l1_ratio)


def steps_per_epoch(cfg: RunConfig, n_train: int) -> int:
    b = min(batch_size(cfg, n_train), n_train)
    return max(1, n_train // b if cfg.train.replace else math.ceil(n_train / b))


def batch_size(cfg: RunConfig, n_train: int) -> int:
    """Full-batch gradient descent ("gd") uses every training row in each step."""
    return n_train if cfg.optim.name == "gd" else cfg.train.batch_size


def build_schedule(cfg: RunConfig, spe: int):
    """The learning rate as a function of the step, from the epoch-based config."""
    from .optim import schedules as S

    o, s = cfg.optim, cfg.optim.schedule
    total = cfg.train.iterations or cfg.train.epochs * spe
    if s.kind == "constant":
        inner = S.constant(o.lr)
    elif s.kind == "step":
        inner = S.step_decay(o.lr, s.factor, max(1, round(s.every_epochs * spe)))
    elif s.kind == "exponential":
        inner = S.exponential(o.lr, s.k / spe)
    elif s.kind == "inverse_time":
        inner = S.inverse_time(o.lr, s.k / spe)
    else:
        inner = S.cosine(o.lr, total, final=s.final)
    if s.warmup_epochs > 0:
        inner = S.warmup(inner, max(1, round(s.warmup_epochs * spe)))
    return inner


def build_optimizer(cfg: RunConfig, model: Model, n_train: int):
    from .optim import make_optimizer
    from .optim import schedules as S

    o = cfg.optim
    spe = steps_per_epoch(cfg, n_train)
    lr = build_schedule(cfg, spe)
    name = "sgd" if o.name == "gd" else o.name
    hyper: dict = {"lr": lr}
    if name in ("momentum", "nesterov"):
        mu = o.momentum
        if o.momentum_final is not None:
            mu = S.ramp(o.momentum, o.momentum_final, max(1, round(o.momentum_anneal_epochs * spe)))
        hyper["mu"] = mu
    elif name == "rmsprop":
        hyper["decay"] = o.decay
    elif name in ("adam", "adamw"):
        hyper.update(beta1=o.beta1, beta2=o.beta2)
        if name == "adam":
            hyper["bias_correction"] = o.bias_correction
        else:
            hyper["weight_decay"] = o.weight_decay
            hyper["decay_mask"] = model.layout.mask(("weight",))
    if o.eps is not None and name in ("adagrad", "rmsprop", "adam", "adamw"):
        hyper["eps"] = o.eps
    return make_optimizer(name, **hyper)
