"""What a benchmark returns: one :class:`CellResult` per (problem, rule), the performance
profiles, and :class:`BenchmarkResult` tying them together (tables, plots, files)."""

from __future__ import annotations

import csv
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._io import atomic_write_json, atomic_write_text
from ..errors import InputError
from ..results import Result, finite_or_none
from .profiles import PerformanceProfile

MEASURES = ("steps_to_target", "seconds_to_target", "final", "val_loss", "train_loss",
            "test_acc", "seconds")


def quantile(sorted_values, q: float) -> float:
    """The ``q`` quantile of non-decreasing values (linear interpolation, numpy's default
    method), where infinities are allowed: a quantile that leans on one is infinite."""
    v = sorted_values
    if not len(v):
        return math.nan
    pos = q * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    w = pos - lo
    if w == 0 or v[lo] == v[hi]:
        return float(v[lo])
    if math.isinf(v[hi]):
        return math.inf
    return float(v[lo] + w * (v[hi] - v[lo]))


def spread(values, unreached_is_inf: bool = False) -> dict:
    """``{"median", "q25", "q75"}`` over seeds. For the costs to the target a run that did not
    reach it counts as infinity (so the median is infinite when fewer than half reach it);
    for the other figures runs without a number (None, NaN) are left out."""
    if unreached_is_inf:
        vals = sorted(math.inf if v is None or not math.isfinite(v) else float(v)
                      for v in values)
    else:
        vals = sorted(float(v) for v in values if v is not None and math.isfinite(v))
    return {"median": quantile(vals, 0.5), "q25": quantile(vals, 0.25),
            "q75": quantile(vals, 0.75)}


@dataclass(frozen=True)
class CellResult(Result):
    """One rule on one problem: its tuning (the number of trials it got, the best setting and
    its final metric at the tuning seed) and its reruns at that setting (one row per seed in
    ``runs``; ``stats[measure]`` their median and interquartile range; ``reached`` the share
    of seeds that met the target)."""

    problem: str
    rule: str
    trials: int
    completed: int
    failed: int
    best_hyper: dict | None
    best_value: float | None
    best_slot: int | None
    reached: float
    stats: dict
    runs: tuple = ()
    tuning: tuple = field(default=(), repr=False)  # one row per counted trial
    curves: tuple = field(default=(), repr=False)  # per run: ((step, metric), ...)

    _omit = ("tuning", "curves")

    def cost(self, measure: str) -> float:
        """The profile's cost: the median steps (or seconds) to the target over the seeds,
        infinite when the rule has no rerun or fewer than half reach it."""
        if not self.runs:
            return math.inf
        return self.stats[f"{measure}_to_target"]["median"]


@dataclass(frozen=True)
class BenchmarkResult(Result):
    """A benchmark: its settings, the problems run (with their targets), one cell per problem
    and rule, the performance profiles by steps and by seconds, the problems skipped (with
    why), notes, and how many trials and reruns this call ran (0 and 0: nothing was missing).
    """

    out_dir: Path
    settings: dict
    problems: dict
    cells: tuple[CellResult, ...]
    profiles: dict
    skipped: tuple = ()
    notes: tuple = ()
    ran_trials: int = 0
    ran_reruns: int = 0
    seconds: float = 0.0

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(self.settings["rules"])

    def cell(self, problem: str, rule: str) -> CellResult:
        for c in self.cells:
            if c.problem == problem and c.rule == rule:
                return c
        raise InputError(f"no cell for problem {problem!r} and rule {rule!r}; the benchmark "
                         f"ran {', '.join(self.problems)} with {', '.join(self.rules)}")

    def profile(self, measure: str = "steps") -> PerformanceProfile:
        if measure not in self.profiles:
            raise InputError(f"unknown measure {measure!r}; allowed: {', '.join(self.profiles)}")
        return self.profiles[measure]

    def plot(self, ax=None, measure: str = "steps"):
        """The performance profile by ``measure`` ("steps" or "seconds" to the target)."""
        return self.profile(measure).plot(ax=ax)

    def table(self) -> list[dict]:
        """One row per cell: the tuning, the best setting, and median / IQR of every figure."""
        rows = []
        for c in self.cells:
            row = {"problem": c.problem, "rule": c.rule, "trials": c.trials,
                   "completed": c.completed, "failed": c.failed,
                   "best": _hyper_text(c.best_hyper), "best_value": c.best_value,
                   "seeds": len(c.runs), "reached": c.reached}
            for m in MEASURES:
                for k in ("median", "q25", "q75"):
                    row[f"{m}_{k}"] = c.stats[m][k]
            rows.append(row)
        return rows

    def plot_curves(self):
        """Per problem, each rule's metric against the step at its best setting: the median
        over seeds and the band between the quartiles; the target as a dashed line."""
        from ..viz.plots import new_figure

        names = list(self.problems)
        cols = min(3, max(1, len(names)))
        rows = math.ceil(len(names) / cols) if names else 1
        fig = new_figure((4.6 * cols, 3.4 * rows))
        axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
        for ax, name in zip(axes, names):
            _draw_problem(ax, name, self.problems[name],
                          [c for c in self.cells if c.problem == name])
        for ax in axes[len(names):]:
            ax.set_visible(False)
        return fig

    def figures(self) -> dict:
        figs = {f"profile-{m}": p.plot() for m, p in self.profiles.items()}
        figs["curves"] = self.plot_curves()
        return figs

    def save(self, out_dir: str | Path | None = None, formats=("png",), dpi: int = 110
             ) -> list[Path]:
        """Write ``cells.csv``, ``runs.csv``, ``trials.csv``, ``profile-steps.csv``,
        ``profile-seconds.csv``, ``result.json``, ``README.txt`` and the figures (the two
        profiles and the curves, in each of ``formats``) into ``out_dir`` (default: the
        benchmark folder), every file atomically; returns the paths."""
        from ..viz import save_figures

        out = Path(out_dir) if out_dir is not None else Path(self.out_dir)
        written = [atomic_write_text(out / "cells.csv", to_csv(self.table())),
                   atomic_write_text(out / "runs.csv", to_csv(
                       [{"problem": c.problem, "rule": c.rule, **r} for c in self.cells
                        for r in c.runs])),
                   atomic_write_text(out / "trials.csv", to_csv(
                       [{"problem": c.problem, "rule": c.rule, **r} for c in self.cells
                        for r in c.tuning]))]
        for m, p in self.profiles.items():
            written.append(atomic_write_text(out / f"profile-{m}.csv", to_csv(p.rows())))
        written.append(atomic_write_json(out / "result.json", finite_or_none(self.to_dict())))
        written.append(atomic_write_text(out / "README.txt", self.readme()))
        figures = self.figures()
        for fmt in formats:
            written += save_figures(figures, out, format=fmt, dpi=dpi)
        return written

    def readme(self) -> str:
        s = self.settings
        lines = ["steepest benchmark" + (" (quick)" if s["quick"] else ""), "",
                 f"Every rule was tuned with {s['trials']} trials ({s['sampler']} sampler, "
                 f"log-uniform ranges, tuning seed {s['seed']}) on the problem's metric at the "
                 f"end of its budget, then rerun at its best setting with seeds "
                 f"{', '.join(map(str, s['rerun_seeds']))}.", "", "Problems and targets:"]
        for name, p in self.problems.items():
            lines.append(f"- {name}: {p['description']}; {p['steps']} steps; target "
                         f"{p['target_text']}")
        lines += [f"- {d['reason']}" for d in self.skipped]
        lines += ["", "Files: cells.csv (per problem and rule: medians and quartiles over the "
                      "seeds), runs.csv (per seed), trials.csv (every tuning trial), "
                      "profile-*.csv and profile-*.png (performance profiles by steps and by "
                      "seconds to the target), curves.png, result.json."]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def _hyper_text(hyper) -> str:
    if not hyper:
        return ""
    return " ".join(f"{k}={v:.3g}" for k, v in hyper.items())


def _draw_problem(ax, name: str, problem: dict, cells) -> None:
    styles = ("-", "--", "-.", ":")
    for i, c in enumerate(cells):
        curves = [np.asarray(cv, dtype=float) for cv in c.curves if len(cv)]
        if not curves:
            continue
        steps = np.unique(np.concatenate([cv[:, 0] for cv in curves]))
        grid = np.array([np.interp(steps, cv[:, 0], cv[:, 1], right=np.nan) for cv in curves])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns after a blow-up
            mid = np.nanmedian(grid, axis=0)
            lo, hi = np.nanpercentile(grid, 25, axis=0), np.nanpercentile(grid, 75, axis=0)
        line, = ax.plot(steps, mid, ls=styles[i % len(styles)], lw=1.5, label=c.rule)
        ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.15, lw=0)
    ax.axhline(problem["target"], color="k", ls="--", lw=0.8)
    if problem["metric"] == "loss":
        ax.set_yscale("log")
    ax.set(title=f"{name} (target {problem['target_text']})", xlabel="step",
           ylabel="validation accuracy" if problem["metric"] == "accuracy" else "loss")
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def to_csv(rows: list[dict]) -> str:
    """Rows as CSV text (columns in order of first appearance; None and NaN as empty cells,
    infinity as ``inf``, settings dicts as ``k=v`` text)."""
    cols = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return buf.getvalue()


def _cell(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, dict):
        return _hyper_text(v)
    if isinstance(v, float):
        return repr(v)
    return v
