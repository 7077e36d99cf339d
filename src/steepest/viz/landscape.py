"""Loss-landscape plots in the style of Li et al. (2018): lines, contours, heatmaps, surfaces.

Every function takes plain arrays. A surface is sampled on a grid: ``x`` (G_x,) and ``y``
(G_y,) are strictly increasing coordinates along two directions, and ``loss[j, i]`` is the
loss at ``(x[i], y[j])``, so ``loss`` has shape (G_y, G_x), the layout of ``np.meshgrid(x, y)``.
Non-finite values (points where the loss diverged) are masked, never plotted, and the title
says how many there were. Each function returns a :class:`matplotlib.figure.Figure` built
without pyplot (pass ``ax`` to draw into an axes of your own) and writes nothing; save it with
:func:`steepest.viz.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib import colors as mcolors
from matplotlib import ticker as mticker
from matplotlib import transforms as mtransforms
from matplotlib.figure import Figure

from ..errors import InputError
from .plots import figure_and_axes

LOG_RATIO = 100.0  # "auto" spacing turns logarithmic when max / min of the finite values exceeds it
MAX_PATH_LABELS = 12
BAD_COLOR = "0.8"  # light gray: where a heatmap or filled contour has no finite value

__all__ = [
    "plot_contour", "plot_heatmap", "plot_landscape_set", "plot_line", "plot_surface3d",
]


# ----------------------------------------------------------------------------- validation

def _coords(values, name: str) -> np.ndarray:
    """A 1-D, finite, strictly increasing coordinate array of at least two points."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or a.size < 2:
        raise InputError(f"{name} must be a 1-D array of at least 2 coordinates; "
                         f"got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} must be finite; it has {int(np.sum(~np.isfinite(a)))} "
                         "NaN/inf entries")
    if not np.all(np.diff(a) > 0):
        raise InputError(f"{name} must be strictly increasing")
    return a


def _grid(x, y, z, name: str = "loss") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a surface; returns float arrays with ``z`` of shape (len(y), len(x))."""
    x = _coords(x, "x")
    y = _coords(y, "y")
    z = np.asarray(z, dtype=np.float64)
    want = (y.size, x.size)
    if z.shape != want:
        hint = " (it looks transposed: rows follow y, columns follow x)" \
            if z.shape == want[::-1] else ""
        raise InputError(f"{name} must have shape (len(y), len(x)) = {want}, with "
                         f"{name}[j, i] the value at (x[i], y[j]); got {z.shape}{hint}")
    return x, y, z


def _series(values, n: int, name: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.shape != (n,):
        raise InputError(f"{name} must have shape ({n},), the shape of t; got {a.shape}")
    return a


def _path(path_xy, path_labels) -> tuple[np.ndarray | None, list | None]:
    if path_xy is None:
        if path_labels is not None:
            raise InputError("path_labels was given without path_xy")
        return None, None
    p = np.asarray(path_xy, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] < 1:
        raise InputError(f"path_xy must have shape (T, 2) with T >= 1 points; got {p.shape}")
    if path_labels is not None:
        path_labels = list(path_labels)
        if len(path_labels) != p.shape[0]:
            raise InputError(f"path_labels must have one entry per path point "
                             f"({p.shape[0]}); got {len(path_labels)}")
    return p, path_labels


# ----------------------------------------------------------------------------- helpers

def _nonfinite_note(z: np.ndarray) -> str:
    bad = int(np.sum(~np.isfinite(z)))
    if not bad:
        return ""
    return f"{bad} of {z.size} points non-finite (diverged), masked"


def _titled(ax, title: str, notes: Sequence[str], **kwargs) -> None:
    """The title, with each note on a line of its own below it."""
    notes = [n for n in notes if n]
    if notes:
        kwargs.setdefault("fontsize", 10)
    ax.set_title("\n".join([t for t in (title, *notes) if t]), **kwargs)


def _limits(ax, box: tuple[float, float, float, float], p: np.ndarray | None) -> None:
    """Axes fitted to ``box`` (xlo, xhi, ylo, yhi), widened (5% margin) where the path leaves it."""
    xlo, xhi, ylo, yhi = box
    if p is not None and np.isfinite(p).any():
        px, py = p[:, 0][np.isfinite(p[:, 0])], p[:, 1][np.isfinite(p[:, 1])]
        mx, my = 0.05 * (xhi - xlo), 0.05 * (yhi - ylo)
        if px.size and px.min() < xlo:
            xlo = px.min() - mx
        if px.size and px.max() > xhi:
            xhi = px.max() + mx
        if py.size and py.min() < ylo:
            ylo = py.min() - my
        if py.size and py.max() > yhi:
            yhi = py.max() + my
    ax.set_xlim(xlo, xhi)
    ax.set_ylim(ylo, yhi)


def _use_log(finite: np.ndarray, scale: str) -> tuple[bool, str]:
    """Whether to space levels/colours logarithmically, with a note when "log" is refused."""
    if scale not in ("auto", "log", "linear"):
        raise InputError(f"scale must be 'auto', 'log' or 'linear'; got {scale!r}")
    if scale == "linear" or finite.size == 0:
        return False, ""
    lo, hi = float(finite.min()), float(finite.max())
    if scale == "log":
        if lo <= 0:
            return False, "log scale needs positive values; linear used"
        if hi == lo:
            return False, ""
        return True, ""
    return lo > 0 and hi / lo > LOG_RATIO, ""


def _levels(finite: np.ndarray, levels, n_levels: int) -> tuple[np.ndarray | None, bool, str]:
    """Contour levels from ``levels`` ('auto' | 'log' | 'linear' | increasing values).

    Returns ``(levels, log, note)``; ``levels`` is None when there is nothing to contour
    (no finite value, or a constant surface).
    """
    if isinstance(levels, str):
        if levels not in ("auto", "log", "linear"):
            raise InputError("levels must be 'auto', 'log', 'linear' or an increasing "
                             f"sequence of at least 2 values; got {levels!r}")
        scale = levels
        explicit = None
    else:
        explicit = np.asarray(levels, dtype=np.float64)
        if explicit.ndim != 1 or explicit.size < 2 or not np.all(np.diff(explicit) > 0):
            raise InputError("levels must be 'auto', 'log', 'linear' or an increasing "
                             f"sequence of at least 2 values; got {levels!r}")
        scale = "linear"
    if int(n_levels) < 2:
        raise InputError(f"n_levels must be at least 2; got {n_levels}")
    if finite.size == 0:
        return None, False, "no finite values to plot"
    lo, hi = float(finite.min()), float(finite.max())
    if explicit is not None:
        log = explicit[0] > 0 and explicit[-1] / explicit[0] > LOG_RATIO
        return explicit, bool(log), ""
    if hi == lo:
        return None, False, f"constant surface (value {lo:.4g} everywhere)"
    log, note = _use_log(finite, scale)
    if log:
        return np.geomspace(lo, hi, int(n_levels)), True, note
    return np.linspace(lo, hi, int(n_levels)), False, note


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def _level_colorbar(fig, ax, cs, levels: np.ndarray, label: str) -> None:
    """Colour bar ticked at about seven of the contour levels, written with 3 digits."""
    cbar = fig.colorbar(cs, ax=ax)
    idx = np.unique(np.round(np.linspace(0, len(levels) - 1, min(len(levels), 7))).astype(int))
    cbar.set_ticks(levels[idx])
    cbar.ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: _fmt(v)))
    cbar.minorticks_off()
    cbar.set_label(label)


def _mark_extreme(ax, x, y, z: np.ndarray, which: str = "min", name: str = "loss") -> None:
    """Star at the grid point of smallest (or largest) finite value, described in the legend."""
    finite = np.isfinite(z)
    if not finite.any() or np.ptp(z[finite]) == 0:  # nothing, or every point is extreme
        return
    zz = np.where(finite, z, np.inf if which == "min" else -np.inf)
    j, i = np.unravel_index(np.argmin(zz) if which == "min" else np.argmax(zz), z.shape)
    ax.plot(x[i], y[j], marker="*", ms=15, color="gold", mec="black", mew=1.0, ls="none",
            zorder=5, label=f"grid {which}: {name} {_fmt(z[j, i])} at ({_fmt(x[i])}, {_fmt(y[j])})")


def _draw_path(ax, p: np.ndarray, labels: list | None) -> None:
    ax.plot(p[:, 0], p[:, 1], "-", color="tab:red", lw=1.6, zorder=6, label="optimization path")
    if p.shape[0] > 1:
        ax.plot(p[:, 0], p[:, 1], ".", color="tab:red", ms=4, zorder=6)
    ax.plot(p[0, 0], p[0, 1], "o", ms=8, mfc="white", mec="tab:red", mew=2, ls="none",
            zorder=7, label="start")
    ax.plot(p[-1, 0], p[-1, 1], "X", ms=10, color="tab:red", mec="white", mew=1, ls="none",
            zorder=7, label="end")
    if labels is not None:
        n = p.shape[0]
        picks = np.unique(np.round(np.linspace(0, n - 1, min(n, MAX_PATH_LABELS))).astype(int))
        for k in picks:
            if labels[k] is None:
                continue
            ax.annotate(str(labels[k]), (p[k, 0], p[k, 1]), xytext=(4, 4),
                        textcoords="offset points", fontsize=7, color="tab:red", zorder=8,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                              "alpha": 0.7})


def _cmap(name: str):
    return matplotlib.colormaps.get_cmap(name).with_extremes(bad=BAD_COLOR)


# ----------------------------------------------------------------------------- 1-D

def plot_line(t, loss, *, acc=None, extra: Mapping[str, object] | None = None,
              extra_acc: Mapping[str, object] | None = None, label: str = "loss",
              acc_label: str = "accuracy", xlabel: str = "t", ylabel: str = "loss",
              title: str = "loss along a line", mark_endpoints: bool = False,
              endpoint_labels: tuple[str, str] = ("A", "B"), log: bool = False,
              ax=None) -> Figure:
    """Loss along a 1-D slice (random direction or interpolation), accuracy on a right axis.

    ``extra`` adds more loss series (label -> array, e.g. test loss) and ``extra_acc`` more
    accuracy series, all of shape ``t.shape``. ``mark_endpoints`` draws vertical lines at
    t=0 and t=1, labelled ``endpoint_labels``: for ``(1 - t) theta_a + t theta_b`` those are
    the two solutions. Non-finite values leave gaps in the curves.
    """
    t = np.asarray(t, dtype=np.float64)
    if t.ndim != 1 or t.size < 1:
        raise InputError(f"t must be a 1-D array of at least 1 point; got shape {t.shape}")
    n = t.size
    loss = _series(loss, n, "loss")
    acc = None if acc is None else _series(acc, n, "acc")
    extra = {k: _series(v, n, f"extra[{k!r}]") for k, v in (extra or {}).items()}
    extra_acc = {k: _series(v, n, f"extra_acc[{k!r}]") for k, v in (extra_acc or {}).items()}

    def clean(a):
        return np.where(np.isfinite(a), a, np.nan)

    fig, ax = figure_and_axes(ax, (7, 4))
    handles = ax.plot(t, clean(loss), "-", color="tab:blue", lw=1.8, label=label)
    for (name, v), style in zip(extra.items(), ["--", "-.", ":"] * len(extra)):
        handles += ax.plot(t, clean(v), style, lw=1.6, label=name)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if acc is not None or extra_acc:
        ax2 = ax.twinx()
        if acc is not None:
            handles += ax2.plot(t, clean(acc), "-", color="tab:orange", lw=1.4, label=acc_label)
        for (name, v), style in zip(extra_acc.items(), ["--", "-.", ":"] * len(extra_acc)):
            handles += ax2.plot(t, clean(v), style, color="tab:orange", lw=1.2, label=name)
        ax2.set_ylabel(acc_label, color="tab:orange")
        ax2.tick_params(axis="y", colors="tab:orange")
    if mark_endpoints:
        trans = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
        for where, name in zip((0.0, 1.0), endpoint_labels):
            ax.axvline(where, color="0.35", ls=":", lw=1.2)
            ax.text(where, 1.01, name, transform=trans, ha="center", va="bottom",
                    fontsize=11, fontweight="bold")
    series = [loss, *extra.values()] + ([] if acc is None else [acc]) + list(extra_acc.values())
    bad = sum(int(np.sum(~np.isfinite(s))) for s in series)
    note = f"{bad} non-finite values (diverged) left out" if bad else ""
    # with endpoint letters above the axes, lift the title clear of them
    _titled(ax, title, [note], **({"pad": 18} if mark_endpoints else {}))
    # below the axes: "best" cannot see the curves of the twin axis
    ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.14), ncol=min(len(handles), 4), frameon=False)
    return fig


# ----------------------------------------------------------------------------- 2-D

def plot_contour(x, y, loss, *, filled: bool = False, levels="auto", n_levels: int = 30,
                 path_xy=None, path_labels=None, xlabel: str = "direction 1",
                 ylabel: str = "direction 2", title: str = "loss contours",
                 cmap: str = "viridis", mark_min: bool = True, equal_aspect: bool = False,
                 ax=None) -> Figure:
    """Contour lines (some labelled inline) or, with ``filled``, filled contours.

    ``levels``: ``"auto"`` spaces ``n_levels`` levels logarithmically when the finite values
    are positive and span more than a factor of 100 (else linearly); ``"log"`` and
    ``"linear"`` force the spacing (log falls back to linear, with a note, when a value is
    <= 0); an increasing sequence gives the levels themselves. The smallest grid value is
    starred. ``path_xy`` (T, 2) is drawn on top from start (circle) to end (cross), with
    ``path_labels`` (one per point, e.g. epochs; None skips one) written beside at most
    12 of its points.
    """
    x, y, z = _grid(x, y, loss)
    p, labels = _path(path_xy, path_labels)
    finite = z[np.isfinite(z)]
    lv, log, note = _levels(finite, levels, n_levels)
    zm = np.ma.masked_invalid(z)
    fig, ax = figure_and_axes(ax, (6.4, 5.2))
    if filled:
        ax.set_facecolor(BAD_COLOR)  # masked cells show the background
    notes = [_nonfinite_note(z), note]
    if lv is not None:
        norm = mcolors.LogNorm(lv[0], lv[-1]) if log else mcolors.Normalize(lv[0], lv[-1])
        if filled:
            cs = ax.contourf(x, y, zm, levels=lv, cmap=cmap, norm=norm, extend="both")
        else:
            cs = ax.contour(x, y, zm, levels=lv, cmap=cmap, norm=norm, linewidths=1.0)
            step = max(1, len(cs.levels) // 8)
            ax.clabel(cs, cs.levels[::step], inline=True, fontsize=7, fmt=_fmt)
        _level_colorbar(fig, ax, cs, lv, "loss (log-spaced levels)" if log else "loss")
    elif finite.size:  # constant surface: one flat colour, no lines to draw
        if filled:
            c = float(finite[0])
            d = max(abs(c) * 1e-3, 1e-12)
            cs = ax.contourf(x, y, zm, levels=[c - d, c + d], cmap=cmap)
            fig.colorbar(cs, ax=ax).set_label("loss")
    if mark_min:
        _mark_extreme(ax, x, y, z, "min")
    if p is not None:
        _draw_path(ax, p, labels)
    _limits(ax, (x[0], x[-1], y[0], y[-1]), p)
    if equal_aspect:
        ax.set_aspect("equal")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _titled(ax, title, notes)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    return fig


def plot_heatmap(x, y, values, *, name: str = "loss", scale: str = "auto",
                 cmap: str = "viridis", vmin: float | None = None, vmax: float | None = None,
                 mark: str | None = "min", path_xy=None, path_labels=None,
                 xlabel: str = "direction 1", ylabel: str = "direction 2",
                 title: str | None = None, ax=None) -> Figure:
    """``values[j, i]`` at ``(x[i], y[j])`` as an image: x to the right, y upwards.

    Each cell is centred on its grid point. ``scale``: ``"auto"`` uses a log colour scale
    when the finite values are positive and span more than a factor of 100, else linear;
    ``"log"``/``"linear"`` force it. ``mark`` stars the grid ``"min"`` (loss) or ``"max"``
    (accuracy), or nothing (None). Non-finite cells are gray. A non-uniform grid is drawn
    with ``pcolormesh`` instead of ``imshow``, each cell still centred on its point.
    """
    x, y, z = _grid(x, y, values, name)
    p, labels = _path(path_xy, path_labels)
    if mark not in (None, "min", "max"):
        raise InputError(f"mark must be 'min', 'max' or None; got {mark!r}")
    finite = z[np.isfinite(z)]
    log, note = _use_log(finite, scale)
    lo = vmin if vmin is not None else (float(finite.min()) if finite.size else 0.0)
    hi = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0)
    if hi <= lo:  # constant (or empty) data: widen so the colour bar has a range
        d = max(abs(lo) * 1e-3, 1e-12)
        lo, hi = lo - d, hi + d
        log = False
    norm = mcolors.LogNorm(lo, hi) if log and lo > 0 else mcolors.Normalize(lo, hi)
    zm = np.ma.masked_invalid(z)
    fig, ax = figure_and_axes(ax, (6.4, 5.2))
    dx, dy = np.diff(x), np.diff(y)
    uniform = np.allclose(dx, dx[0], rtol=1e-6, atol=0) and np.allclose(dy, dy[0], rtol=1e-6,
                                                                         atol=0)
    # each cell is centred on its grid point, so the image reaches half a step past the ends
    extent = (x[0] - dx[0] / 2, x[-1] + dx[-1] / 2, y[0] - dy[0] / 2, y[-1] + dy[-1] / 2)
    if uniform:
        im = ax.imshow(zm, origin="lower", extent=extent, aspect="auto", cmap=_cmap(cmap),
                       norm=norm, interpolation="nearest")
    else:
        im = ax.pcolormesh(x, y, zm, shading="nearest", cmap=_cmap(cmap), norm=norm)
    fig.colorbar(im, ax=ax).set_label(name + (" (log scale)" if log else ""))
    if mark is not None:
        _mark_extreme(ax, x, y, z, mark, name)
    if p is not None:
        _draw_path(ax, p, labels)
    _limits(ax, extent, p)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    nf = _nonfinite_note(z)
    _titled(ax, title if title is not None else name,
            [nf + (" (gray)" if nf else ""), note])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    return fig


def _clip_level(finite: np.ndarray, clip_quantile) -> float | None:
    """The z value to clip at, or None. "auto" clips at the 95th percentile only when the
    largest value lies more than 3 times as far above the minimum as that percentile does
    (a few huge values that would squash everything else into a flat sheet)."""
    if clip_quantile is None or finite.size == 0:
        return None
    if isinstance(clip_quantile, str):
        if clip_quantile != "auto":
            raise InputError(f"clip_quantile must be 'auto', None or in (0, 1]; "
                             f"got {clip_quantile!r}")
        lo, hi = float(finite.min()), float(finite.max())
        q = float(np.quantile(finite, 0.95))
        return q if hi - lo > 3 * (q - lo) else None
    qf = float(clip_quantile)
    if not 0 < qf <= 1:
        raise InputError(f"clip_quantile must be 'auto', None or in (0, 1]; got {clip_quantile}")
    q = float(np.quantile(finite, qf))
    return q if q < finite.max() else None


def plot_surface3d(x, y, loss, *, clip_quantile: float | str | None = "auto",
                   log: bool = False, cmap: str = "viridis", elev: float = 35.0,
                   azim: float = -60.0, xlabel: str = "direction 1",
                   ylabel: str = "direction 2", zlabel: str | None = None,
                   title: str = "loss surface", ax=None) -> Figure:
    """The loss as a 3-D surface over the plane.

    Where a few points are huge (near-diverged regions), the rest of the surface looks flat.
    ``clip_quantile`` = q in (0, 1] caps z at the q-quantile of the finite values (the cap is
    stated in the title); ``"auto"`` caps at the 95th percentile only when the maximum lies
    more than three times further above the minimum than that percentile; None never caps.
    ``log`` plots log10(loss) instead (non-positive values are then masked). Non-finite
    points leave holes. ``ax``, when given, must be a 3-D axes
    (``fig.add_subplot(projection="3d")``).
    """
    if ax is not None and getattr(ax, "name", None) != "3d":
        raise InputError("plot_surface3d needs a 3-D axes, made with "
                         f"add_subplot(projection='3d'); got a {getattr(ax, 'name', ax)!r} axes")
    x, y, z = _grid(x, y, loss)
    notes = [_nonfinite_note(z)]
    z = np.where(np.isfinite(z), z, np.nan)
    if log:
        nonpos = int(np.sum(z <= 0))
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(z > 0, np.log10(np.where(z > 0, z, 1.0)), np.nan)
        if nonpos:
            notes.append(f"{nonpos} non-positive points masked (log10)")
    finite = z[np.isfinite(z)]
    cap = _clip_level(finite, clip_quantile)
    if cap is not None:
        z = np.minimum(z, cap)  # NaN stays NaN
        pct = "95th percentile" if isinstance(clip_quantile, str) else \
            f"{100 * float(clip_quantile):g}th percentile"
        notes.append(f"z clipped at the {pct} ({_fmt(cap)})")
    X, Y = np.meshgrid(x, y)
    if ax is None:
        fig = Figure(figsize=(7, 5.6))
        ax = fig.add_subplot(projection="3d")
    else:
        fig = ax.figure
    if finite.size:
        lo, hi = float(np.nanmin(z)), float(np.nanmax(z))
        if hi <= lo:
            d = max(abs(lo) * 1e-3, 1e-12)
            lo, hi = lo - d, hi + d
        surf = ax.plot_surface(X, Y, z, cmap=cmap, vmin=lo, vmax=hi, linewidth=0.2,
                               edgecolor="none", antialiased=True,
                               rcount=min(y.size, 100), ccount=min(x.size, 100))
        ax.set_zlim(lo, hi)
        fig.colorbar(surf, ax=ax, shrink=0.6, pad=0.1)
    else:
        notes.append("no finite values to plot")
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_zlabel(zlabel if zlabel is not None else ("log10 loss" if log else "loss"))
    _titled(ax, title, notes)
    return fig


def plot_landscape_set(x, y, loss, acc=None, *, path_xy=None, path_labels=None,
                       xlabel: str = "direction 1", ylabel: str = "direction 2",
                       title: str = "loss landscape", levels="auto",
                       clip_quantile: float | str | None = "auto") -> dict[str, Figure]:
    """The standard set of pictures, keyed by file stem, in this order.

    ``contour``, ``contourf``, ``heatmap_loss``, ``heatmap_acc`` (when ``acc`` is not None),
    ``surface3d``, and ``path`` (filled contours with ``path_xy`` on top) when a path is given.
    """
    x, y, z = _grid(x, y, loss)
    if acc is not None:
        _grid(x, y, acc, "acc")
    _path(path_xy, path_labels)  # validate before drawing anything
    axes = {"xlabel": xlabel, "ylabel": ylabel}
    out = {
        "contour": plot_contour(x, y, z, levels=levels, title=title, **axes),
        "contourf": plot_contour(x, y, z, filled=True, levels=levels, title=title, **axes),
        "heatmap_loss": plot_heatmap(x, y, z, name="loss", title=f"{title}: loss", **axes),
    }
    if acc is not None:
        out["heatmap_acc"] = plot_heatmap(x, y, acc, name="accuracy", scale="linear",
                                          cmap="magma", mark="max",
                                          title=f"{title}: accuracy", **axes)
    out["surface3d"] = plot_surface3d(x, y, z, clip_quantile=clip_quantile, title=title, **axes)
    if path_xy is not None:
        out["path"] = plot_contour(x, y, z, filled=True, levels=levels, path_xy=path_xy,
                                   path_labels=path_labels,
                                   title=f"{title} with the optimization path", **axes)
    return out
