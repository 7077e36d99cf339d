"""One convention for what steepest's functions return.

Every public result is a frozen dataclass that mixes in :class:`Result`: ``to_dict()`` gives a
JSON-ready dict (arrays become lists, paths strings, nested results dicts; non-finite floats
stay floats, and the CLI writes them as null), and where a picture is natural ``plot(ax=None)``
returns a :class:`matplotlib.figure.Figure` without writing a file or choosing a backend
(built with :func:`steepest.viz.plots.figure_and_axes`).
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import math
from pathlib import Path

import numpy as np


def jsonable(obj):
    """``obj`` with numpy values, tuples, paths and dataclasses turned into JSON types."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        if hasattr(obj, "to_dict"):
            return obj.to_dict()
        return {f.name: jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def finite_or_none(obj):
    """``jsonable(obj)`` with NaN and infinities as None (strict JSON has neither)."""
    obj = jsonable(obj)
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [finite_or_none(v) for v in obj]
    return obj


class Result:
    """Mixin of the result dataclasses: ``to_dict()`` over the dataclass fields, and a short
    HTML summary for notebooks (``_repr_html_``: the scalar fields as a table, and the
    ``plot()`` figure inline when the result has one).

    A subclass lists fields to leave out of ``to_dict`` (large arrays) in ``_omit``.
    """

    _omit: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {f.name: jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)
                if f.name not in self._omit}

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
                       f"<td style='text-align:left'>{html.escape(_short(v))}</td></tr>"
                       for k, v in self.to_dict().items() if not isinstance(v, dict | list)
                       or len(str(v)) < 120)
        figure = ""
        if hasattr(self, "plot"):
            try:
                figure = figure_html(self.plot())
            except Exception:  # a summary never fails to show for want of a picture
                figure = ""
        return (f"<div><b>{type(self).__name__}</b><table>{rows}</table>{figure}</div>")


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def figure_html(fig, dpi: int = 80) -> str:
    """A matplotlib figure as an ``<img>`` with the PNG inline (base64)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f"<img src='data:image/png;base64,{data}'/>"
