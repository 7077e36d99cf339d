"""Report sections of the analysis folders: a loss surface (and curvature results beside it), a
hyperparameter study and a lab experiment."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError, InputError
from . import files
from .charts import chart, series
from .page import (
    Page,
    cards,
    config_block,
    esc,
    figure_image,
    grid,
    image,
    key_values,
    paragraph,
    show,
    table,
)
from .training import read_run

SURFACE_CAPTIONS = {
    "contour": "contour lines of the loss", "contourf": "filled contours of the loss",
    "heatmap_loss": "heatmap of the loss", "heatmap_acc": "heatmap of the accuracy",
    "surface3d": "the loss as a 3-D surface", "path": "the optimization path on the loss",
    "line": "the loss (and accuracy) along the slice",
}
SURFACE_WHAT = {"plane": "loss landscape on a random plane",
                "path": "loss landscape on the PCA plane of the training path",
                "line": "loss along a direction",
                "interpolation": "linear interpolation between two solutions"}


# ----------------------------------------------------------------------------- a surface
def _load_surface(path: Path):
    from ..landscape import Surface

    try:
        surf = Surface.load(path)
    except InputError as e:
        raise DataError(str(e)) from None
    cells = surf.x.size * (1 if surf.y is None else surf.y.size)
    if surf.loss.size != cells or surf.acc.size != cells or surf.kind not in SURFACE_WHAT:
        raise DataError(f"cannot read {path}: it is damaged (kind {surf.kind!r}, "
                        f"{surf.loss.size} losses for a grid of {cells} points)")
    return surf


def surface_page(folder: Path, where: str) -> Page:
    surf = _load_surface(folder / "surface.npz")
    settings = files.read_json(folder / "settings.json")
    meta = dict(surf.meta) if isinstance(surf.meta, dict) else {}
    if isinstance(meta.get("layout"), list):  # the model's tensors, by name
        meta["layout"] = ", ".join(str(e.get("name", "?")) for e in meta["layout"]
                                   if isinstance(e, dict))
    title = SURFACE_WHAT[surf.kind] + (f" of {meta['run_dir']}" if meta.get("run_dir") else "")
    if surf.kind == "interpolation" and meta.get("from"):
        title = f"linear interpolation from {meta['from']} to {meta.get('run_dir', 'the run')}"
    page = Page("surface", title, where)
    finite = np.isfinite(surf.loss)
    shape = f"{surf.x.size}" if surf.y is None else f"{surf.x.size} x {surf.y.size}"
    head = {"kind": surf.kind, "grid": shape, "points": surf.points,
            "min loss": surf.min_loss,
            "max accuracy": float(np.nanmax(surf.acc)) if np.isfinite(surf.acc).any() else None,
            "non-finite": int((~finite).sum())}
    page.add("summary", "Summary", cards(head),
             grid(f"<div><h3>computed with</h3>{key_values(meta)}</div>",
                  f"<div><h3>settings.json</h3>{key_values(settings)}</div>" if settings
                  else ""))
    if surf.y is None:
        page.add("curves", "The slice", grid(*_line_charts(surf)))
    figures = surf.figures()
    page.add("figures", "Figures", grid(*(figure_image(fig, SURFACE_CAPTIONS.get(stem, stem))
                                          for stem, fig in figures.items())))
    for run_dir in _runs_of(folder, meta):
        page.add("curvature", "Curvature at the same run", *curvature_parts(run_dir))
    return page


def _line_charts(surf) -> list[str]:
    xlabel = "t (0: start, 1: end)" if surf.kind == "interpolation" else "alpha along direction 1"
    return [chart("loss along the slice", xlabel, "loss", [series("loss", surf.x, surf.loss, 0)]),
            chart("accuracy along the slice", xlabel, "accuracy",
                  [series("accuracy", surf.x, surf.acc, 2)], ylog=False)]


def _runs_of(folder: Path, meta: dict) -> list[Path]:
    """The run a surface was computed from (the folder around ``landscape/``, or its recorded
    run_dir), when it holds curvature results; the surface folder itself when it does."""
    out = []
    candidates = [folder, folder.parent.parent]
    if isinstance(meta.get("run_dir"), str):
        candidates.append(Path(meta["run_dir"]))
    for c in candidates:
        if any(c.glob("hessian/*/hessian.json")) and c.resolve() not in {o.resolve()
                                                                          for o in out}:
            out.append(c)
    return out[:1]


# ----------------------------------------------------------------------------- curvature
def curvature_parts(run_dir: Path) -> list[str]:
    """Every ``hessian/<name>/hessian.json`` under ``run_dir``: its numbers and figures."""
    parts = []
    for path in sorted(run_dir.glob("hessian/*/hessian.json")):
        h = files.read_json(path)
        cond = h.get("condition") if isinstance(h.get("condition"), dict) else {}
        trace = h.get("trace") if isinstance(h.get("trace"), dict) else {}
        numbers = {"loss": h.get("loss"), "gradient norm": h.get("grad_norm"),
                   "largest eigenvalues": h.get("eigenvalues"),
                   "smallest eigenvalue": h.get("bottom_eigenvalue"),
                   "definiteness": cond.get("definiteness"),
                   "condition number": cond.get("condition_number"),
                   "largest stable GD step": cond.get("max_stable_step"),
                   "trace (Hutchinson)": trace.get("trace"), "trace std. error":
                   trace.get("stderr"), "examples": h.get("n_examples"),
                   "weights": h.get("weights"), "split": h.get("split")}
        figs = [image(uri, cap) for stem, cap in (("spectrum", "Hessian spectrum"),
                                                  ("path", "curvature along the path"))
                if (uri := files.find_image(path.parent, stem)) is not None]
        if not figs and isinstance(h.get("path"), dict):
            figs.append(_path_chart(h["path"]))
        parts.append(f"<h3>{esc(path.parent.name)}</h3>" +
                     grid(key_values({k: v for k, v in numbers.items() if v is not None}),
                          *figs))
    return parts


def _path_chart(path: dict) -> str:
    reports = path.get("reports") or []
    steps = path.get("steps") or list(range(len(reports)))
    top = [(r.get("eigenvalues") or [None])[0] for r in reports]
    bottom = [r.get("bottom_eigenvalue") for r in reports]
    return chart("curvature along the path", "step", "Hessian eigenvalue",
                 [series("largest eigenvalue", steps, _floats(top), 0),
                  series("smallest eigenvalue", steps, _floats(bottom), 1, dash="7 4")],
                 ylog=False)


def _floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


# ----------------------------------------------------------------------------- a study
STUDY_FIGURES = (("history", "search history: validation accuracy of every trial"),
                 ("importances", "hyperparameter importances"),
                 ("intermediate", "learning curves (validation accuracy per epoch)"),
                 ("params", "validation accuracy against each hyperparameter"),
                 ("lr_reg", "learning rate against regularization strength"))


def study_page(folder: Path, where: str) -> Page:
    study = files.read_json(folder / "study.json")
    summary = files.read_json(folder / "summary.json") or {}
    trials = files.read_csv(folder / "trials.csv")
    cols, rows = trials if trials is not None else ([], [])
    page = Page("study", f"hyperparameter search {study.get('study', folder.name)}", where)
    head = {"best val acc": summary.get("best_value"), "best trial": summary.get("best_trial"),
            "trials": summary.get("trials", len(rows)), "completed": summary.get("completed"),
            "pruned": summary.get("pruned"), "failed": summary.get("failed")}
    about = {k: study.get(k) for k in ("sampler", "pruner", "stages", "storage")}
    about["seconds"] = summary.get("seconds")
    page.add("summary", "Summary", cards(head), key_values(about))
    best_cfg = files.read_yaml(folder / "best_config.yaml")
    page.add("best", "Best configuration",
             key_values(summary.get("best_params") or {}),
             config_block(*best_cfg, what="best_config.yaml") if best_cfg else "")
    best = summary.get("best_trial")
    hl = next((i for i, r in enumerate(rows) if r.get("number") == best), None)
    page.add("trials", "Trials", table(cols, [[r.get(c) for c in cols] for r in rows],
                                       sortable=True, highlight=hl, scroll=True))
    page.add("curves", "Learning curves and search history",
             grid(_learning_curves(folder, rows, best), _history_chart(rows)))
    page.add("figures", "Importances and the search's figures",
             grid(*_study_figures(folder, study)))
    page.add("space", "Search space", _space_table(study.get("space")))
    if isinstance(study.get("base"), dict):
        import yaml

        page.add("base", "Base configuration", paragraph(
            "the run configuration every trial starts from before the searched values are set"),
            config_block(None, yaml.safe_dump(study["base"], sort_keys=False),
                         "base configuration (study.json)"))
    return page


def _trial_dir(folder: Path, row: dict) -> Path:
    recorded = row.get("run_dir")
    if isinstance(recorded, str) and Path(recorded).is_dir():
        return Path(recorded)
    number = row.get("number")
    return folder / "trials" / f"trial-{int(number or 0):04d}"


def _learning_curves(folder: Path, rows: list[dict], best, limit: int = 40) -> str:
    ranked = sorted((r for r in rows if isinstance(r.get("number"), float)),
                    key=lambda r: -(files.finite(r.get("value")) or -np.inf))
    out = []
    for row in ranked[:limit]:
        sub = _trial_dir(folder, row)
        if not (sub / "metrics.csv").is_file():
            continue
        run = read_run(sub)
        if not (run.has("epoch") and run.has("val_acc")):
            continue
        is_best = row.get("number") == best
        name = f"trial {int(row['number'])} ({row.get('state', '?')}, {show(row.get('value'))})"
        out.append(series(("best: " if is_best else "") + name, run.column("epoch"),
                          run.column("val_acc"), len(out), width=3.5 if is_best else 1.6))
    note = (f"the {limit} best of {len(ranked)} trials" if len(ranked) > limit else "")
    return chart("learning curves: validation accuracy per epoch of each trial", "epoch",
                 "validation accuracy", out, ylog=False, note=note)


def _history_chart(rows: list[dict]) -> str:
    done = [r for r in rows if isinstance(r.get("number"), float)
            and files.finite(r.get("value")) is not None]
    if not done:
        return ""
    done.sort(key=lambda r: r["number"])
    x = np.array([r["number"] for r in done])
    y = np.array([r["value"] for r in done], dtype=np.float64)
    return chart("search history: the value of every trial and the best so far", "trial",
                 "validation accuracy",
                 [series("trial value", x, y, 0, mode="markers"),
                  series("best so far", x, np.maximum.accumulate(y), 1, mode="line")],
                 ylog=False)


def _study_figures(folder: Path, study: dict) -> list[str]:
    """The study's own plots (plots/*.png or .svg); redrawn from study.db when it has none."""
    out = [image(uri, cap) for stem, cap in STUDY_FIGURES
           if (uri := files.find_image(folder / "plots", stem)) is not None]
    db = folder / "study.db"
    if out or not db.is_file() or not str(study.get("storage", "")).startswith("sqlite"):
        return out
    import optuna

    from ..tune.plots import plot_search

    try:
        loaded = optuna.load_study(study_name=study.get("study"), storage=f"sqlite:///{db}")
    except Exception as e:  # a damaged database or another study: named, not hidden
        raise DataError(f"cannot read {db}: {type(e).__name__}: {e}") from None
    log = {k: bool(v.get("log")) for k, v in (study.get("space") or {}).items()
           if isinstance(v, dict)}
    captions = dict(STUDY_FIGURES)
    return [figure_image(fig, captions.get(stem, stem)) for stem, fig in
            plot_search(loaded, log).items()]


def _space_table(space) -> str:
    if not isinstance(space, dict) or not space:
        return ""
    rows = [[name, p.get("type"), p.get("low"), p.get("high"), p.get("log"),
             p.get("choices")] for name, p in space.items() if isinstance(p, dict)]
    return table(["parameter", "type", "low", "high", "log", "choices"], rows)


# ----------------------------------------------------------------------------- a lab result
def _verdicts(path: Path, result: dict) -> list[dict]:
    verdicts = result.get("verdicts")
    ok = isinstance(verdicts, list) and all(
        isinstance(v, dict) and {"claim", "measured", "held"} <= set(v) for v in verdicts)
    if not ok:
        raise DataError(f"cannot read {path}: it is damaged (no list of verdicts with claim, "
                        f"measured and held)")
    return verdicts


def _verdict_html(verdicts: list[dict]) -> str:
    n_held = sum(bool(v["held"]) for v in verdicts)
    if n_held == len(verdicts):
        banner = (f"All {len(verdicts)} of the lecture's claims held on this run."
                  if len(verdicts) > 1 else "The lecture's claim held on this run.")
    else:
        banner = (f"{len(verdicts) - n_held} of {len(verdicts)} claims did NOT hold on this "
                  f"run.")
    cls = "held" if n_held == len(verdicts) else "not-held"
    items = "".join(
        f'<div class="verdict {"held" if v["held"] else "not-held"}">'
        f'<div class="mark">{"&#10004; held" if v["held"] else "&#10008; did not hold"}</div>'
        f'<div class="claim">{esc(v["claim"])}</div>'
        f'<div class="measured"><b>measured:</b> {esc(v["measured"])}</div></div>'
        for v in verdicts)
    return f'<div class="banner {cls}">{esc(banner)}</div><div class="verdicts">{items}</div>'


def lab_page(folder: Path, where: str) -> Page:
    path = folder / "result.json"
    result = files.read_json(path)
    verdicts = _verdicts(path, result)
    name = str(result.get("name", folder.name))
    page = Page("lab", f"lab experiment {name}" + (" (quick)" if result.get("quick") else ""),
                where)
    page.add("verdicts", "Verdicts: the lecture's claims against this run",
             _verdict_html(verdicts))
    page.add("look", "What to look at", paragraph(str(result.get("text") or ""), "prose"))
    stems = result.get("figures") if isinstance(result.get("figures"), list) else []
    figs, missing = [], []
    for stem in map(str, stems):
        uri = files.find_image(folder, stem)
        if uri is None:
            missing.append(stem)
        else:
            figs.append(image(uri, stem.replace("_", " ")))
    page.add("figures", "Figures", grid(*figs, wide=len(figs) == 1),
             paragraph(f"not embeddable (no PNG or SVG in the folder): {', '.join(missing)}"
                       if missing else ""))
    rows = result.get("table") if isinstance(result.get("table"), list) else []
    rows = [r for r in rows if isinstance(r, dict)]
    if not rows and (csv_table := files.read_csv(folder / "table.csv")) is not None:
        rows = csv_table[1]
    cols = list(dict.fromkeys(k for r in rows for k in r))
    page.add("table", "Table", table(cols, [[r.get(c) for c in cols] for r in rows],
                                     sortable=True, scroll=len(rows) > 20) if rows else "")
    about = {"experiment": name, "quick": result.get("quick"), "seed": result.get("seed"),
             "seconds": result.get("seconds"), **(result.get("options") or {})}
    page.add("about", "Run settings", key_values(about))
    return page
