"""Plots. Each function returns a matplotlib Figure built without pyplot (no backend is chosen,
no file is written); :func:`save_figure` and :func:`save_figures` write them atomically."""

from .plots import (
    FORMATS,
    figure_and_axes,
    new_figure,
    plot_accuracy,
    plot_loss,
    plot_run,
    plot_sharpness,
    plot_update_ratios,
    plot_weight_tiles,
    save_figure,
    save_figures,
    smooth,
)

__all__ = [
    "FORMATS", "figure_and_axes", "new_figure", "plot_accuracy", "plot_loss", "plot_run",
    "plot_sharpness", "plot_update_ratios", "plot_weight_tiles", "save_figure", "save_figures",
    "smooth",
]
