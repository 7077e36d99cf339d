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
from .errors import SteepestError

app = typer.Typer(
    help="steepest: train neural-network classifiers and see how they optimize.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Datasets: where they are and what they hold.", no_args_is_help=True)
app.add_typer(data_app, name="data")

out = Console()
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


def _emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serializable: {type(o).__name__}")


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
        out.print(_gradcheck_table(result, title))
        failed = ", ".join(result.failed)
        verdict = "[green]OK[/]" if result.ok else f"[bold red]FAILED[/]: {failed}"
        out.print(f"{verdict}  max rel. error {result.max_rel_error:.2e} (tol {result.tol:g}), "
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
    out.print(f"[bold]MLP {report['model']}[/] on [bold]{report['dataset']}[/] "
              f"({report['n_train']} train / {report['n_test']} test rows)")
    for table in _report_tables(report):
        out.print(table)


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
        out.rule("[bold]steepest demo[/]: MLP on the bundled digits")
        out.print(f"[bold]MLP {report['model']}[/] on [bold]{report['dataset']}[/] "
                  f"({report['n_train']} train / {report['n_test']} test rows)")
        for table in _report_tables(report):
            out.print(table)
        for res, what in ((fast, "fast (one random direction per tensor)"),
                          (full, "full (every coordinate) of a 64-16-10 MLP")):
            out.print(_gradcheck_table(res, f"gradient check: {what}"))
            out.print(f"{'[green]OK' if res.ok else '[bold red]FAILED'}[/]  max rel. error "
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
    out.print(table)


@app.command()
def version():
    """Print the version."""
    out.print(__version__)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
