"""The lectures' optimization experiments on a run configuration.

- :func:`compare_optimizers`: the same model, the same initial weights and the same batch
  order (one seed) trained with each update rule; overlaid loss and accuracy curves.
- :func:`lr_sweep`: the step-size sweep (the loss after ONE gradient step of each size, from
  the initial weights) and the learning-rate range test (an exponentially increasing rate over
  a short run), with a suggested rate.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._io import atomic_write_json, atomic_write_text
from .build import build_data, build_model
from .config import RunConfig
from .data import batch_indices
from .errors import InputError

# Rates that train the default digits MLP well in a few epochs (per rule).
DEFAULT_LR = {"gd": 0.5, "sgd": 0.1, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.05,
              "rmsprop": 1e-3, "adam": 1e-3, "adamw": 1e-3}


def compare_optimizers(cfg: RunConfig, names: list[str], out_dir: str | Path,
                       lrs: dict[str, float] | None = None, on_event=None) -> list[dict]:
    """Train ``cfg`` once per update rule into ``out_dir/<name>``; write comparison plots.

    Each rule uses ``lrs[name]`` (else :data:`DEFAULT_LR`). Everything else, the seed
    included, is shared, so every run starts from the same weights and sees the same batches.
    """
    from .runs import train_run

    out_dir = Path(out_dir)
    if not names:
        raise InputError("name at least one optimizer to compare")
    unknown = [n for n in names if n not in DEFAULT_LR]
    if unknown:
        raise InputError(f"unknown optimizer(s) {', '.join(unknown)}; allowed: "
                         f"{', '.join(DEFAULT_LR)}")
    lrs = lrs or {}
    rows, results = [], {}
    for name in names:
        lr = lrs.get(name, DEFAULT_LR[name])
        c = cfg.model_copy(deep=True)
        c.optim.name, c.optim.lr = name, lr
        if on_event is not None:
            on_event({"type": "optimizer", "name": name, "lr": lr})
        res = train_run(c, out_dir / name, on_event=on_event, plots=False)
        results[name] = res
        rows.append({"optimizer": name, "lr": lr, **res.summary()})
    _plot_comparison(results, out_dir)
    cols = ["optimizer", "lr", "status", "final_loss", "train_acc", "val_acc", "test_acc",
            "epochs", "seconds"]
    csv = [",".join(cols)] + [",".join(str(r[c]) for c in cols) for r in rows]
    atomic_write_text(out_dir / "comparison.csv", "\n".join(csv) + "\n")
    atomic_write_json(out_dir / "comparison.json", rows)
    return rows


def _plot_comparison(results, out_dir: Path):
    import matplotlib.pyplot as plt

    from .viz import save_figure, smooth

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, res in results.items():
        ax1.plot(np.arange(1, res.losses.size + 1), smooth(res.losses, 0.95), label=name)
        ax2.plot([h["epoch"] for h in res.history], [h["val_acc"] for h in res.history],
                 "o-", ms=3, label=name)
    ax1.set_xlabel("step")
    ax1.set_ylabel("training loss (smoothed)")
    ax1.set_yscale("log")
    ax1.grid(alpha=0.3, which="both")
    ax1.legend()
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("validation accuracy")
    ax2.grid(alpha=0.3)
    ax2.legend()
    fig.suptitle("optimizers from the same start and the same batches")
    save_figure(fig, out_dir / "comparison.png")


def lr_sweep(cfg: RunConfig, out_dir: str | Path | None = None, sample: int = 1000,
             n_steps: int = 100, lr_min: float = 1e-7, lr_max: float = 10.0) -> dict:
    """The step-size sweep and the range test at the initial weights of ``cfg``'s model."""
    from .optim import lr_range_test, step_size_sweep

    data = build_data(cfg)
    model = build_model(cfg, data.n_features, data.dataset.n_classes)
    dtype = np.dtype(cfg.train.dtype)
    theta = model.init_params(cfg.train.seed, dtype=np.float64)
    n = min(sample, data.X_train.shape[0])
    obj = model.objective(data.X_train[:n], data.y_train[:n], train=False)
    sweep = step_size_sweep(obj, theta)
    rng = np.random.default_rng(cfg.train.seed)
    X, y = data.X_train.astype(dtype), data.y_train
    batches: list[np.ndarray] = []

    def batch(th, i):
        while len(batches) <= i:
            batches.extend(batch_indices(X.shape[0], cfg.train.batch_size, rng))
        idx = batches[i]
        return model.loss_and_grad(th, X[idx], y[idx], train=True, rng=rng)

    opt = "sgd" if cfg.optim.name == "gd" else cfg.optim.name
    rt = lr_range_test(batch, theta.astype(dtype), lr_min=lr_min, lr_max=lr_max,
                       n_steps=n_steps, optimizer=opt)
    out = {
        "step_sizes": sweep.step_sizes.tolist(),
        "sweep_losses": sweep.losses.tolist(),
        "loss0": sweep.loss0,
        "best_step": sweep.best_step,
        "range_lrs": rt.lrs.tolist(),
        "range_losses": rt.smoothed.tolist(),
        "suggested_lr": rt.suggestion,
        "optimizer": opt,
    }
    if out_dir is not None:
        out_dir = Path(out_dir)
        _plot_sweep(sweep, rt, out_dir / "lr_sweep.png", opt)
        atomic_write_json(out_dir / "lr_sweep.json", out)
        out["plot"] = str(out_dir / "lr_sweep.png")
    return out


def _plot_sweep(sweep, rt, path, opt):
    import matplotlib.pyplot as plt

    from .viz import save_figure

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    losses = np.where(np.isfinite(sweep.losses), sweep.losses, np.nan)
    ax1.semilogx(sweep.step_sizes, losses, "o-")
    ax1.axhline(sweep.loss0, color="gray", ls="--", lw=1, label="loss before the step")
    ax1.set_xlabel("step size")
    ax1.set_ylabel("loss after one gradient step")
    ax1.set_title("step-size sweep at the initial weights")
    ax1.legend()
    ax1.grid(alpha=0.3, which="both")
    ax2.semilogx(rt.lrs[: rt.smoothed.size], rt.smoothed, "-")
    ax2.axvline(rt.suggestion, color="tab:red", ls="--", lw=1,
                label=f"suggested {rt.suggestion:.2g}")
    ax2.set_xlabel("learning rate")
    ax2.set_ylabel("smoothed mini-batch loss")
    ax2.set_title(f"learning-rate range test ({opt})")
    ax2.legend()
    ax2.grid(alpha=0.3, which="both")
    save_figure(fig, path)
