"""The ``steepest`` command line. Library code returns data; this module renders it."""

from __future__ import annotations

import json
import sys
from functools import wraps
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from . import __version__
from ._io import json_default
from .errors import SteepestError

app = typer.Typer(
    help="steepest: train neural-network classifiers and see how they optimize.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Datasets: where they are and what they hold.", no_args_is_help=True)
app.add_typer(data_app, name="data")

console = Console()
err = Console(stderr=True, soft_wrap=True)

# ----------------------------------------------------------------------------- shared options
DATASET_NAMES = "digits, mnist, fashion-mnist, cifar10, spiral, blobs"
Dataset = Annotated[str, typer.Option("--dataset", "-d", help=DATASET_NAMES)]
DataDir = Annotated[
    Path | None, typer.Option("--data-dir", help="read the dataset files from this folder")
]
Hidden = Annotated[
    str, typer.Option("--hidden", help="hidden layer sizes, comma-separated; '' = linear")
]
Activation = Annotated[
    str, typer.Option("--activation", help="relu, leaky_relu, sigmoid, tanh, maxout")
]
BatchNormOpt = Annotated[bool, typer.Option("--batchnorm/--no-batchnorm", help="BatchNorm")]
DropoutOpt = Annotated[
    float | None, typer.Option("--dropout", help="dropout keep-probability p in (0, 1]")
]
LossOpt = Annotated[str, typer.Option("--loss", help="softmax, svm, l2, l1")]
RegOpt = Annotated[float, typer.Option("--reg", help="regularization strength lambda")]
RegularizerOpt = Annotated[str, typer.Option("--regularizer", help="l2, l1, elastic, none")]
InitOpt = Annotated[
    str | None, typer.Option("--init", help="zeros, small, xavier, he (default by activation)")
]
SeedOpt = Annotated[int, typer.Option("--seed", help="seed of weights and sampling")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")]


def _parse_hidden(hidden: str) -> list[int]:
    hidden = hidden.strip()
    if not hidden:
        return []
    try:
        return [int(h) for h in hidden.split(",")]
    except ValueError:
        raise typer.BadParameter(
            f"--hidden must be comma-separated integers like 256,128, got {hidden!r}"
        ) from None


def _build(dataset, data_dir, hidden, activation, batchnorm, dropout, loss, reg, regularizer,
           init, seed):
    from .data import load_dataset
    from .nn import mlp

    ds = load_dataset(dataset, data_dir=data_dir, seed=seed)
    model = mlp(
        [ds.n_features, *_parse_hidden(hidden), ds.n_classes],
        activation=activation, batchnorm=batchnorm, dropout=dropout, loss=loss, reg=reg,
        regularizer=regularizer, init=init,
    )
    return ds, model


def _sizes(model) -> str:
    cfg = model.config or {}
    return "-".join(str(s) for s in cfg.get("sizes", []))


def boundary(fn):
    """Turn the library's deliberate errors into one clear line and exit status 2."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SteepestError as e:
            err.print(f"[bold red]error:[/] {e}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def _finite(obj):
    """Non-finite floats become None: strict JSON has no NaN or Infinity."""
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _emit_json(obj) -> None:
    """One strict-JSON object on stdout (NaN and infinities as null)."""
    text = json.dumps(_finite(json.loads(json.dumps(obj, default=json_default))), indent=2,
                      allow_nan=False)
    sys.stdout.write(text + "\n")


# ----------------------------------------------------------------------------- gradcheck
def _gradcheck_table(result, title: str) -> Table:
    table = Table(title=title)
    for col in ("tensor", "shape", "checked", "max rel. error", "worst index", "kinks", "status"):
        table.add_column(col, justify="right" if col in ("checked", "kinks") else "left")
    style = {"pass": "green", "fail": "bold red", "kink": "yellow"}
    for t in result.tensors:
        table.add_row(
            t.name, "x".join(map(str, t.shape)), str(t.n_checked), f"{t.max_rel_error:.2e}",
            "-" if t.worst_index is None else str(t.worst_index), str(t.kink_crossings),
            f"[{style[t.status]}]{t.status}[/]",
        )
    return table


def run_gradcheck(dataset="digits", data_dir=None, hidden="64", activation="relu",
                  batchnorm=False, dropout=None, loss="softmax", reg=0.0, regularizer="l2",
                  init=None, seed=0, mode="fast", k=10, batch=32, h=1e-5, tol=None, train=True):
    from .gradcheck import check_model

    ds, model = _build(dataset, data_dir, hidden, activation, batchnorm, dropout, loss, reg,
                       regularizer, init, seed)
    rows = np.random.default_rng(seed).choice(ds.n_train, size=min(batch, ds.n_train),
                                              replace=False)
    result = check_model(model, ds.X_train[rows], ds.y_train[rows], mode=mode, k=k, h=h,
                         tol=tol, train=train, seed=seed)
    return ds, model, result


@app.command()
@boundary
def gradcheck(
    dataset: Dataset = "digits",
    data_dir: DataDir = None,
    hidden: Hidden = "64",
    activation: Activation = "relu",
    batchnorm: BatchNormOpt = False,
    dropout: DropoutOpt = None,
    loss: LossOpt = "softmax",
    reg: RegOpt = 0.0,
    regularizer: RegularizerOpt = "l2",
    init: InitOpt = None,
    seed: SeedOpt = 0,
    mode: Annotated[str, typer.Option("--mode", help="fast, sampled or full")] = "fast",
    k: Annotated[int, typer.Option("--k", help="coordinates per tensor (sampled)")] = 10,
    batch: Annotated[int, typer.Option("--batch", help="examples in the checked batch")] = 32,
    h: Annotated[float, typer.Option("--h", help="finite-difference step")] = 1e-5,
    tol: Annotated[float | None, typer.Option("--tol", help="relative-error tolerance")] = None,
    train: Annotated[bool, typer.Option("--train/--eval", help="mode of the model")] = True,
    as_json: JsonOpt = False,
):
    """Check the analytic gradient of a model against finite differences, tensor by tensor."""
    ds, model, result = run_gradcheck(dataset, data_dir, hidden, activation, batchnorm, dropout,
                                      loss, reg, regularizer, init, seed, mode, k, batch, h, tol,
                                      train)
    if as_json:
        _emit_json({**result.to_dict(), "dataset": ds.name, "model": _sizes(model),
                    "n_params": model.n_params})
    else:
        title = (f"gradient check ({result.mode}, {result.method} differences, float64) of MLP "
                 f"{_sizes(model)} on {ds.name}")
        console.print(_gradcheck_table(result, title))
        failed = ", ".join(result.failed)
        verdict = "[green]OK[/]" if result.ok else f"[bold red]FAILED[/]: {failed}"
        console.print(f"{verdict}  max rel. error {result.max_rel_error:.2e} (tol {result.tol:g}), "
                  f"{result.n_evals} evaluations in {result.seconds * 1e3:.1f} ms")
    if not result.ok:
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- inspect
def _report_tables(report) -> list[Table]:
    head = Table(title="initial sanity checks (before any training)", show_header=False)
    head.add_column("what")
    head.add_column("value")
    exp = report["expected_data_loss"]
    head.add_row("parameters", f"{report['n_params']:,}")
    head.add_row("loss / regularizer / init",
                 f"{report['loss']} / {report['regularizer']} / {report['init']}")
    head.add_row("data loss at init", f"{report['data_loss']:.4f}"
                 + (f"  (chance: {exp:.4f})" if exp is not None else ""))
    head.add_row("regularization loss", f"{report['reg_loss']:.4f}")
    head.add_row("accuracy at init", f"{report['accuracy']:.3f}  (chance: "
                 f"{report['chance_accuracy']:.3f})")
    head.add_row("gradient norm", f"{report['grad_norm']:.3e}")
    layers = Table(title="activations on the sample")
    for col in ("layer", "kind", "mean", "std", "dead / saturated"):
        layers.add_column(col)
    for row in report["layers"]:
        extra = ""
        if "dead_fraction" in row:
            extra = f"dead units {row['dead_fraction']:.1%}"
        if "saturated_fraction" in row:
            extra = f"saturated {row['saturated_fraction']:.1%}"
        layers.add_row(row["name"], row["kind"], f"{row['mean']:+.3f}", f"{row['std']:.3f}", extra)
    tensors = Table(title="parameters")
    for col in ("tensor", "shape", "role", "std", "norm", "grad norm"):
        tensors.add_column(col)
    for t in report["tensors"]:
        tensors.add_row(t["name"], "x".join(map(str, t["shape"])), t["role"], f"{t['std']:.3e}",
                        f"{t['norm']:.3e}", f"{t['grad_norm']:.3e}")
    return [head, layers, tensors]


def run_inspect(dataset="digits", data_dir=None, hidden="64", activation="relu", batchnorm=False,
                dropout=None, loss="softmax", reg=0.0, regularizer="l2", init=None, seed=0,
                sample=512):
    from .diagnostics import initial_report

    ds, model = _build(dataset, data_dir, hidden, activation, batchnorm, dropout, loss, reg,
                       regularizer, init, seed)
    theta = model.init_params(seed)
    n = min(sample, ds.n_train)
    report = initial_report(model, theta, ds.X_train[:n], ds.y_train[:n])
    report.update(dataset=ds.name, model=_sizes(model), n_train=ds.n_train, n_test=ds.n_test)
    return report


@app.command()
@boundary
def inspect(
    dataset: Dataset = "digits",
    data_dir: DataDir = None,
    hidden: Hidden = "64",
    activation: Activation = "relu",
    batchnorm: BatchNormOpt = False,
    dropout: DropoutOpt = None,
    loss: LossOpt = "softmax",
    reg: RegOpt = 0.0,
    regularizer: RegularizerOpt = "l2",
    init: InitOpt = None,
    seed: SeedOpt = 0,
    sample: Annotated[int, typer.Option("--sample", help="training rows to look at")] = 512,
    as_json: JsonOpt = False,
):
    """A training-free report of a model at its initial weights on a dataset."""
    report = run_inspect(dataset, data_dir, hidden, activation, batchnorm, dropout, loss, reg,
                         regularizer, init, seed, sample)
    if as_json:
        _emit_json(report)
        return
    console.print(f"[bold]MLP {report['model']}[/] on [bold]{report['dataset']}[/] "
              f"({report['n_train']} train / {report['n_test']} test rows)")
    for table in _report_tables(report):
        console.print(table)


# ----------------------------------------------------------------------------- train
def _overrides(**kw) -> dict:
    """CLI options (None = not given) as a nested config dict."""
    sections: dict = {"data": {}, "model": {}, "optim": {"schedule": {}}, "train": {}}
    for key, value in kw.items():
        if value is None:
            continue
        section, _, name = key.partition("__")
        if section == "schedule":
            sections["optim"]["schedule"][name] = value
        else:
            sections[section][name] = value
    return sections


def _config(path: Path | None, overrides: dict):
    """The run config: the YAML file (if any) with the given command-line overrides on top."""
    from .config import load_config, merge, parse_config

    base = load_config(path).model_dump() if path else {}
    return parse_config(merge(base, overrides))


def _progress_callback(progress, task_holder):
    def on_event(ev):
        kind = ev["type"]
        if kind == "optimizer":
            task_holder["label"] = f"{ev['name']} (lr {ev['lr']:g})"
        elif kind == "start":
            task_holder["task"] = progress.add_task(task_holder.get("label", "training"),
                                                    total=ev["steps"], completed=ev["step"],
                                                    info="")
        elif kind == "step":
            progress.update(task_holder["task"], completed=ev["step"])
        elif kind == "epoch":
            progress.update(task_holder["task"], info=(
                f"epoch {ev['epoch']}  loss {ev['train_loss']:.4f}  "
                f"train {ev['train_acc']:.3f}  val {ev['val_acc']:.3f}"))
    return on_event


def _result_table(summary: dict, title: str) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value")
    for key in ("status", "train_acc", "val_acc", "test_acc", "final_loss", "epochs", "steps",
                "seconds", "best_epoch", "run_dir"):
        v = summary.get(key)
        if isinstance(v, float):
            v = f"{v:.4f}" if key != "seconds" else f"{v:.2f}"
        table.add_row(key, str(v))
    return table


@app.command()
@boundary
def train(
    config: Annotated[Path | None, typer.Option("--config", help="a YAML run config")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help=DATASET_NAMES)] = None,
    data_dir: DataDir = None,
    model: Annotated[str | None, typer.Option("--model", help="mlp or linear")] = None,
    hidden: Annotated[str | None, typer.Option("--hidden", help="e.g. 256,128")] = None,
    activation: Annotated[str | None, typer.Option("--activation")] = None,
    batchnorm: Annotated[bool | None, typer.Option("--batchnorm/--no-batchnorm")] = None,
    dropout: DropoutOpt = None,
    loss: Annotated[str | None, typer.Option("--loss", help="softmax or svm")] = None,
    reg: Annotated[float | None, typer.Option("--reg", help="regularization strength")] = None,
    regularizer: Annotated[str | None, typer.Option("--regularizer")] = None,
    init: InitOpt = None,
    preprocess: Annotated[str | None, typer.Option(
        "--preprocess", help="none, center, standardize, minmax, pca, whiten")] = None,
    pca_components: Annotated[int | None, typer.Option("--pca-components")] = None,
    val_fraction: Annotated[float | None, typer.Option("--val-fraction")] = None,
    train_subset: Annotated[int | None, typer.Option("--train-subset")] = None,
    optimizer: Annotated[str | None, typer.Option(
        "--optimizer", "-o",
        help="gd, sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="learning rate")] = None,
    momentum: Annotated[float | None, typer.Option("--momentum")] = None,
    momentum_final: Annotated[float | None, typer.Option(
        "--momentum-final", help="anneal the momentum to this value")] = None,
    beta1: Annotated[float | None, typer.Option("--beta1")] = None,
    beta2: Annotated[float | None, typer.Option("--beta2")] = None,
    weight_decay: Annotated[float | None, typer.Option("--weight-decay")] = None,
    schedule: Annotated[str | None, typer.Option(
        "--schedule", help="constant, step, exponential, inverse_time, cosine")] = None,
    decay_factor: Annotated[float | None, typer.Option("--decay-factor")] = None,
    decay_every: Annotated[float | None, typer.Option("--decay-every", help="epochs")] = None,
    decay_k: Annotated[float | None, typer.Option("--decay-k", help="per epoch")] = None,
    warmup_epochs: Annotated[float | None, typer.Option("--warmup-epochs")] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", "-e")] = None,
    iterations: Annotated[int | None, typer.Option("--iterations")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", "-b")] = None,
    seed: Annotated[int | None, typer.Option("--seed")] = None,
    patience: Annotated[int | None, typer.Option("--patience", help="early stopping")] = None,
    dtype: Annotated[str | None, typer.Option("--dtype", help="float32 or float64")] = None,
    keep_path_every: Annotated[int | None, typer.Option(
        "--keep-path-every", help="keep the weights every N steps (for landscape --path)")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="the run directory")] = None,
    resume: Annotated[Path | None, typer.Option("--resume", help="continue this run")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots")] = True,
    as_json: JsonOpt = False,
):
    """Train a classifier (default: a small MLP on the bundled digits) into a run directory."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .runs import default_run_dir, resume_run, train_run

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[info]}"), console=err, disable=as_json)
    on_event = _progress_callback(progress, {})
    if resume is not None:
        with progress:
            result = resume_run(resume, on_event=on_event, plots=plots)
    else:
        if model == "linear":
            hidden = ""
        elif model not in (None, "mlp"):
            raise typer.BadParameter(f"--model must be mlp or linear, got {model!r}")
        cfg = _config(config, _overrides(
            data__name=dataset, data__data_dir=None if data_dir is None else str(data_dir),
            data__preprocess=preprocess, data__pca_components=pca_components,
            data__val_fraction=val_fraction, data__train_subset=train_subset,
            model__hidden=None if hidden is None else _parse_hidden(hidden),
            model__activation=activation, model__batchnorm=batchnorm, model__dropout=dropout,
            model__loss=loss, model__reg=reg, model__regularizer=regularizer, model__init=init,
            optim__name=optimizer, optim__lr=lr, optim__momentum=momentum,
            optim__momentum_final=momentum_final, optim__beta1=beta1, optim__beta2=beta2,
            optim__weight_decay=weight_decay, schedule__kind=schedule,
            schedule__factor=decay_factor, schedule__every_epochs=decay_every,
            schedule__k=decay_k, schedule__warmup_epochs=warmup_epochs,
            train__epochs=epochs, train__iterations=iterations, train__batch_size=batch_size,
            train__seed=seed, train__patience=patience, train__dtype=dtype,
            train__keep_path_every=keep_path_every,
        ))
        run_dir = out or default_run_dir(cfg)
        with progress:
            result = train_run(cfg, run_dir, on_event=on_event, plots=plots)
    summary = result.summary()
    if as_json:
        _emit_json(summary)
    else:
        console.print(_result_table(summary, "training run"))
        if result.status == "diverged":
            err.print(f"[bold red]diverged:[/] {result.message}", highlight=False)
    if result.status == "diverged":
        raise typer.Exit(3)


# ----------------------------------------------------------------------------- experiments
SIX_RULES = "sgd,momentum,nesterov,adagrad,rmsprop,adam"
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="a YAML run config")]
MaybeDataset = Annotated[str | None, typer.Option("--dataset", "-d", help=DATASET_NAMES)]
MaybeHidden = Annotated[str | None, typer.Option("--hidden", help="e.g. 256,128; '' = linear")]
MaybeEpochs = Annotated[int | None, typer.Option("--epochs", "-e")]
MaybeBatch = Annotated[int | None, typer.Option("--batch-size", "-b")]
MaybeSeed = Annotated[int | None, typer.Option("--seed")]


def _common(dataset, data_dir, hidden, epochs, batch_size, seed, **more):
    return _overrides(
        data__name=dataset, data__data_dir=None if data_dir is None else str(data_dir),
        model__hidden=None if hidden is None else _parse_hidden(hidden),
        train__epochs=epochs, train__batch_size=batch_size, train__seed=seed, **more)


@app.command()
@boundary
def compare(
    optimizers: Annotated[str, typer.Option(
        "--optimizers", help="comma-separated rules")] = SIX_RULES,
    lr: Annotated[str | None, typer.Option(
        "--lr", help="one rate for all, or name=rate pairs: sgd=0.1,adam=0.001")] = None,
    config: ConfigOpt = None,
    dataset: MaybeDataset = None,
    data_dir: DataDir = None,
    hidden: MaybeHidden = None,
    epochs: MaybeEpochs = None,
    batch_size: MaybeBatch = None,
    seed: MaybeSeed = None,
    out: Annotated[Path | None, typer.Option("--out", help="output folder")] = None,
    as_json: JsonOpt = False,
):
    """Train the same model from the same start and batch order with several update rules."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from .experiments import DEFAULT_LR, compare_optimizers

    names = [n.strip() for n in optimizers.split(",") if n.strip()]
    lrs: dict[str, float] = {}
    if lr:
        try:
            if "=" in lr:
                lrs = {k.strip(): float(v) for k, v in (p.split("=") for p in lr.split(","))}
            else:
                lrs = dict.fromkeys(names, float(lr))
        except ValueError:
            raise typer.BadParameter(
                f"--lr must be a number or name=rate pairs, got {lr!r}") from None
    cfg = _config(config, _common(dataset, data_dir, hidden, epochs if epochs else
                                  (None if config else 10), batch_size, seed))
    out = out or Path("runs") / f"compare-{cfg.data.name}"
    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                        MofNCompleteColumn(), TextColumn("{task.fields[info]}"), console=err,
                        disable=as_json)
    with progress:
        rows = compare_optimizers(cfg, names, out, lrs, on_event=_progress_callback(progress, {}))
    if as_json:
        _emit_json({"runs": rows, "out": str(out), "plot": str(out / "comparison.png")})
        return
    table = Table(title=f"optimizers on {cfg.data.name} (same start, same batches)")
    for col in ("optimizer", "lr", "status", "final loss", "train acc", "val acc", "test acc",
                "seconds"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["optimizer"], f"{r['lr']:g}", r["status"], f"{r['final_loss']:.4f}",
                      f"{r['train_acc']:.3f}", f"{r['val_acc']:.3f}", f"{r['test_acc']:.3f}",
                      f"{r['seconds']:.1f}")
    console.print(table)
    console.print(f"plots: {out / 'comparison.png'}  (default rates: "
                  + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items() if k in names) + ")")


@app.command("lr-sweep")
@boundary
def lr_sweep_cmd(
    config: ConfigOpt = None,
    dataset: MaybeDataset = None,
    data_dir: DataDir = None,
    hidden: MaybeHidden = None,
    optimizer: Annotated[str | None, typer.Option("--optimizer", "-o")] = None,
    batch_size: MaybeBatch = None,
    seed: MaybeSeed = None,
    steps: Annotated[int, typer.Option("--steps", help="range-test steps")] = 100,
    lr_min: Annotated[float, typer.Option("--lr-min")] = 1e-7,
    lr_max: Annotated[float, typer.Option("--lr-max")] = 10.0,
    out: Annotated[Path | None, typer.Option("--out", help="output folder")] = None,
    as_json: JsonOpt = False,
):
    """The step-size sweep (1e-10 ... 1e-1) and the learning-rate range test."""
    from .experiments import lr_sweep

    cfg = _config(config, _common(dataset, data_dir, hidden, None, batch_size, seed,
                                  optim__name=optimizer))
    out = out or Path("runs") / f"lr-sweep-{cfg.data.name}"
    res = lr_sweep(cfg, out, n_steps=steps, lr_min=lr_min, lr_max=lr_max)
    if as_json:
        _emit_json(res)
        return
    table = Table(title=f"loss after one gradient step (start: {res['loss0']:.4f})")
    table.add_column("step size")
    table.add_column("loss")
    for s_, l_ in zip(res["step_sizes"], res["sweep_losses"]):
        mark = "  <- best" if s_ == res["best_step"] else ""
        table.add_row(f"{s_:.0e}", f"{l_:.6f}{mark}")
    console.print(table)
    console.print(f"range test ({res['optimizer']}): suggested learning rate "
                  f"[bold]{res['suggested_lr']:.3g}[/]   plot: {res['plot']}")


@app.command()
@boundary
def trajectories(
    function: Annotated[str, typer.Option(
        "--function", "-f",
        help="quadratic, rosenbrock, beale, booth, himmelblau, saddle")] = "quadratic",
    optimizers: Annotated[str, typer.Option("--optimizers")] = SIX_RULES,
    steps: Annotated[int, typer.Option("--steps")] = 100,
    kappa: Annotated[float, typer.Option("--kappa", help="quadratic's condition number")] = 50.0,
    lr: Annotated[float | None, typer.Option("--lr", help="one rate for all rules")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="the PNG to write")] = None,
    as_json: JsonOpt = False,
):
    """Update rules on 2-D test functions, paths drawn over the contours."""
    from .trajectories import compare_on

    names = [n.strip() for n in optimizers.split(",") if n.strip()]
    out = out or Path("runs") / f"trajectories-{function}.png"
    rows = compare_on(function, names, steps=steps, kappa=kappa, lr=lr, path=out)
    if as_json:
        _emit_json({"function": function, "plot": str(out), "optimizers": rows})
        return
    table = Table(title=f"{steps} steps on {function}")
    for col in ("optimizer", "lr", "final point", "final value", "to nearest minimum",
                "steps to 1e-3"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["optimizer"], f"{r['lr']:g}",
                      f"({r['final'][0]:.3f}, {r['final'][1]:.3f})", f"{r['value']:.3e}",
                      "-" if r["distance"] is None else f"{r['distance']:.2e}",
                      "-" if r["steps_to_tol"] is None else str(r["steps_to_tol"]))
    console.print(table)
    console.print(f"plot: {out}")


# ----------------------------------------------------------------------------- landscape
RunDir = Annotated[Path, typer.Argument(help="a run directory made by steepest train")]


def _parse_span(span: str | None, default: tuple[float, float]) -> tuple[float, float]:
    if span is None:
        return default
    try:
        lo, hi = (float(v) for v in span.split(":"))
    except ValueError:
        raise typer.BadParameter(f"--span must look like -1:1, got {span!r}") from None
    return lo, hi


def _split_data(data, split: str, subset: int | None, seed: int):
    from ._validate import choice

    choice(split, ("train", "test"), "split")
    X, y = (data.X_train, data.y_train) if split == "train" else (data.X_test, data.y_test)
    if subset is not None:
        if subset < 1:
            raise typer.BadParameter(f"--subset must be a positive number of rows, got {subset}")
        if subset < X.shape[0]:
            rows = np.sort(np.random.default_rng(seed).choice(X.shape[0], subset, replace=False))
            X, y = X[rows], y[rows]
    return X, y


@app.command()
@boundary
def landscape(
    run_dir: RunDir,
    line_: Annotated[bool, typer.Option("--line", help="a 1-D slice instead of a plane")] = False,
    interpolate: Annotated[str | None, typer.Option(
        "--interpolate", help="another run: the line from this run's weights to its; 'init': "
        "from this run's initial weights (rebuilt from its seed) to its final ones")] = None,
    path: Annotated[bool, typer.Option(
        "--path", help="the PCA plane of the run's kept path (train --keep-path-every)")] = False,
    grid: Annotated[int, typer.Option("--grid", help="points per axis")] = 51,
    span: Annotated[str | None, typer.Option(
        "--span", help="low:high (default -1:1; -0.5:1.5 for --interpolate)")] = None,
    split: Annotated[str, typer.Option("--split", help="train or test")] = "train",
    subset: Annotated[int | None, typer.Option("--subset", help="rows (fixed seed)")] = None,
    norm: Annotated[str, typer.Option("--norm", help="filter, layer, model or none")] = "filter",
    include_bias: Annotated[bool, typer.Option("--include-bias/--weights-only")] = False,
    orthogonal: Annotated[bool, typer.Option("--orthogonal", help="orthogonalize d2")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="local worker processes (default: one per core)")] = None,
    memory_mb: Annotated[float, typer.Option(
        "--memory-mb", help="memory budget of one evaluation chunk")] = 256.0,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="a Dask scheduler address, tcp://host:port")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="output folder")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots")] = True,
    as_json: JsonOpt = False,
):
    """Slice the loss landscape around a run's weights (a 2-D plane by default)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from . import landscape as L
    from .runs import load_run

    modes = sum([line_, interpolate is not None, path])
    if modes > 1:
        raise typer.BadParameter("choose one of --line, --interpolate and --path")
    cfg, data, model, theta = load_run(run_dir)
    X, y = _split_data(data, split, subset, seed)
    kind = "line" if line_ else "interpolation" if interpolate else "path" if path else "plane"
    out = out or run_dir / "landscape" / f"{kind}-{split}-{grid}"
    surface_file = out / "surface.npz"
    progress = Progress(TextColumn("[bold]landscape"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=err, disable=as_json)
    holder = {}

    def on_progress(done, total):
        if "task" not in holder:
            holder["task"] = progress.add_task("points", total=total)
        progress.update(holder["task"], completed=done)

    if memory_mb <= 0:
        raise typer.BadParameter(f"--memory-mb must be positive, got {memory_mb:g}")
    kw = dict(workers=workers, scheduler=scheduler, on_progress=on_progress,
              partial=out / "surface.partial.npz", memory_mb=memory_mb)
    with progress:
        if kind == "plane":
            surf = L.plane(model, theta, X, y, grid, _parse_span(span, (-1.0, 1.0)), norm,
                           include_bias, orthogonal, seed, **kw)
        elif kind == "line":
            surf = L.line(model, theta, X, y, grid, _parse_span(span, (-1.0, 1.0)), norm,
                          include_bias, seed, **kw)
        elif kind == "interpolation" and interpolate == "init":
            # the initial weights are a deterministic function of the run's seed
            start = model.init_params(cfg.train.seed)
            surf = L.interpolation(model, start, theta, X, y, grid,
                                   _parse_span(span, (-0.5, 1.5)), **kw)
            surf.meta["from"] = "init"
        elif kind == "interpolation":
            interpolate = Path(interpolate)
            _, _, other_model, other = load_run(interpolate)
            if other_model.layout != model.layout:
                raise typer.BadParameter(
                    f"the two runs have different models: {run_dir} has "
                    f"{_sizes(model) or model.layout.names}, {interpolate} has "
                    f"{_sizes(other_model) or other_model.layout.names}")
            surf = L.interpolation(model, theta, other, X, y, grid,
                                   _parse_span(span, (-0.5, 1.5)), **kw)
        else:
            path_file = run_dir / "path.npz"
            if not path_file.exists():
                raise typer.BadParameter(
                    f"{run_dir} kept no path; train with --keep-path-every N first")
            from ._io import load_npz

            kept = load_npz(path_file)["path"]
            surf = L.path_plane(model, kept, theta, X, y, grid,
                                None if span is None else _parse_span(span, (-1, 1)), **kw)
    surf.meta.update(run_dir=str(run_dir), split=split, subset=subset)
    surf.save(surface_file)
    (out / "surface.partial.npz").unlink(missing_ok=True)
    written = _landscape_plots(surf, out) if plots else []
    summary = {"kind": kind, "points": surf.points, "seconds": surf.meta["seconds"],
               "min_loss": surf.min_loss, "max_acc": float(np.nanmax(surf.acc)),
               "surface_file": str(surface_file), "mode": surf.meta["mode"],
               "resumed_points": surf.meta["resumed_points"], "plots": [str(p) for p in written]}
    if as_json:
        _emit_json(summary)
        return
    table = Table(title=f"{kind} of {run_dir} ({split}, {X.shape[0]} examples)",
                  show_header=False)
    table.add_column("what")
    table.add_column("value")
    for key, value in summary.items():
        if key != "plots":
            table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"plots in {out}")


def _landscape_plots(surf, out: Path) -> list[Path]:
    from .viz.landscape import plot_landscape_set, plot_line

    if surf.y is None:
        interp = surf.kind == "interpolation"
        return [plot_line(surf.x, surf.loss, out / "line.png", acc=surf.acc,
                          xlabel="t" if interp else "alpha (direction 1)",
                          title="linear interpolation between two solutions" if interp
                          else f"loss along a {surf.meta.get('norm', '')}-normalized direction",
                          mark_endpoints=interp)]
    if surf.kind == "path":
        ev = surf.explained
        labels = (f"PC1 ({ev[0]:.1%} of the path's variance)",
                  f"PC2 ({ev[1]:.1%} of the path's variance)")
    else:
        labels = (f"direction 1 ({surf.meta.get('norm')}-normalized)",
                  f"direction 2 ({surf.meta.get('norm')}-normalized)")
    return plot_landscape_set(surf.x, surf.y, surf.loss, surf.acc, out, path_xy=surf.path_xy,
                              xlabel=labels[0], ylabel=labels[1],
                              title=f"loss landscape ({surf.kind})")


@app.command()
@boundary
def hessian(
    run_dir: RunDir,
    top: Annotated[int, typer.Option("--top", help="how many of the largest eigenvalues")] = 5,
    trace: Annotated[bool, typer.Option("--trace", help="Hutchinson trace estimate")] = False,
    samples: Annotated[int, typer.Option("--samples", help="trace probes")] = 50,
    split: Annotated[str, typer.Option("--split", help="train or test")] = "train",
    subset: Annotated[int | None, typer.Option("--subset", help="rows (fixed seed)")] = 2000,
    along_path: Annotated[bool, typer.Option(
        "--path", help="also along the run's kept path")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: JsonOpt = False,
):
    """Hessian eigenvalues (top and bottom), condition number and trace at a run's weights."""
    from .landscape.curvature import curvature_along_path, curvature_report
    from .runs import load_run

    cfg, data, model, theta = load_run(run_dir)
    X, y = _split_data(data, split, subset, seed)
    obj = model.objective(X, y, train=False)
    report = curvature_report(obj, theta.astype(np.float64), top=top, trace=trace,
                              n_samples=samples, seed=seed)
    report.update(run_dir=str(run_dir), split=split, n_examples=int(X.shape[0]))
    if along_path:
        from ._io import load_npz

        path_file = run_dir / "path.npz"
        if not path_file.exists():
            raise typer.BadParameter(f"{run_dir} kept no path; train with --keep-path-every N")
        kept = load_npz(path_file)
        report["path"] = curvature_along_path(obj, kept["path"].astype(np.float64), top=1,
                                              seed=seed)
        for row, step in zip(report["path"], kept["steps"].tolist()):
            row["step"] = step
    if as_json:
        _emit_json(report)
        return
    table = Table(title=f"Hessian at {run_dir} ({split}, {X.shape[0]} examples)",
                  show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("loss / gradient norm", f"{report['loss']:.4f} / {report['grad_norm']:.3e}")
    table.add_row(f"top {top} eigenvalues", ", ".join(f"{v:.4g}" for v in report["eigenvalues"]))
    table.add_row("bottom eigenvalue", f"{report['bottom_eigenvalue']:.4g}")
    cond = report["condition"]
    table.add_row("condition", f"{cond.get('condition_number')} ({cond.get('definiteness')})")
    if report["trace"]:
        t = report["trace"]
        table.add_row("trace (Hutchinson)", f"{t['estimate']:.4g} +- {t['stderr']:.2g}")
    table.add_row("Hessian-vector products", str(report["n_hvp"]))
    table.add_row("largest stable GD step (2 / lambda_max)",
                  f"{2 / report['eigenvalues'][0]:.4g}" if report["eigenvalues"]
                  and report["eigenvalues"][0] > 0 else "-")
    console.print(table)
    if along_path:
        pt = Table(title="top eigenvalue along the kept path")
        pt.add_column("step")
        pt.add_column("loss")
        pt.add_column("lambda_max")
        for row in report["path"]:
            pt.add_row(str(row["step"]), f"{row['loss']:.4f}", f"{row['eigenvalues'][0]:.4g}")
        console.print(pt)


# ----------------------------------------------------------------------------- tune
@app.command()
@boundary
def tune(
    space: Annotated[Path, typer.Option("--space", help="the search space (YAML)")],
    config: ConfigOpt = None,
    dataset: MaybeDataset = None,
    data_dir: DataDir = None,
    epochs: MaybeEpochs = None,
    train_subset: Annotated[int | None, typer.Option("--train-subset")] = None,
    trials: Annotated[int, typer.Option("--trials", help="training runs in all")] = 20,
    sampler: Annotated[str, typer.Option("--sampler", help="random, grid, tpe, cmaes")] = "random",
    pruner: Annotated[str, typer.Option(
        "--pruner", help="none, median, halving, hyperband")] = "none",
    stages: Annotated[int, typer.Option("--stages", help="coarse-to-fine stages")] = 1,
    storage: Annotated[str | None, typer.Option(
        "--storage", help="an Optuna storage URL or journal:PATH (default: SQLite file)")] = None,
    study: Annotated[str | None, typer.Option("--study", help="the study's name")] = None,
    workers: Annotated[int, typer.Option("--workers", help="local worker processes")] = 1,
    seed: Annotated[int | None, typer.Option(
        "--seed", help="seed of the samplers and runs (default: the config's, or 0)")] = None,
    heartbeat: Annotated[float, typer.Option(
        "--heartbeat", help="seconds between trial heartbeats (relational storages)")] = 30.0,
    out: Annotated[Path | None, typer.Option("--out", help="the study folder")] = None,
    plots: Annotated[bool, typer.Option("--plots/--no-plots")] = True,
    as_json: JsonOpt = False,
):
    """Search hyperparameters with Optuna; every trial is a real training run."""
    import optuna
    from rich.live import Live

    from .tune import load_space, run_search

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials keep their reason
    base = _config(config, _common(dataset, data_dir, None, epochs, None, seed,
                                   data__train_subset=train_subset)).model_dump(mode="json")
    space_ = load_space(space, base)
    out = out or Path("runs") / f"tune-{study or space.stem}"
    table_rows: list = []
    state = {"counts": {}, "notes": []}

    def render():
        table = Table(title=f"trials ({sampler} sampler, {pruner} pruner)")
        for col in ("#", "stage", "state", "val acc", *space_.names, "seconds"):
            table.add_column(col)
        for r in table_rows[-15:]:
            value = "-" if r["value"] is None else f"{r['value']:.4f}"
            if r["state"] == "PRUNED" and r.get("pruned_at_epoch"):
                value = f"pruned @{r['pruned_at_epoch']}"
            if r["state"] == "FAIL":
                value = "failed"
            params = [_short(r["params"].get(n)) for n in space_.names]
            table.add_row(str(r["number"]), str(r["stage"]), r["state"], value, *params,
                          "-" if r["seconds"] is None else f"{r['seconds']:.1f}")
        c = state["counts"]
        table.caption = (f"complete {c.get('COMPLETE', 0)}, pruned {c.get('PRUNED', 0)}, "
                         f"failed {c.get('FAIL', 0)}, running {c.get('RUNNING', 0)}")
        return table

    live = Live(render(), console=err, refresh_per_second=4, transient=False,
                redirect_stdout=False, redirect_stderr=False) if not as_json else None

    def on_event(ev):
        if ev["type"] == "trial":
            table_rows.append(ev)
            state["counts"] = ev["counts"]
        elif ev["type"] == "narrow":
            ranges = ", ".join(f"{k} [{v['low']:.3g}, {v['high']:.3g}]"
                               for k, v in ev["space"].items() if "low" in v)
            state["notes"].append(f"stage {ev['stage']}: narrowed around the best of "
                                  f"{ev['from_trials']} completed trials of stage "
                                  f"{ev['stage'] - 1}: {ranges}")
            if live is not None:
                live.console.print(f"[bold]{state['notes'][-1]}[/]")
        if live is not None:
            live.update(render())

    if live is not None:
        live.start()
    try:
        result = run_search(space_, base, out, trials=trials, sampler=sampler, pruner=pruner,
                            stages=stages, storage=storage, study_name=study, workers=workers,
                            seed=base["train"]["seed"], on_event=on_event, heartbeat=heartbeat,
                            plots=plots)
    finally:
        if live is not None:
            live.stop()
    summary = result.summary()
    summary["narrowing"] = state["notes"]
    if as_json:
        _emit_json(summary)
        return
    best = Table(title=f"best trials of study {result.study_name!r}")
    for col in ("#", "val acc", *space_.names):
        best.add_column(col)
    rows = [r for r in table_rows if r["state"] == "COMPLETE"]
    for r in sorted(rows, key=lambda r: -r["value"])[:5]:
        best.add_row(str(r["number"]), f"{r['value']:.4f}",
                     *[_short(r["params"].get(n)) for n in space_.names])
    console.print(best)
    console.print(f"{result.trials} trials: {result.completed} complete, {result.pruned} pruned, "
                  f"{result.failed} failed, {result.stale} stale, in {result.seconds:.1f} s")
    if result.best_config:
        console.print(f"best configuration: {result.best_config}  "
                      f"(run it: steepest train --config {result.best_config})")
    console.print(f"plots and trials.csv in {out}")


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return "-" if v is None else str(v)


# ----------------------------------------------------------------------------- demo
@app.command()
@boundary
def demo(as_json: JsonOpt = False):
    """The offline demo: an MLP on scikit-learn's bundled digits, inspected and gradient-checked."""
    report = run_inspect()
    _, _, fast = run_gradcheck(mode="fast")
    _, _, full = run_gradcheck(hidden="16", mode="full", batch=16)
    if as_json:
        _emit_json({"inspect": report, "gradcheck_fast": fast.to_dict(),
                    "gradcheck_full": full.to_dict(), "ok": fast.ok and full.ok})
    else:
        console.rule("[bold]steepest demo[/]: MLP on the bundled digits")
        console.print(f"[bold]MLP {report['model']}[/] on [bold]{report['dataset']}[/] "
                  f"({report['n_train']} train / {report['n_test']} test rows)")
        for table in _report_tables(report):
            console.print(table)
        for res, what in ((fast, "fast (one random direction per tensor)"),
                          (full, "full (every coordinate) of a 64-16-10 MLP")):
            console.print(_gradcheck_table(res, f"gradient check: {what}"))
            console.print(f"{'[green]OK' if res.ok else '[bold red]FAILED'}[/]  max rel. error "
                      f"{res.max_rel_error:.2e}, {res.n_evals} evaluations in "
                      f"{res.seconds * 1e3:.1f} ms")
    if not (fast.ok and full.ok):
        raise typer.Exit(1)


# ----------------------------------------------------------------------------- data
@data_app.command("info")
@boundary
def data_info(
    name: Annotated[str, typer.Argument(help=DATASET_NAMES)],
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
):
    """Shapes, classes and where the files of a dataset are."""
    from .data import dataset_info

    info = dataset_info(name, data_dir=data_dir)
    if as_json:
        _emit_json(info)
        return
    table = Table(title=f"dataset {info.get('name', name)}", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key, value in info.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        table.add_row(str(key), str(value))
    console.print(table)


@app.command()
def version():
    """Print the version."""
    console.print(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
