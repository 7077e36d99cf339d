"""Interactive charts of a report: series made small enough to embed, and the chart HTML.

A chart is a ``<figure class="chart">`` holding its title and a JSON spec; the page's own
script (:mod:`._assets`) draws it as SVG. Long per-step series are cut down to at most a few
thousand points, keeping the lowest and the highest value of every bucket so that spikes
survive; numbers keep 6 significant digits.
"""

from __future__ import annotations

import json
import math

import numpy as np

from .page import esc

# Okabe and Ito's palette (distinguishable with every common colour-vision deficiency), then
# dash patterns once the colours run out.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#8C6D31")
DASHES = ("", "7 4", "2 3", "9 3 2 3")
MAX_POINTS = 2000


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def dash(i: int) -> str:
    return DASHES[(i // len(PALETTE)) % len(DASHES)]


def number(value) -> float | None:
    """A finite value with 6 significant digits, or None (a gap in the curve)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return float(f"{v:.6g}") if math.isfinite(v) else None


def downsample(x, y, max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points of ``(x, y)``: the first, the last, and in each of about
    ``max_points / 2`` buckets the lowest and the highest finite value, in their order (a
    bucket without a finite value keeps one point, a gap)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    if n <= max_points:
        return x, y
    edges = np.linspace(0, n, (max_points - 2) // 2 + 1).astype(int)
    keep = [0, n - 1]  # the ends, so the x range stays that of the whole series
    for lo, hi in zip(edges[:-1], edges[1:]):
        if hi <= lo:
            continue
        part = y[lo:hi]
        finite = np.isfinite(part)
        if not finite.any():
            keep.append(lo)
            continue
        masked = np.where(finite, part, np.nan)
        a, b = int(np.nanargmin(masked)), int(np.nanargmax(masked))
        keep.extend(sorted({lo + a, lo + b}))
    idx = np.unique(np.asarray(keep, dtype=int))
    return x[idx], y[idx]


def smoothed(y, weight: float | None = None) -> np.ndarray:
    """The bias-corrected exponential moving average of the loss viewers (the one of
    :func:`steepest.viz.smooth`, as a linear filter) over the finite values; the others stay
    NaN. ``weight`` defaults to 0.9, and 0.98 beyond 500 values."""
    from scipy.signal import lfilter

    y = np.asarray(y, dtype=np.float64)
    out = np.full(y.shape, np.nan)
    ok = np.isfinite(y)
    if ok.sum() > 1:
        w = weight if weight is not None else (0.98 if y.size > 500 else 0.9)
        values = y[ok]
        avg = lfilter([1.0 - w], [1.0, -w], values)
        out[ok] = avg / (1.0 - w ** np.arange(1, values.size + 1))
    return out


def series(name: str, x, y, i: int = 0, *, max_points: int = MAX_POINTS, **style) -> dict:
    """One curve: ``x`` and ``y`` (cut to ``max_points``), its colour and dash by index ``i``
    unless ``style`` names them (``color``, ``dash``, ``width``, ``mode``, ``faint``)."""
    xs, ys = downsample(x, y, max_points)
    out = {"name": str(name), "x": [number(v) for v in xs], "y": [number(v) for v in ys],
           "color": color(i), "dash": dash(i)}
    out.update({k: v for k, v in style.items() if v is not None})
    keep = [j for j, v in enumerate(out["x"]) if v is not None]
    if len(keep) != len(out["x"]):
        out["x"] = [out["x"][j] for j in keep]
        out["y"] = [out["y"][j] for j in keep]
    return out


def wants_log(all_series: list[dict]) -> bool:
    """A log y axis when the positive values span more than a factor of 30 and none is <= 0."""
    values = [v for s in all_series for v in s["y"] if v is not None]
    if not values or min(values) <= 0:
        return False
    return max(values) / min(values) > 30


def chart(title: str, xlabel: str, ylabel: str, all_series: list[dict], *,
          ylog: bool | None = None, hlines: list[dict] | None = None, note: str = "") -> str:
    """The HTML of one interactive chart (empty when no series has a value)."""
    all_series = [s for s in all_series if any(v is not None for v in s["y"])]
    if not all_series:
        return ""
    if ylog is None:
        ylog = wants_log(all_series)
    hlines = [h for h in hlines or [] if number(h.get("y")) is not None]
    xint = all(float(v).is_integer() for s in all_series for v in s["x"])
    spec = {"title": title, "xlabel": xlabel, "xname": xlabel.split(" (")[0],
            "ylabel": ylabel, "ylog": bool(ylog), "xint": xint, "series": all_series,
            "hlines": hlines}
    data = (json.dumps(spec, separators=(",", ":"), allow_nan=False)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    caption = f"<figcaption>{esc(title)}</figcaption>"
    extra = f'<div class="hint">{esc(note)}</div>' if note else ""
    return (f'<figure class="chart">{caption}{extra}'
            f'<script type="application/json">{data}</script></figure>')
