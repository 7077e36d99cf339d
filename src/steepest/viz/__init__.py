"""Plots. Each function draws with matplotlib's Agg backend and writes a PNG atomically."""

from .plots import (
    plot_accuracy,
    plot_loss,
    plot_run,
    plot_update_ratios,
    plot_weight_tiles,
    save_figure,
    smooth,
)

__all__ = [
    "plot_accuracy", "plot_loss", "plot_run", "plot_update_ratios", "plot_weight_tiles",
    "save_figure", "smooth",
]
