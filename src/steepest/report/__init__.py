"""One self-contained HTML page about a result folder of steepest.

::

    from steepest.report import build_report, write_report, detect
    detect("runs/a")                 # "run"
    write_report("runs/a")           # runs/a/report.html
    html = build_report("runs/compare-digits")

A folder is recognized by its files, in this order:

=============  ============================================================================
kind           recognized by
=============  ============================================================================
study          ``study.json`` (``steepest tune``)
comparison     ``comparison.json`` (``steepest compare``)
surface        ``surface.npz`` (``steepest landscape``)
lab            ``result.json`` (``steepest lab run`` or ``LabResult.save``)
run            ``config.yaml`` beside ``metrics.csv``, ``iterations.csv``, ``summary.json``,
               ``final.npz`` or ``checkpoints/last.npz`` (``steepest train``)
=============  ============================================================================

The page holds the summary, the configuration, interactive charts (SVG drawn by the page's own
script: hover, zoom, legend) and the figures as inline images; it loads nothing from anywhere,
so it opens from ``file://`` without a network. A folder that is none of the above raises
:class:`~steepest.errors.InputError`; a damaged file in it raises
:class:`~steepest.errors.DataError` naming the file. Reading a folder takes no lock, so a
report of a run still training shows its finished epochs.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError

__all__ = ["KINDS", "REPORT_NAME", "build_report", "detect", "write_report"]

REPORT_NAME = "report.html"
KINDS = ("study", "comparison", "surface", "lab", "run")
_MARKERS = {"study": ("study.json",), "comparison": ("comparison.json",),
            "surface": ("surface.npz",), "lab": ("result.json",)}
_RUN_FILES = ("metrics.csv", "iterations.csv", "summary.json", "final.npz",
              "checkpoints/last.npz")


def _kind_of(folder: Path) -> str | None:
    for kind, names in _MARKERS.items():
        if any((folder / n).is_file() for n in names):
            return kind
    if (folder / "config.yaml").is_file() and any((folder / n).is_file() for n in _RUN_FILES):
        return "run"
    return None


def _locate(path: str | Path) -> tuple[str, Path]:
    """``(kind, folder)``; a file of a recognized folder stands for its folder."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; give a run, comparison, surface, study or "
                         f"lab folder")
    if not path.is_dir():
        if _kind_of(path.parent) is None:
            raise InputError(f"{path} is a file, and {path.parent} is not a run, comparison, "
                             f"surface, study or lab folder; give such a folder")
        path = path.parent
    kind = _kind_of(path)
    if kind is None:
        raise InputError(
            f"{path} is not a run, comparison, surface, study or lab folder: it holds none of "
            f"config.yaml with metrics.csv or summary.json (a run), comparison.json, "
            f"surface.npz, study.json or result.json (a lab experiment)")
    return kind, path


def detect(path: str | Path) -> str:
    """What ``path`` holds: ``run``, ``comparison``, ``surface``, ``study`` or ``lab``."""
    return _locate(path)[0]


def build_report(path: str | Path) -> str:
    """The report of the folder ``path`` as one self-contained HTML document."""
    from .. import __version__
    from .analysis import lab_page, study_page, surface_page
    from .page import render
    from .training import comparison_page, run_page

    kind, folder = _locate(path)
    builders = {"run": run_page, "comparison": comparison_page, "surface": surface_page,
                "study": study_page, "lab": lab_page}
    page = builders[kind](folder, str(path))
    return render(page, __version__)


def write_report(path: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``path`` atomically to ``out`` (default: ``report.html`` inside
    the folder; an existing folder as ``out`` gets ``report.html`` inside it); returns the
    file written."""
    from .._io import atomic_write_text

    text = build_report(path)
    if out is None:
        target = _locate(path)[1] / REPORT_NAME
    else:
        target = Path(out)
        if target.is_dir():
            target = target / REPORT_NAME
    return atomic_write_text(target, text)
