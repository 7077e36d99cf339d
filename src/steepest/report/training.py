"""Report sections of training: a run folder, and a comparison folder (one run per variant)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import files
from .charts import chart, series, smoothed
from .page import Page, cards, config_block, figure_image, grid, image, key_values, paragraph, table

# per-epoch columns drawn in panels of their own (everything else numeric goes to "other")
BASE_COLUMNS = ("epoch", "step", "seconds", "train_loss", "train_eval_loss", "val_loss",
                "train_acc", "val_acc", "test_acc", "lr", "grad_norm", "sharpness",
                "stability_bound")
PREFIXES = ("update_ratio.", "dead.", "saturated.", "act_mean.", "act_std.")
IMAGE_DATASETS = {"digits", "mnist", "fashion-mnist", "cifar10"}


@dataclass
class RunFiles:
    """What a run folder holds, read and checked (None where a file is absent)."""

    folder: Path
    config: dict | None
    config_text: str | None
    summary: dict | None
    metrics: list[dict]
    columns: list[str]
    losses: np.ndarray | None  # per step, from iterations.csv
    sharpness: np.ndarray | None  # rows of (step, sharpness, bound)

    def column(self, name: str) -> np.ndarray:
        return files.numeric_column(self.folder / "metrics.csv", self.metrics, name)

    def has(self, name: str) -> bool:
        return name in self.columns and any(r.get(name) is not None for r in self.metrics)

    @property
    def steps(self) -> np.ndarray:
        return self.column("step") if self.has("step") else self.column("epoch")


def read_run(folder: Path) -> RunFiles:
    """Every file of a run that the report shows; a damaged one raises a DataError naming it."""
    cfg = files.read_yaml(folder / "config.yaml")
    config, text = cfg if cfg is not None else (None, None)
    summary = files.read_json(folder / "summary.json")
    table_ = files.read_csv(folder / "metrics.csv")
    columns, metrics = table_ if table_ is not None else ([], [])
    it = files.read_numbers(folder / "iterations.csv", ("loss",))
    losses = None if it is None else it[:, 0]
    sharpness = files.read_numbers(folder / "sharpness.csv",
                                   ("step", "sharpness", "stability_bound"))
    run = RunFiles(folder, config, text, summary, metrics, columns, losses, sharpness)
    for name in columns:
        run.column(name)  # every metric must be a number: a damaged table is named here
    return run


def describe(config: dict | None) -> str:
    """``digits: MLP 64 (relu), momentum at lr 0.05`` from a run config."""
    if not isinstance(config, dict):
        return "a run"
    data, model, optim = (config.get(k) or {} for k in ("data", "model", "optim"))
    hidden = model.get("hidden") or []
    torch = model.get("torch") if isinstance(model.get("torch"), dict) else {}
    if torch.get("factory"):
        net = f"PyTorch {torch['factory']}"
    elif hidden:
        net = f"MLP {'-'.join(map(str, hidden))} ({model.get('activation', '?')})"
    else:
        net = "linear classifier"
    lr = optim.get("lr")
    rate = f" at lr {lr:g}" if isinstance(lr, int | float) else ""
    return f"{data.get('name', '?')}: {net}, {optim.get('name', '?')}{rate}"


# ----------------------------------------------------------------------------- a run
def run_page(folder: Path, where: str) -> Page:
    run = read_run(folder)
    page = Page("run", describe(run.config), where)
    page.add("summary", "Summary", *summary_parts(run))
    page.add("curves", "Loss and accuracy", grid(loss_chart(run), accuracy_chart(run)))
    panels = babysitting_charts(run)
    if panels:
        page.add("babysitting", "Babysitting: is the training healthy?", paragraph(
            "Measured every epoch (metrics.csv): the update-to-weight ratio of each weight "
            "tensor (about 1e-3 is healthy), the gradient norm, the learning rate, and per "
            "layer the dead or saturated units and the statistics of the activations on a "
            "fixed subset of training rows."), grid(*panels))
    page.add("sharpness", "Sharpness", sharpness_chart(run))
    page.add("weights", "First-layer weights", weights_figure(run))
    from .analysis import curvature_parts

    page.add("curvature", "Curvature", *curvature_parts(folder))
    page.add("config", "Configuration", config_block(run.config, run.config_text or "")
             if run.config_text is not None else "")
    return page


def summary_parts(run: RunFiles) -> list[str]:
    s = run.summary
    last = run.metrics[-1] if run.metrics else {}
    if s is None:
        head = {"status": "unfinished", "epochs": last.get("epoch"), "steps": last.get("step"),
                "val acc": last.get("val_acc"), "train acc": last.get("train_acc")}
        note = ("The run has no summary.json: it is still training or was interrupted "
                "(resume it with steepest train --resume). The numbers are those of its last "
                "finished epoch." if run.metrics else "No epoch has finished yet.")
        return [cards(head, status="status"), paragraph(note)]
    head = {"status": s.get("status"), "val acc": s.get("val_acc"), "test acc": s.get("test_acc"),
            "train acc": s.get("train_acc"), "best epoch": s.get("best_epoch"),
            "epochs": s.get("epochs"), "steps": s.get("steps"), "seconds": s.get("seconds")}
    scalars = {k: v for k, v in s.items() if not isinstance(v, dict | list)}
    last_epoch = s.get("last_epoch") if isinstance(s.get("last_epoch"), dict) else {}
    tables = grid(f"<div><h3>summary.json</h3>{key_values(scalars)}</div>",
                  f"<div><h3>last epoch</h3>{key_values(last_epoch)}</div>" if last_epoch
                  else "")
    return [cards(head, status="status"), paragraph(str(s.get("message") or ""), "lead"),
            f"<details><summary>every number of summary.json and of the last epoch</summary>"
            f"{tables}</details>"]


def loss_chart(run: RunFiles) -> str:
    out = []
    if run.losses is not None and run.losses.size:
        steps = np.arange(1, run.losses.size + 1)
        out.append(series("mini-batch loss", steps, run.losses, 0, faint=True, width=1))
        out.append(series("smoothed", steps, smoothed(run.losses), 0, width=2.2))
    elif run.has("train_loss"):
        out.append(series("mean training loss of the epoch", run.steps, run.column("train_loss"),
                          0))
    if run.has("train_eval_loss"):
        out.append(series("training loss (evaluated subset)", run.steps,
                          run.column("train_eval_loss"), 2, mode="both"))
    if run.has("val_loss"):
        out.append(series("validation loss", run.steps, run.column("val_loss"), 1, mode="both"))
    per_epoch = ""
    if run.metrics and run.has("epoch") and run.has("step"):
        per_epoch = f"{int(run.metrics[0]['step'] / max(run.metrics[0]['epoch'], 1))} per epoch"
    status = (run.summary or {}).get("status")
    note = "the run diverged: its last steps are where the loss blew up" \
        if status == "diverged" else ""
    return chart("training loss per step and evaluated losses per epoch",
                 f"step ({per_epoch})" if per_epoch else "step", "loss", out, note=note)


def accuracy_chart(run: RunFiles) -> str:
    out = []
    for i, (col, name) in enumerate((("train_acc", "train (fixed subset)"),
                                     ("val_acc", "validation"))):
        if run.has(col):
            out.append(series(name, run.column("epoch"), run.column(col), i, mode="both"))
    test = files.finite((run.summary or {}).get("test_acc"))
    hl = [] if test is None else [{"y": test, "label": f"test accuracy at the end {test:.4g}",
                                   "color": "#555"}]
    return chart("accuracy per epoch (the gap between train and validation is overfitting)",
                 "epoch", "accuracy", out, hlines=hl, ylog=False)


def _by_prefix(run: RunFiles, prefix: str) -> list[str]:
    return [c for c in run.columns if c.startswith(prefix) and run.has(c)]


def babysitting_charts(run: RunFiles) -> list[str]:
    epochs = run.column("epoch") if run.has("epoch") else None
    if epochs is None:
        return []

    def panel(prefix, title, ylabel, **kw):
        cols = _by_prefix(run, prefix)
        return chart(title, "epoch", ylabel, [series(c[len(prefix):], epochs, run.column(c), i)
                                              for i, c in enumerate(cols)], **kw)

    out = [panel("update_ratio.", "update-to-weight ratio ||dW|| / ||W|| per weight tensor",
                 "update / weight norm", ylog=True,
                 hlines=[{"y": 1e-3, "label": "1e-3 rule of thumb", "color": "#555"}])]
    if run.has("grad_norm"):
        out.append(chart("gradient norm (mean over the epoch's measured steps)", "epoch",
                         "||gradient||", [series("gradient norm", epochs,
                                                 run.column("grad_norm"), 0)]))
    if run.has("lr"):
        out.append(chart("learning rate at the end of each epoch", "epoch", "learning rate",
                         [series("learning rate", epochs, run.column("lr"), 4)]))
    out.append(panel("dead.", "dead units per layer (never active on the monitored rows)",
                     "fraction of units", ylog=False))
    out.append(panel("saturated.", "saturated units per layer (tanh or sigmoid at its bounds)",
                     "fraction of units", ylog=False))
    out.append(_activation_chart(run, epochs))
    out.append(_other_chart(run, epochs))
    return [o for o in out if o]


def _activation_chart(run: RunFiles, epochs) -> str:
    out = []
    for i, col in enumerate(_by_prefix(run, "act_mean.")):
        layer = col[len("act_mean."):]
        out.append(series(f"{layer} mean", epochs, run.column(col), i))
        if run.has(f"act_std.{layer}"):
            out.append(series(f"{layer} std", epochs, run.column(f"act_std.{layer}"), i,
                              dash="7 4"))
    return chart("activation statistics per layer (mean solid, standard deviation dashed)",
                 "epoch", "activation value", out, ylog=False)


def _other_chart(run: RunFiles, epochs) -> str:
    other = [c for c in run.columns if c not in BASE_COLUMNS and not c.startswith(PREFIXES)
             and run.has(c)]
    return chart("other per-epoch measurements", "epoch", "value",
                 [series(c, epochs, run.column(c), i) for i, c in enumerate(other)])


def sharpness_chart(run: RunFiles) -> str:
    rows = run.sharpness
    if rows is None and run.has("sharpness"):
        rows = np.stack([run.steps, run.column("sharpness"), run.column("stability_bound")
                         if run.has("stability_bound") else np.full(len(run.metrics), np.nan)],
                        axis=1)
    if rows is None or not len(rows):
        return ""
    return chart("sharpness (largest Hessian eigenvalue) against the stability bound 2 / lr",
                 "step", "top Hessian eigenvalue",
                 [series("sharpness", rows[:, 0], rows[:, 1], 0, mode="both"),
                  series("stability bound", rows[:, 0], rows[:, 2], 1, dash="7 4",
                         mode="line")])


def weights_figure(run: RunFiles) -> str:
    """The run's own picture of its first-layer weights, else one drawn from final.npz."""
    caption = "first-layer weights, one tile per unit (class templates for a linear model)"
    uri = files.find_image(run.folder / "plots", "weights")
    if uri is not None:
        return image(uri, caption, 640)
    W = _first_weights(run)
    if W is None:
        return ""
    from ..viz import plot_weight_tiles

    n = W.shape[0]
    shape = (_side(n),) * 2 if _square(n) else (_side(n // 3), _side(n // 3), 3)
    return figure_image(plot_weight_tiles(W, shape), caption + " (drawn from final.npz)",
                        max_width=640)


def _side(n: int) -> int:
    return int(round(np.sqrt(n)))


def _square(n: int) -> bool:
    return _side(n) >= 5 and _side(n) ** 2 == n


def _first_weights(run: RunFiles) -> np.ndarray | None:
    """The first weight tensor of final.npz as (inputs, units) when its inputs are the pixels
    of an image dataset; None otherwise."""
    import json

    data = (run.config or {}).get("data") or {}
    if data.get("name") not in IMAGE_DATASETS or data.get("preprocess") in ("pca", "whiten"):
        return None
    path = run.folder / "final.npz"
    z = files.read_npz(path)
    if z is None:
        return None
    try:
        layout = json.loads(str(z["layout"]))
        theta = np.asarray(z["theta"], dtype=np.float64)
        spec = next(e for e in layout if e["role"] == "weight")
        start = sum(int(np.prod(e["shape"])) for e in layout[:layout.index(spec)])
        W = theta[start:start + int(np.prod(spec["shape"]))].reshape(spec["shape"])
    except (KeyError, ValueError, TypeError, StopIteration) as e:
        raise DataError(f"cannot read {path}: it is damaged or not a steepest weights file "
                        f"({type(e).__name__})") from None
    if W.ndim != 2:
        return None
    W = W.T if spec.get("unit_axis", -1) == 0 else W
    n = W.shape[0]
    return W if _square(n) or (n % 3 == 0 and _square(n // 3)) else None


# ----------------------------------------------------------------------------- a comparison
def _variant_folders(folder: Path, data: dict) -> list[tuple[str, dict, Path]]:
    from ..experiments import Variant

    path = folder / "comparison.json"
    variants = data.get("variants")
    if not isinstance(variants, list) or not variants:
        raise DataError(f"cannot read {path}: it lists no variants")
    out = []
    for v in variants:
        if not isinstance(v, dict) or "label" not in v:
            raise DataError(f"cannot read {path}: a variant has no label")
        values = v.get("values") if isinstance(v.get("values"), dict) else {}
        out.append((str(v["label"]), values,
                    folder / Variant(str(v["label"]), values, v.get("name")).folder))
    return out


def comparison_page(folder: Path, where: str) -> Page:
    data = files.read_json(folder / "comparison.json")
    variants = _variant_folders(folder, data)
    runs = [(label, values, read_run(sub) if sub.is_dir() else None)
            for label, values, sub in variants]
    page = Page("comparison", f"{len(runs)} variants of one run: "
                f"{', '.join(label for label, _, _ in runs)}", where)
    missing = [label for label, _, r in runs if r is None]
    page.add("summary", "Summary",
             paragraph("Every variant starts from the same weights and sees the same batches; "
                       "only the values in the table differ.", "lead"),
             _comparison_table(runs),
             paragraph(f"run folder missing for: {', '.join(missing)}" if missing else ""))
    present = [(label, r) for label, _, r in runs if r is not None]
    page.add("curves", "The runs overlaid", grid(*_overlays(present)))
    first = next((r for _, r in present if r.config_text is not None), None)
    if first is not None:
        page.add("config", "Shared configuration",
                 paragraph(f"as run by the first variant ({first.folder.name}); each variant "
                           f"changes only its values in the summary table"),
                 config_block(first.config, first.config_text))
    return page


def _comparison_table(runs) -> str:
    keys = list(dict.fromkeys(k for _, values, _ in runs for k in values))
    cols = ["variant", *keys, "status", "epochs", "val acc", "test acc", "final loss",
            "seconds"]
    rows, accs = [], []
    for label, values, run in runs:
        s = (run.summary if run is not None else None) or {}
        rows.append([label, *(values.get(k) for k in keys), s.get("status", "missing"),
                     s.get("epochs"), s.get("val_acc"), s.get("test_acc"),
                     s.get("final_loss"), s.get("seconds")])
        accs.append(files.finite(s.get("val_acc")))
    best = max((i for i, a in enumerate(accs) if a is not None), key=lambda i: accs[i],
               default=None)
    return table(cols, rows, sortable=True, highlight=best)


def _overlays(present: list[tuple[str, RunFiles]]) -> list[str]:
    loss = [series(label, np.arange(1, r.losses.size + 1), smoothed(r.losses), i)
            for i, (label, r) in enumerate(present) if r.losses is not None and r.losses.size]

    def per_epoch(col):
        return [series(label, r.column("epoch"), r.column(col), i)
                for i, (label, r) in enumerate(present) if r.has(col) and r.has("epoch")]

    return [chart("training loss per step (smoothed), one curve per variant", "step", "loss",
                  loss),
            chart("validation accuracy per epoch, one curve per variant", "epoch",
                  "validation accuracy", per_epoch("val_acc"), ylog=False),
            chart("validation loss per epoch", "epoch", "validation loss",
                  per_epoch("val_loss")),
            chart("training accuracy per epoch (fixed subset)", "epoch", "training accuracy",
                  per_epoch("train_acc"), ylog=False)]
