"""Training plots: loss curves, accuracy gap, update ratios and first-layer weights as images."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .._io import atomic_write_bytes  # noqa: E402


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Render ``fig`` to PNG in memory, write it atomically, close the figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def smooth(values, weight: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average (the smoothing of loss-curve viewers)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    avg = 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out[i] = avg / (1 - weight ** (i + 1))
    return out


def plot_loss(losses, path, steps_per_epoch: int | None = None, title: str = "training loss"):
    """Mini-batch loss per step (raw, faint) and smoothed; log scale when it spans decades."""
    losses = np.asarray(losses, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(7, 4))
    steps = np.arange(1, losses.size + 1)
    ax.plot(steps, losses, color="tab:blue", alpha=0.25, lw=0.8, label="mini-batch loss")
    if losses.size:
        ax.plot(steps, smooth(losses, 0.98 if losses.size > 500 else 0.9), color="tab:blue",
                lw=1.8, label="smoothed")
    finite = losses[np.isfinite(losses) & (losses > 0)]
    if finite.size and finite.max() / finite.min() > 30:
        ax.set_yscale("log")
    ax.set_xlabel("step" + (f" ({steps_per_epoch} per epoch)" if steps_per_epoch else ""))
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_accuracy(history: list[dict], path, title: str = "accuracy"):
    """Train and validation accuracy per epoch; the gap between them is overfitting."""
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(epochs, [h["train_acc"] for h in history], "o-", label="train (fixed subset)")
    ax.plot(epochs, [h["val_acc"] for h in history], "s-", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_update_ratios(history: list[dict], path):
    """``||dW|| / ||W||`` per weight tensor per epoch, against the ~1e-3 rule of thumb."""
    keys = [k for k in history[0] if k.startswith("update_ratio.")] if history else []
    fig, ax = plt.subplots(figsize=(7, 4))
    epochs = [h["epoch"] for h in history]
    for k in keys:
        ax.plot(epochs, [h.get(k, np.nan) for h in history], "o-", label=k.split(".", 1)[1])
    ax.axhline(1e-3, color="gray", ls="--", lw=1, label="1e-3 rule of thumb")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("update / weight norm")
    ax.set_title("update-to-weight ratios")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return save_figure(fig, path)


def plot_weight_tiles(W, image_shape, path, titles=None, max_tiles: int = 64,
                      title: str = "first-layer weights"):
    """Each column of ``W`` (one unit's incoming weights) drawn as an image of ``image_shape``.

    For a linear classifier these are the class templates. Each tile is min-max scaled alone.
    """
    W = np.asarray(W, dtype=np.float64)
    k = min(W.shape[1], max_tiles)
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.4 * cols, 1.5 * rows), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= k:
            continue
        tile = W[:, i].reshape(image_shape)
        lo, hi = tile.min(), tile.max()
        tile = (tile - lo) / (hi - lo) if hi > lo else np.zeros_like(tile)
        ax.imshow(tile, cmap=None if tile.ndim == 3 else "gray", interpolation="nearest")
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_run(result, model, path_dir, image_shape=None, classes=None, steps_per_epoch=None):
    """The standard plots of a finished run into ``path_dir``; returns the written paths."""
    path_dir = Path(path_dir)
    out = [plot_loss(result.losses, path_dir / "loss.png", steps_per_epoch)]
    if result.history:
        out.append(plot_accuracy(result.history, path_dir / "accuracy.png"))
        out.append(plot_update_ratios(result.history, path_dir / "update_ratios.png"))
    if image_shape is not None and int(np.prod(image_shape)) == model.n_features:
        W = model.params(result.theta)["fc1.W"]
        linear = len(model.layout.select(("weight",))) == 1
        out.append(plot_weight_tiles(
            W, image_shape, path_dir / "weights.png",
            titles=classes if linear else None,
            title="class templates (linear classifier)" if linear else "first-layer weights"))
    return out
