"""``steepest gradcheck``, ``steepest inspect`` and ``steepest demo``: a model checked before it
trains. The model and its data come from the same run config as ``steepest train``."""

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import (
    DATA_OPTIONS,
    MODEL_OPTIONS,
    SEED_OPTION,
    TORCH_OPTIONS,
    JsonOpt,
    boundary,
    config_options,
    console,
    emit_json,
    flag,
    model_id,
    model_label,
)

DEMO_OPTIONS = (*DATA_OPTIONS, *MODEL_OPTIONS, SEED_OPTION)
CHECK_OPTIONS = (*DEMO_OPTIONS, *TORCH_OPTIONS)  # with --torch-model: a PyTorch model


def _model_and_data(cfg):
    """The config's data and model (steepest's MLP or its PyTorch model)."""
    from ..build import build_data, build_objective

    model, data = build_objective(cfg, build_data(cfg))
    return data, model


def run_gradcheck(cfg, mode="fast", k=10, batch=32, h=1e-5, tol=None, train=True):
    """The gradient check of ``cfg``'s model at its initial weights on ``batch`` training rows."""
    import numpy as np

    from .. import _validate as checks
    from ..gradcheck import check_model

    batch = checks.positive_int(batch, "--batch")
    data, model = _model_and_data(cfg)
    seed = cfg.train.seed
    n = data.X_train.shape[0]
    rows = np.random.default_rng(seed).choice(n, size=min(batch, n), replace=False)
    result = check_model(model, data.X_train[rows], data.y_train[rows], mode=mode, k=k, h=h,
                         tol=tol, train=train, seed=seed)
    return data, model, result


def gradcheck_table(result, title: str) -> Table:
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


def gradcheck_verdict(result) -> str:
    failed = ", ".join(result.failed)
    verdict = "[green]OK[/]" if result.ok else f"[bold red]FAILED[/]: {failed}"
    return (f"{verdict}  max rel. error {result.max_rel_error:.2e} (tol {result.tol:g}), "
            f"{result.n_evals} evaluations in {result.seconds * 1e3:.1f} ms")


@boundary
@config_options(*CHECK_OPTIONS)
def gradcheck(
    cfg,
    mode: Annotated[str, typer.Option("--mode", help="fast, sampled or full")] = "fast",
    k: Annotated[int, typer.Option("--k", help="coordinates per tensor (sampled)")] = 10,
    batch: Annotated[int, typer.Option("--batch", help="examples in the checked batch")] = 32,
    h: Annotated[float, typer.Option("--h", help="finite-difference step")] = 1e-5,
    tol: Annotated[float | None, typer.Option(
        "--tol", help="relative-error tolerance (default 1e-5 fast, 1e-6 otherwise)")] = None,
    train: Annotated[bool, flag("--train/--eval", help="mode of the model")] = True,
    as_json: JsonOpt = False,
):
    """Check the analytic gradient of a model against finite differences, tensor by tensor.

    Exit status 1 when a tensor fails."""
    data, model, result = run_gradcheck(cfg, mode, k, batch, h, tol, train)
    if as_json:
        emit_json({**result.to_dict(), "dataset": data.dataset.name,
                   "model": model_id(cfg, model), "n_params": model.n_params})
    else:
        title = (f"gradient check ({result.mode}, {result.method} differences, float64) of "
                 f"{model_label(cfg, model)} on {data.dataset.name}")
        console.print(gradcheck_table(result, title))
        console.print(gradcheck_verdict(result))
    if not result.ok:
        raise typer.Exit(1)


def run_inspect(cfg, sample: int = 512):
    """The initial report of ``cfg``'s model on ``sample`` training rows."""
    from .. import _validate as checks
    from ..diagnostics import initial_report

    sample = checks.positive_int(sample, "--sample")
    data, model = _model_and_data(cfg)
    theta = model.init_params(cfg.train.seed)
    report = initial_report(model, theta, data.X_train[:sample], data.y_train[:sample])
    about = {"dataset": data.dataset.name, "model": model_id(cfg, model),
             "label": model_label(cfg, model), "n_train": int(data.X_train.shape[0]),
             "n_test": int(data.X_test.shape[0])}
    return report, about


def report_tables(report) -> list[Table]:
    head = Table(title="initial sanity checks (before any training)", show_header=False)
    head.add_column("what")
    head.add_column("value")
    exp = report.expected_data_loss
    head.add_row("parameters", f"{report.n_params:,}")
    head.add_row("loss / regularizer / init",
                 f"{report.loss} / {report.regularizer} / {report.init}")
    head.add_row("data loss at init", f"{report.data_loss:.4f}"
                 + (f"  (chance: {exp:.4f})" if exp is not None else ""))
    head.add_row("regularization loss", f"{report.reg_loss:.4f}")
    head.add_row("accuracy at init", f"{report.accuracy:.3f}  (chance: "
                 f"{report.chance_accuracy:.3f})")
    head.add_row("gradient norm", f"{report.grad_norm:.3e}")
    layers = Table(title="activations on the sample")
    for col in ("layer", "kind", "mean", "std", "dead / saturated"):
        layers.add_column(col)
    for row in report.layers:
        extra = ""
        if "dead_fraction" in row:
            extra = f"dead units {row['dead_fraction']:.1%}"
        if "saturated_fraction" in row:
            extra = f"saturated {row['saturated_fraction']:.1%}"
        layers.add_row(row["name"], row["kind"], f"{row['mean']:+.3g}", f"{row['std']:.3g}",
                       extra)
    tensors = Table(title="parameters")
    for col in ("tensor", "shape", "role", "std", "norm", "grad norm"):
        tensors.add_column(col)
    for t in report.tensors:
        tensors.add_row(t["name"], "x".join(map(str, t["shape"])), t["role"], f"{t['std']:.3e}",
                        f"{t['norm']:.3e}", f"{t['grad_norm']:.3e}")
    return [head, layers, tensors]


def print_report(report, about) -> None:
    console.print(f"[bold]{escape(about['label'])}[/] on [bold]{about['dataset']}[/] "
                  f"({about['n_train']} train / {about['n_test']} test rows)")
    for table in report_tables(report):
        console.print(table)
    for warning in report.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)


@boundary
@config_options(*CHECK_OPTIONS)
def inspect(
    cfg,
    sample: Annotated[int, typer.Option("--sample", help="training rows to look at")] = 512,
    as_json: JsonOpt = False,
):
    """A training-free report of a model at its initial weights on a dataset."""
    report, about = run_inspect(cfg, sample)
    if as_json:
        emit_json({**report.to_dict(), **about})
    else:
        print_report(report, about)


@boundary
@config_options(*DEMO_OPTIONS)
def demo(cfg, as_json: JsonOpt = False):
    """The offline demo: an MLP on scikit-learn's bundled digits, inspected and gradient-checked
    (fast mode on the whole model, full mode on a small one)."""
    from ..config import with_values

    report, about = run_inspect(cfg)
    _, _, fast = run_gradcheck(cfg, mode="fast")
    small = with_values(cfg, {"model.hidden": [16]})
    _, _, full = run_gradcheck(small, mode="full", batch=16)
    if as_json:
        emit_json({"inspect": {**report.to_dict(), **about}, "gradcheck_fast": fast.to_dict(),
                   "gradcheck_full": full.to_dict(), "ok": fast.ok and full.ok})
    else:
        console.rule(f"[bold]steepest demo[/]: MLP on {about['dataset']}")
        print_report(report, about)
        for res, what in ((fast, "fast (one random direction per tensor)"),
                          (full, "full (every coordinate) of a one-layer MLP with 16 units")):
            console.print(gradcheck_table(res, f"gradient check: {what}"))
            console.print(gradcheck_verdict(res))
    if not (fast.ok and full.ok):
        raise typer.Exit(1)
