"""Training plots: loss curves, accuracy gap, update ratios and first-layer weights as images.

Every plotting function returns a :class:`matplotlib.figure.Figure` built without pyplot, so
it never picks a backend, never registers a figure with pyplot and never writes a file; pass
``ax`` to draw into an axes of your own. Write figures with :func:`save_figure` or
:func:`save_figures`, or show them in a notebook as they are.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from .._io import atomic_write_bytes
from ..errors import InputError

FORMATS = ("png", "svg", "pdf")


def new_figure(figsize: tuple[float, float] = (7, 4)) -> Figure:
    """A new Figure made without pyplot: nothing registered globally, no backend chosen."""
    return Figure(figsize=figsize, layout="constrained")


def figure_and_axes(ax=None, figsize: tuple[float, float] = (7, 4)):
    """``(ax.figure, ax)`` when ``ax`` is given, else a new pyplot-free Figure and its axes."""
    if ax is not None:
        return ax.figure, ax
    fig = new_figure(figsize)
    return fig, fig.subplots()


def _format(path: Path, format: str | None) -> str:
    fmt = format if format is not None else path.suffix.lstrip(".")
    fmt = str(fmt).lower()
    if fmt not in FORMATS:
        where = "format" if format is not None else f"the suffix of {str(path)!r}"
        raise InputError(f"cannot write a figure as {fmt!r} ({where}); "
                         f"allowed formats: {', '.join(FORMATS)}")
    return fmt


def save_figure(fig: Figure, path: str | Path, dpi: int = 110, format: str | None = None
                ) -> Path:
    """Render ``fig`` in memory and write it to ``path`` atomically; returns the path.

    ``format`` (png, svg or pdf) defaults to the suffix of ``path``. The figure stays open
    and unchanged, so it can be saved again or shown.
    """
    path = Path(path)
    fmt = _format(path, format)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def save_figures(figures: Mapping[str, Figure], out_dir: str | Path, format: str = "png",
                 dpi: int = 110) -> list[Path]:
    """Write each figure to ``out_dir/<stem>.<format>``; returns the paths in mapping order."""
    out_dir = Path(out_dir)
    fmt = _format(out_dir, format)  # checked before anything is written
    return [save_figure(fig, out_dir / f"{stem}.{fmt}", dpi=dpi, format=fmt)
            for stem, fig in figures.items()]


def smooth(values, weight: float = 0.9) -> np.ndarray:
    """Bias-corrected exponential moving average (the smoothing of loss-curve viewers)."""
    values = np.asarray(values, dtype=np.float64)
    out = np.empty_like(values)
    avg = 0.0
    for i, v in enumerate(values):
        avg = weight * avg + (1 - weight) * v
        out[i] = avg / (1 - weight ** (i + 1))
    return out


def plot_loss(losses, steps_per_epoch: int | None = None, title: str = "training loss", *,
              diverged: bool = False, ax=None) -> Figure:
    """Mini-batch loss per step (raw, faint) and smoothed; log scale when it spans decades.

    Non-finite losses (inf, NaN) are drawn as red crosses along the top edge; with
    ``diverged`` the last step (the one that tripped the divergence detector) is marked. Short
    runs get a marker on every step, so a run that blew up after two steps is still visible.
    """
    from matplotlib.transforms import blended_transform_factory

    losses = np.asarray(losses, dtype=np.float64)
    fig, ax = figure_and_axes(ax, (7, 4))
    steps = np.arange(1, losses.size + 1)
    ok = np.isfinite(losses)
    marker = "o" if losses.size < 50 else None
    ax.plot(steps[ok], losses[ok], color="tab:blue", alpha=0.25 if marker is None else 0.8,
            lw=0.8, marker=marker, ms=4, label="mini-batch loss")
    if ok.sum() > 1:
        ax.plot(steps[ok], smooth(losses[ok], 0.98 if losses.size > 500 else 0.9),
                color="tab:blue", lw=1.8, label="smoothed")
    top = blended_transform_factory(ax.transData, ax.transAxes)
    if (~ok).any():
        ax.plot(steps[~ok], np.full((~ok).sum(), 0.97), "x", color="tab:red", ms=9, mew=2,
                transform=top, label="loss not finite (inf or NaN)")
    if diverged and losses.size:
        ax.axvline(losses.size, color="tab:red", ls="--", lw=1,
                   label=f"divergence detected (step {losses.size})")
    finite = losses[ok & (losses > 0)]
    if finite.size and finite.max() / finite.min() > 30:
        ax.set_yscale("log")
    ax.set_xlabel("step" + (f" ({steps_per_epoch} per epoch)" if steps_per_epoch else ""))
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_accuracy(history: list[dict], title: str = "accuracy", *, ax=None) -> Figure:
    """Train and validation accuracy per epoch; the gap between them is overfitting."""
    epochs = [h["epoch"] for h in history]
    fig, ax = figure_and_axes(ax, (7, 4))
    ax.plot(epochs, [h["train_acc"] for h in history], "o-", label="train (fixed subset)")
    ax.plot(epochs, [h["val_acc"] for h in history], "s-", label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_update_ratios(history: list[dict], *, ax=None) -> Figure:
    """``||dW|| / ||W||`` per weight tensor per epoch, against the ~1e-3 rule of thumb."""
    keys = [k for k in history[0] if k.startswith("update_ratio.")] if history else []
    fig, ax = figure_and_axes(ax, (7, 4))
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
    return fig


def plot_sharpness(rows, *, ax=None, title: str = "sharpness against the stability bound"
                   ) -> Figure:
    """The largest Hessian eigenvalue along training (rows of step, value, bound) with the
    bound ``2 / lr`` (``(2 + 2 mu) / lr`` with momentum) that gradient descent is stable under:
    at the edge of stability the sharpness rises to the bound and hovers there."""
    rows = np.asarray(rows, dtype=np.float64)
    fig, ax = figure_and_axes(ax, (7, 4))
    ax.plot(rows[:, 0], rows[:, 1], "o-", ms=3, color="#0072B2",
            label="sharpness (top eigenvalue)")
    ax.plot(rows[:, 0], rows[:, 2], "--", color="#D55E00", label="stability bound 2 / lr")
    ax.set_xlabel("step")
    ax.set_ylabel("largest Hessian eigenvalue")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_weight_tiles(W, image_shape, titles=None, max_tiles: int = 100,
                      title: str = "first-layer weights") -> Figure:
    """Each column of ``W`` (one unit's incoming weights) drawn as an image of ``image_shape``.

    For a linear classifier these are the class templates. Each tile is min-max scaled alone.
    At most ``max_tiles`` units are drawn, and the title then says how many of how many.
    """
    W = np.asarray(W, dtype=np.float64)
    n_units = W.shape[1]
    k = min(n_units, max_tiles)
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    fig = Figure(figsize=(1.2 * cols, 1.2 * rows + 0.5), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
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
    shown = f"all {n_units} units" if k == n_units else f"the first {k} of {n_units} units"
    fig.suptitle(f"{title} ({shown})")
    return fig


def plot_run(losses, history: list[dict], *, first_layer_weights=None, image_shape=None,
             classes=None, linear: bool = False, steps_per_epoch: int | None = None,
             diverged: bool = False, sharpness=None) -> dict[str, Figure]:
    """The standard plots of a finished run, keyed by file stem.

    ``loss`` always; ``sharpness`` when rows of it are given; ``accuracy`` and
    ``update_ratios`` when ``history`` has epochs;
    ``weights`` when ``first_layer_weights`` (n_features, units) is given and
    ``image_shape`` holds n_features values: each column drawn as an image, titled with
    ``classes`` and called class templates when ``linear`` (the model is one linear layer).
    """
    out = {"loss": plot_loss(losses, steps_per_epoch, diverged=diverged)}
    if sharpness is not None and len(sharpness):
        out["sharpness"] = plot_sharpness(sharpness)
    if history:
        out["accuracy"] = plot_accuracy(history)
        out["update_ratios"] = plot_update_ratios(history)
    if first_layer_weights is not None and image_shape is not None:
        W = np.asarray(first_layer_weights)
        if W.ndim == 2 and int(np.prod(image_shape)) == W.shape[0]:
            out["weights"] = plot_weight_tiles(
                W, image_shape, titles=classes if linear else None,
                title="class templates (linear classifier)" if linear else "first-layer weights")
    return out
