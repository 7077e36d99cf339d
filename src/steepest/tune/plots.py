"""Pictures of a hyperparameter search: history, parameter scatter, the lr-reg map, importances
and learning curves.

Every function takes a single-objective :class:`optuna.Study` whose objective is validation
accuracy (reported per epoch with ``trial.report``) and returns a
:class:`matplotlib.figure.Figure` built without pyplot (it writes nothing; save it with
:func:`steepest.viz.save_figure`), or returns ``None`` when the study holds nothing worth
drawing (no completed trial, the parameter was not searched, a multi-objective study ...).
Single-panel plots take ``ax`` to draw into an axes of your own. Empty, tiny and all-failed
studies never raise.

Trials may carry a user attribute ``stage`` (1, 2, ... for coarse-to-fine searches); where a
study has more than one stage the plots tell them apart. ``log_params`` maps parameter names to
whether they were searched on a log scale (``SearchSpace.log_params``); a parameter missing from
it falls back to the ``log`` flag of the distribution Optuna recorded.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from ..errors import InputError
from ..viz.plots import figure_and_axes

__all__ = [
    "plot_history",
    "plot_importances",
    "plot_intermediate",
    "plot_lr_reg",
    "plot_params",
    "plot_search",
]

VALUE_LABEL = "validation accuracy"
_STAGE_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_COMPLETE = "tab:blue"
_PRUNED = "tab:orange"
_FAILED = "tab:red"
_BEST = "crimson"
_EVALUATORS = {
    "PedAnovaImportanceEvaluator": "PED-ANOVA",
    "FanovaImportanceEvaluator": "fANOVA",
    "MeanDecreaseImpurityImportanceEvaluator": "mean decrease in impurity",
}


# --------------------------------------------------------------------------------------------
# reading a study
# --------------------------------------------------------------------------------------------


@dataclass
class _Trial:
    """What the plots need from one ``FrozenTrial``, with non-finite numbers made ``None``."""

    number: int
    state: str  # "complete", "pruned", "fail", "running", "waiting"
    value: float | None  # final value (complete) or last reported value (pruned)
    params: dict[str, Any]
    distributions: dict[str, Any]
    stage: Any
    steps: list[int] = field(default_factory=list)
    curve: list[float] = field(default_factory=list)


def _finite(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _number(v) -> float | None:
    """A finite float from a real number (not from a string or a bool), else None."""
    if isinstance(v, bool) or not isinstance(v, int | float | np.integer | np.floating):
        return None
    return _finite(v)


def _check_study(study) -> None:
    if not callable(getattr(study, "get_trials", None)) or not hasattr(study, "directions"):
        raise InputError(f"expected an optuna.Study, got {type(study).__name__}")


def _check_log_params(log_params) -> dict[str, bool]:
    if log_params is None:
        return {}
    if not isinstance(log_params, Mapping):
        raise InputError("log_params must map parameter names to booleans, e.g. "
                         f"{{'optim.lr': True}}, got {type(log_params).__name__}")
    return {str(k): bool(v) for k, v in log_params.items()}


def _read(study) -> tuple[list[_Trial], bool] | None:
    """The study's trials in order and whether it maximizes; None for multi-objective."""
    _check_study(study)
    directions = list(study.directions)
    if len(directions) != 1:
        return None
    maximize = getattr(directions[0], "name", str(directions[0])).upper() == "MAXIMIZE"
    out = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        state = t.state.name.lower()
        iv = dict(t.intermediate_values or {})
        steps = sorted(iv)
        curve = [_finite(iv[s]) for s in steps]
        if state == "complete":
            value = _finite(t.value)
        elif state == "pruned":
            value = curve[-1] if curve else None
        else:
            value = None
        out.append(_Trial(
            number=int(t.number), state=state, value=value, params=dict(t.params),
            distributions=dict(t.distributions), stage=t.user_attrs.get("stage"),
            steps=[int(s) for s in steps],
            curve=[np.nan if c is None else c for c in curve],
        ))
    return out, maximize


def _stages(trials: list[_Trial]) -> list:
    """Distinct stage values in order of first appearance; empty when there is at most one."""
    seen: list = []
    for t in trials:
        if t.stage is not None and t.stage not in seen:
            seen.append(t.stage)
    return seen if len(seen) > 1 else []


def _completed(trials: Iterable[_Trial]) -> list[_Trial]:
    """Completed trials that have a value."""
    return [t for t in trials if t.state == "complete" and t.value is not None]


def _pruned_with_value(trials: Iterable[_Trial]) -> list[_Trial]:
    """Pruned trials that reported a value (their last intermediate one)."""
    return [t for t in trials if t.state == "pruned" and t.value is not None]


def _best(trials: Iterable[_Trial], maximize: bool) -> _Trial | None:
    done = _completed(trials)
    if not done:
        return None
    pick = max if maximize else min
    return pick(done, key=lambda t: t.value)


def _is_categorical(trials: list[_Trial], name: str) -> bool:
    for t in trials:
        d = t.distributions.get(name)
        if d is not None and type(d).__name__ == "CategoricalDistribution":
            return True
    return any(name in t.params and _finite(t.params[name]) is None for t in trials)


def _choices(trials: list[_Trial], name: str) -> list:
    """Categorical choices in declared order (union over trials), then any value not declared."""
    out: list = []
    for t in trials:
        d = t.distributions.get(name)
        for c in getattr(d, "choices", ()):
            if c not in out:
                out.append(c)
    for t in trials:
        if name in t.params and t.params[name] not in out:
            out.append(t.params[name])
    return out


def _choice_label(value) -> str:
    """'[256, 128]' or '256,128' -> '256,128'; anything else as str."""
    if isinstance(value, str) and value[:1] == "[":
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "[]"
    return str(value)


def _search_range(trials: list[_Trial], name: str) -> tuple[float, float] | None:
    lows, highs = [], []
    for t in trials:
        d = t.distributions.get(name)
        lo, hi = _finite(getattr(d, "low", None)), _finite(getattr(d, "high", None))
        if lo is not None and hi is not None:
            lows.append(lo)
            highs.append(hi)
    return (min(lows), max(highs)) if lows else None


def _use_log(trials: list[_Trial], name: str, log_params: dict[str, bool], values) -> bool:
    if name in log_params:
        log = log_params[name]
    else:
        log = any(getattr(t.distributions.get(name), "log", False) for t in trials)
    vals = [v for v in values if v is not None]
    return bool(log) and bool(vals) and min(vals) > 0


def _set_numeric_limits(ax, axis: str, rng: tuple[float, float] | None, values, log: bool):
    """Show the whole searched range (padded 4%) so that narrowing and clustering are visible."""
    vals = [v for v in values if v is not None]
    lo, hi = rng if rng is not None else (min(vals), max(vals))
    if vals:
        lo, hi = min(lo, min(vals)), max(hi, max(vals))
    if log:
        if lo <= 0:
            return
        a, b = math.log10(lo), math.log10(hi)
        pad = 0.04 * (b - a) if b > a else 0.25
        lim = (10 ** (a - pad), 10 ** (b + pad))
    else:
        pad = 0.04 * (hi - lo) if hi > lo else max(abs(lo) * 0.1, 0.5)
        lim = (lo - pad, hi + pad)
    (ax.set_xlim if axis == "x" else ax.set_ylim)(*lim)


def _tidy_log_axis(ax, axis: str, integer: bool) -> None:
    """Readable ticks on a log axis spanning few decades: powers of two for integers (batch
    sizes), 1-2-5 steps for floats, plain numbers instead of ``2x10^1`` labels that collide."""
    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    if lo <= 0 or (hi / lo >= 300 and not integer):
        return  # many decades: matplotlib's 10^k labels read well
    target = ax.xaxis if axis == "x" else ax.yaxis
    if integer and hi / lo >= 4:
        target.set_major_locator(LogLocator(base=2, numticks=8))
    else:
        target.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=12))
    target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


def _is_int(trials: list[_Trial], name: str) -> bool:
    dists = [t.distributions.get(name) for t in trials if name in t.params]
    return bool(dists) and all(type(d).__name__ == "IntDistribution" for d in dists)


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _legend_outside(ax, **kw):
    """A legend to the right of the axes, where it cannot hide any point."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     fontsize=8, **kw)


# --------------------------------------------------------------------------------------------
# 1. history
# --------------------------------------------------------------------------------------------


def plot_history(study, *, ax=None) -> Figure | None:
    """Objective value of every finished trial in trial order, with the running best.

    Completed trials are dots, pruned trials show their last reported value as crosses, failed
    trials are ticks along the bottom edge; a dashed vertical line marks where each later
    stage begins. ``None`` when no trial has a value.
    """
    read = _read(study)
    if read is None:
        return None
    trials, maximize = read
    done = _completed(trials)
    pruned = _pruned_with_value(trials)
    failed = [t for t in trials if t.state == "fail"]
    running = [t for t in trials if t.state in ("running", "waiting")]
    if not done and not pruned:
        return None

    fig, ax = figure_and_axes(ax, (8, 4.2))
    if done:
        ax.scatter([t.number for t in done], [t.value for t in done], s=24, color=_COMPLETE,
                   zorder=3, label=f"completed ({len(done)})")
    if pruned:
        ax.scatter([t.number for t in pruned], [t.value for t in pruned], s=28, marker="x",
                   color=_PRUNED, alpha=0.8, zorder=2,
                   label=f"pruned, last reported ({len(pruned)})")
    if failed:
        bottom = blended_transform_factory(ax.transData, ax.transAxes)
        ax.plot([t.number for t in failed], [0.025] * len(failed), ls="none", marker="v",
                color="0.15", ms=6, transform=bottom, label=f"failed, no value ({len(failed)})")
    if done:
        finished = [t for t in trials if t.state in ("complete", "pruned", "fail")]
        xs, ys, best = [], [], None
        for t in finished:
            if t.state == "complete" and t.value is not None:
                if best is None or (t.value > best if maximize else t.value < best):
                    best = t.value
            if best is not None:
                xs.append(t.number)
                ys.append(best)
        ax.step(xs, ys, where="post", color=_BEST, lw=1.6, zorder=4,
                label=f"best so far ({best:.4g})")

    stages = _stages(trials)
    if stages:
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.1 * (hi - lo))  # headroom for the stage labels
        top = blended_transform_factory(ax.transData, ax.transAxes)
        for i, s in enumerate(stages):
            first = min(t.number for t in trials if t.stage == s)
            if i:
                ax.axvline(first - 0.5, color="0.35", ls="--", lw=1)
            ax.text(first - 0.5, 0.985, f" stage {s}", transform=top, ha="left", va="top",
                    fontsize=8, color="0.2", zorder=6,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="none", alpha=0.8))

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(VALUE_LABEL)
    n_pruned = sum(t.state == "pruned" for t in trials)  # including any pruned before a report
    title = f"search history: {len(done)} completed, {n_pruned} pruned, {len(failed)} failed"
    if running:
        title += f", {len(running)} unfinished"
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _legend_outside(ax)
    return fig


# --------------------------------------------------------------------------------------------
# 2. one panel per parameter
# --------------------------------------------------------------------------------------------


def _param_panel(ax, name: str, done: list[_Trial], pruned: list[_Trial], best: _Trial | None,
                 jitter: dict[int, float], log_params: dict[str, bool]) -> None:
    """One parameter's values (x) against validation accuracy (y) on ``ax``."""
    shown = done + pruned
    categorical = _is_categorical(shown, name)
    choices = _choices(shown, name) if categorical else []
    index = {repr(c): i for i, c in enumerate(choices)}

    groups = [
        ([t for t in done if name in t.params], dict(s=22, color=_COMPLETE, alpha=0.85,
                                                      zorder=3)),
        ([t for t in pruned if name in t.params], dict(s=22, marker="x", color=_PRUNED,
                                                        alpha=0.35, zorder=2)),
    ]
    xs_all = []
    for ts, style in groups:
        if ts:
            if categorical:
                xs = [index[repr(t.params[name])] + jitter[t.number] for t in ts]
            else:
                xs = [_finite(t.params[name]) for t in ts]
            xs_all.extend(xs)
            ax.scatter(xs, [t.value for t in ts], **style)
    if best is not None and name in best.params:
        bx = (index[repr(best.params[name])] + jitter[best.number] if categorical
              else _finite(best.params[name]))
        ax.scatter([bx], [best.value], s=170, marker="*", color=_BEST, edgecolor="black",
                   lw=0.5, zorder=5)
    if categorical:
        labels = [_choice_label(c) for c in choices]
        ax.set_xticks(range(len(choices)), labels,
                      rotation=30 if sum(len(s) for s in labels) > 24 else 0,
                      ha="right" if sum(len(s) for s in labels) > 24 else "center")
        ax.set_xlim(-0.5, len(choices) - 0.5)
    else:
        log = _use_log(shown, name, log_params, xs_all)
        integer = _is_int(shown, name)
        if log:
            ax.set_xscale("log")
        elif integer:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if any(x is not None for x in xs_all):
            _set_numeric_limits(ax, "x", _search_range(shown, name), xs_all, log)
        if log:
            _tidy_log_axis(ax, "x", integer)
    ax.set_title(name + ("  (log scale)" if not categorical and ax.get_xscale() == "log"
                         else ""), fontsize=10)
    ax.grid(alpha=0.3)


def _params_legend(fig, pruned: list[_Trial], best: _Trial | None) -> None:
    """The figure's legend, below the panels: completed, pruned (if any), best trial."""
    handles = [Line2D([], [], ls="none", marker="o", color=_COMPLETE, label="completed")]
    if pruned:
        handles.append(Line2D([], [], ls="none", marker="x", color=_PRUNED, alpha=0.5,
                              label="pruned (last reported value)"))
    if best is not None:
        handles.append(Line2D([], [], ls="none", marker="*", ms=12, color=_BEST,
                              markeredgecolor="black", label=f"best trial ({best.value:.4g})"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8,
               frameon=False)


def plot_params(study, log_params: Mapping[str, bool] | None = None) -> Figure | None:
    """One panel per parameter: its value (x) against validation accuracy (y).

    Log axes for parameters searched on a log scale, categorical values as labelled positions
    (slightly jittered), the x range spanning the whole searched range. Completed trials are
    dots, pruned trials fainter crosses at their last reported value, the best trial a star.
    ``None`` without a completed trial or without parameters.
    """
    log_params = _check_log_params(log_params)
    read = _read(study)
    if read is None:
        return None
    trials, maximize = read
    done = _completed(trials)
    pruned = _pruned_with_value(trials)
    if not done:
        return None
    shown = done + pruned
    names: list[str] = []
    for t in shown:
        names.extend(n for n in t.params if n not in names)
    if not names:
        return None
    best = _best(done, maximize)

    ncols = 2 if len(names) == 4 else min(3, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = Figure(figsize=(4.3 * ncols, 3.4 * nrows + 0.4), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    # one fixed horizontal jitter per trial, so the best trial's star sits on its own dot
    rng = np.random.default_rng(0)
    jitter = {t.number: float(rng.uniform(-0.12, 0.12)) for t in shown}
    for ax, name in zip(axes.ravel(), names):
        _param_panel(ax, name, done, pruned, best, jitter, log_params)
    for ax in axes[:, 0]:
        ax.set_ylabel(VALUE_LABEL)
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    _params_legend(fig, pruned, best)
    fig.suptitle(f"{VALUE_LABEL} against each searched parameter "
                 f"({_n(len(done), 'completed trial')})")
    return fig


# --------------------------------------------------------------------------------------------
# 3. learning rate against regularization (coarse-to-fine)
# --------------------------------------------------------------------------------------------


def _accuracy_norm(done: list[_Trial]) -> Normalize:
    """The colour scale of the completed trials' values."""
    values = [t.value for t in done]
    lo, hi = min(values), max(values)
    if hi - lo < 1e-9:  # one value (or all equal): a small band around it, not a 1e-13 scale
        lo, hi = lo - 0.01, hi + 0.01
    return Normalize(vmin=lo, vmax=hi)


def _scatter_lr_reg(ax, done: list[_Trial], pruned: list[_Trial], stages: list, lr: str,
                    reg: str, norm: Normalize, cmap) -> list:
    """Pruned trials as grey crosses, completed ones coloured by value with one marker per
    stage; returns neutral legend entries (colour encodes accuracy, not the group)."""
    handles = []
    if pruned:
        ax.scatter([_finite(t.params[lr]) for t in pruned],
                   [_finite(t.params[reg]) for t in pruned],
                   marker="x", s=22, color="0.55", alpha=0.7, zorder=2)
        handles.append(Line2D([], [], ls="none", marker="x", color="0.55",
                              label=f"pruned ({len(pruned)})"))
    groups = ([(s, [t for t in done if t.stage == s]) for s in stages]
              + [(None, [t for t in done if t.stage not in stages])] if stages
              else [(None, done)])
    for i, (s, ts) in enumerate(groups):
        if not ts:
            continue
        marker = _STAGE_MARKERS[i % len(_STAGE_MARKERS)]
        label = (f"stage {s} ({len(ts)})" if s is not None
                 else ("no stage" if stages else "completed") + f" ({len(ts)})")
        ax.scatter([_finite(t.params[lr]) for t in ts], [_finite(t.params[reg]) for t in ts],
                   c=[t.value for t in ts], cmap=cmap, norm=norm, marker=marker, s=46,
                   edgecolor="black", linewidths=0.4, zorder=3)
        handles.append(Line2D([], [], ls="none", marker=marker, ms=7, mfc="white",
                              mec="black", label=label))
    return handles


def _stage_boxes(ax, trials: list[_Trial], stages: list, lr: str, reg: str) -> list:
    """Outline the narrowed search box of every stage after the first; returns the patches."""
    handles = []
    for s in stages[1:]:
        members = [t for t in trials if t.stage == s]
        rx, ry = _search_range(members, lr), _search_range(members, reg)
        if rx is not None and ry is not None:
            handles.append(ax.add_patch(Rectangle(
                (rx[0], ry[0]), rx[1] - rx[0], ry[1] - ry[0], fill=False, ls="--", lw=1.1,
                edgecolor="0.3", zorder=1, label=f"stage {s} search range")))
    return handles


def _ring_best(ax, best: _Trial, lr: str, reg: str):
    """A ring around the best trial, labelled with its value and both parameters."""
    x, y = _finite(best.params[lr]), _finite(best.params[reg])
    return ax.scatter([x], [y], s=260, facecolor="none", edgecolor=_BEST, linewidths=2.0,
                      zorder=4, label=(f"best: trial {best.number}, {best.value:.4g}\n"
                                       f"{lr}={x:.3g}, {reg}={y:.3g}"))


def _lr_reg_axes(ax, shown: list[_Trial], lr: str, reg: str,
                 log_params: dict[str, bool]) -> None:
    """Scales (log where searched so), limits spanning the searched ranges, ticks and labels."""
    xs_all = [_finite(t.params[lr]) for t in shown]
    ys_all = [_finite(t.params[reg]) for t in shown]
    xlog = _use_log(shown, lr, log_params, xs_all)
    ylog = _use_log(shown, reg, log_params, ys_all)
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    _set_numeric_limits(ax, "x", _search_range(shown, lr), xs_all, xlog)
    _set_numeric_limits(ax, "y", _search_range(shown, reg), ys_all, ylog)
    if xlog:
        _tidy_log_axis(ax, "x", _is_int(shown, lr))
    if ylog:
        _tidy_log_axis(ax, "y", _is_int(shown, reg))
    ax.set_xlabel(f"{lr} (learning rate{', log scale' if xlog else ''})")
    ax.set_ylabel(f"{reg} (regularization{', log scale' if ylog else ''})")


def plot_lr_reg(study, *, lr: str = "optim.lr", reg: str = "model.reg",
                log_params: Mapping[str, bool] | None = None, ax=None) -> Figure | None:
    """Learning rate (x) against regularization strength (y), coloured by validation accuracy.

    Both axes are logarithmic where the parameter was searched that way; stages get their own
    markers and each later stage's (narrowed) search box is outlined; pruned trials are grey
    crosses; the best trial is ringed. ``None`` when either parameter was not searched (or is
    not numeric) or no completed trial has both.
    """
    log_params = _check_log_params(log_params)
    read = _read(study)
    if read is None:
        return None
    trials, maximize = read

    def both(t):
        return (_number(t.params.get(lr)) is not None
                and _number(t.params.get(reg)) is not None)

    done = [t for t in _completed(trials) if both(t)]
    pruned = [t for t in trials if t.state == "pruned" and both(t)]
    if not done:
        return None
    shown = done + pruned

    fig, ax = figure_and_axes(ax, (7.2, 5.4))
    norm = _accuracy_norm(done)
    cmap = matplotlib.colormaps["viridis"]
    stages = _stages(shown)
    handles = _scatter_lr_reg(ax, done, pruned, stages, lr, reg, norm, cmap)
    handles += _stage_boxes(ax, trials, stages, lr, reg)
    best = _best(done, maximize)
    if best is not None:
        handles.append(_ring_best(ax, best, lr, reg))
    _lr_reg_axes(ax, shown, lr, reg, log_params)
    ax.set_title(f"learning rate vs regularization: {_n(len(done), 'completed trial')}")
    ax.grid(alpha=0.3, which="major")
    cbar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, pad=0.02)
    cbar.set_label(VALUE_LABEL)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13),
              ncol=min(3, len(handles)), fontsize=8, frameon=False)
    return fig


# --------------------------------------------------------------------------------------------
# 4. importances
# --------------------------------------------------------------------------------------------


def plot_importances(study, *, evaluator=None, ax=None) -> Figure | None:
    """Parameter importances from ``optuna.importance.get_param_importances`` as bars.

    ``evaluator`` defaults to Optuna's ``PedAnovaImportanceEvaluator``. ``None`` with fewer than
    two completed trials, when no parameter varies across them, when Optuna cannot estimate
    importances (it raises, or warns that they "will be equal"), or for multi-objective studies.
    """
    read = _read(study)
    if read is None:
        return None
    trials, _ = read
    done = _completed(trials)
    if len(done) < 2:
        return None
    names = {n for t in done for n in t.params}
    varied = [n for n in names if len({repr(t.params.get(n)) for t in done}) > 1]
    if not varied:
        return None

    import optuna

    if evaluator is None:
        evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            importances = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (ValueError, RuntimeError, ArithmeticError, IndexError, KeyError,
            optuna.exceptions.OptunaError):
        return None
    if any("will be equal" in str(w.message) for w in caught):
        return None  # Optuna could not tell the parameters apart: equal bars would mislead
    items = [(k, _finite(v)) for k, v in importances.items()]
    items = [(k, v) for k, v in items if v is not None]
    if not items or not any(v > 0 for _, v in items):
        return None
    items.sort(key=lambda kv: kv[1])  # smallest first, so the largest bar is on top

    fig, ax = figure_and_axes(ax, (7, 0.9 + 0.45 * len(items)))
    bars = ax.barh([k for k, _ in items], [v for _, v in items], color=_COMPLETE, alpha=0.85)
    ax.bar_label(bars, labels=[f"{v:.2f}" for _, v in items], padding=3, fontsize=8)
    ax.set_xlim(0, max(v for _, v in items) * 1.18)
    ax.set_xlabel("relative importance (sums to 1)")
    method = type(evaluator).__name__
    method = _EVALUATORS.get(method, method.replace("ImportanceEvaluator", ""))
    ax.set_title(f"parameter importance ({method}, {_n(len(done), 'completed trial')})",
                 fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return fig


# --------------------------------------------------------------------------------------------
# 5. learning curves
# --------------------------------------------------------------------------------------------


def plot_intermediate(study, *, ax=None) -> Figure | None:
    """Reported validation accuracy per epoch for every trial (its learning curve).

    Completed trials are blue lines, pruned ones orange and ending in a cross where they were
    stopped, failed ones red dotted, unfinished ones grey dashed; the best trial is drawn bold.
    ``None`` when no trial reported anything.
    """
    read = _read(study)
    if read is None:
        return None
    trials, maximize = read
    curves = [t for t in trials if t.steps and any(np.isfinite(t.curve))]
    if not curves:
        return None
    best = _best(curves, maximize)
    alpha = float(np.clip(3.0 / math.sqrt(len(curves)), 0.2, 0.8))
    # state -> (legend name, line style); waiting trials count as unfinished
    kinds = {
        "complete": ("completed", dict(color=_COMPLETE, lw=1.1, ls="-")),
        "pruned": ("pruned (stopped early)", dict(color=_PRUNED, lw=0.9, ls="-")),
        "fail": ("failed", dict(color=_FAILED, lw=0.9, ls=":")),
        "running": ("unfinished", dict(color="0.5", lw=0.9, ls="--")),
    }

    fig, ax = figure_and_axes(ax, (8, 4.4))
    counts: dict[str, int] = {}
    for t in curves:
        kind = t.state if t.state in kinds else "running"
        counts[kind] = counts.get(kind, 0) + 1
        marker = "o" if len(t.steps) == 1 else None
        ax.plot(t.steps, t.curve, marker=marker, ms=3, alpha=alpha, zorder=2, **kinds[kind][1])
        if kind == "pruned":
            ax.plot(t.steps[-1], t.curve[-1], marker="x", ms=5, color=_PRUNED, zorder=3)
    if best is not None:
        ax.plot(best.steps, best.curve, color="navy", lw=2.4, zorder=4,
                marker="o" if len(best.steps) == 1 else None)

    handles = [Line2D([], [], marker="x" if kind == "pruned" else None,
                      label=f"{label} ({counts[kind]})", **st)
               for kind, (label, st) in kinds.items() if kind in counts]
    if best is not None:
        handles.append(Line2D([], [], color="navy", lw=2.4,
                              label=f"best: trial {best.number} ({best.value:.4g})"))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch (reported step)")
    ax.set_ylabel(VALUE_LABEL)
    ax.set_title(f"learning curves of {_n(len(curves), 'trial')}")
    ax.grid(alpha=0.3)
    _legend_outside(ax, handles=handles)
    return fig


# --------------------------------------------------------------------------------------------
# 6. everything
# --------------------------------------------------------------------------------------------


def plot_search(study, log_params: Mapping[str, bool] | None = None) -> dict[str, Figure]:
    """Every plot that applies, keyed by file stem in this order: history, params, lr_reg,
    importances, intermediate; a plot with nothing to draw is left out."""
    log_params = _check_log_params(log_params)
    _check_study(study)
    figures = {
        "history": plot_history(study),
        "params": plot_params(study, log_params),
        "lr_reg": plot_lr_reg(study, log_params=log_params),
        "importances": plot_importances(study),
        "intermediate": plot_intermediate(study),
    }
    return {stem: fig for stem, fig in figures.items() if fig is not None}
