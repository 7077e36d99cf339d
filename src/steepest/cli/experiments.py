"""``steepest compare``, ``steepest lr-sweep`` and ``steepest trajectories``."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import (
    ALL_OPTIONS,
    DATA_OPTIONS,
    MODEL_OPTIONS,
    OPTIM_OPTIONS,
    TORCH_OPTIONS,
    TRAIN_OPTIONS,
    DpiOpt,
    FormatOpt,
    JsonOpt,
    TensorBoardOpt,
    boundary,
    check_format,
    config_options,
    console,
    emit_json,
    flag,
    parse_list,
    save_figures,
    tensorboard_logger,
)
from .train import progress_bar, progress_events

SIX_RULES = "sgd,momentum,nesterov,adagrad,rmsprop,adam"


def _rates(text: str | None, names: list[str]) -> dict[str, float]:
    """``--lr``: one rate for every rule, or ``name=rate`` pairs."""
    if not text:
        return {}
    try:
        if "=" in text:
            pairs = [(k.strip(), float(v)) for k, v in (p.split("=", 1) for p in text.split(","))]
            rates = dict(pairs)
            if len(rates) < len(pairs):
                twice = sorted({k for k, _ in pairs if [n for n, _ in pairs].count(k) > 1})
                raise typer.BadParameter(
                    f"--lr gives {', '.join(twice)} twice; to compare several rates of one rule "
                    f"use --set optim.name={twice[0]} --vary optim.lr=0.001,0.01,0.1")
        else:
            rates = dict.fromkeys(names, float(text))
    except ValueError:
        raise typer.BadParameter(f"--lr must be a number or name=rate pairs, got {text!r}") \
            from None
    bad = {k: v for k, v in rates.items() if not v > 0 or v == float("inf")}
    if bad:
        raise typer.BadParameter(f"--lr rates must be positive finite numbers, got "
                                 f"{', '.join(f'{k}={v}' for k, v in bad.items())}")
    return rates


def _vary(entries: list[str]) -> dict[str, list]:
    """``--vary KEY=v1,v2`` entries (values read as YAML; ``[64,32]`` stays one list)."""
    import yaml

    from ..config import field_of

    grid = {}
    for entry in entries:
        key, sep, text = entry.partition("=")
        key = key.strip()
        if not sep or field_of(key) is None:
            raise typer.BadParameter(f"--vary takes KEY=v1,v2,... with a dotted config key "
                                     f"(optim.lr, train.batch_size, model.hidden, optim.name), "
                                     f"got {entry!r}")
        values = yaml.safe_load(f"[{text}]")
        if not values:
            raise typer.BadParameter(f"--vary {key}: no values given")
        grid[key] = values
    return grid


def _comparison_table(comparison, title: str) -> Table:
    table = Table(title=title)
    for col in ("variant", "status", "final loss", "train acc", "val acc", "test acc",
                "seconds"):
        table.add_column(col)
    for row in comparison.rows:
        table.add_row(row["label"], row["status"], f"{row['final_loss']:.4f}",
                      f"{row['train_acc']:.3f}", f"{row['val_acc']:.3f}",
                      f"{row['test_acc']:.3f}", f"{row['seconds']:.1f}")
    if comparison.resumed:
        table.caption = f"continued from an earlier run: {', '.join(comparison.resumed)}"
    return table


# compare sets the rule and the rate per variant (--optimizers, --lr, --vary)
COMPARE_OPTIONS = tuple(o for o in ALL_OPTIONS if o.path not in ("optim.name", "optim.lr"))


@boundary
@config_options(*COMPARE_OPTIONS, *TORCH_OPTIONS, defaults={"train.epochs": 10})
def compare(
    cfg,
    optimizers: Annotated[str, typer.Option(
        "--optimizers", help="comma-separated update rules, one curve each")] = SIX_RULES,
    lr: Annotated[str | None, typer.Option(
        "--lr", help="one rate for all rules, or name=rate pairs: sgd=0.1,adam=0.001")] = None,
    vary: Annotated[list[str] | None, typer.Option(
        "--vary", help="KEY=v1,v2,...: one curve per value of any config key (repeat for a "
                       "grid); replaces --optimizers")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="output folder")] = None,
    tensorboard: TensorBoardOpt = None,
    format: FormatOpt = "png",
    dpi: DpiOpt = 110,
    as_json: JsonOpt = False,
):
    """Train the same model from the same start and batch order once per variant (10 epochs
    unless a config or --epochs says otherwise). Run again to continue what is missing."""
    from ..experiments import compare as run_compare
    from ..experiments import optimizer_variants, vary_variants

    check_format(format, dpi)
    if vary:
        if lr:
            raise typer.BadParameter("--lr goes with --optimizers; with --vary, vary optim.lr")
        variants = vary_variants(_vary(vary))
    else:
        names = parse_list(optimizers, str, "--optimizers")
        variants = optimizer_variants(names, _rates(lr, names))
    from ..runs import dataset_label

    out = out or Path("runs") / f"compare-{dataset_label(cfg)}"
    progress = progress_bar(disable=as_json)
    with progress:
        comparison = run_compare(cfg, variants, out, on_event=progress_events(progress),
                                 callbacks=tensorboard_logger(tensorboard, per_run=True))
    plots = save_figures({"comparison": comparison.plot()}, out, format, dpi)
    comparison.save()
    if as_json:
        emit_json({**comparison.to_dict(), "plot": str(plots[0])})
        return
    console.print(_comparison_table(comparison, f"{dataset_label(cfg)}: same start, same batches"))
    console.print(f"plot: {plots[0]}")


@boundary
@config_options(*DATA_OPTIONS, *MODEL_OPTIONS, OPTIM_OPTIONS[0], TRAIN_OPTIONS[2],
                TRAIN_OPTIONS[3], *TORCH_OPTIONS)
def lr_sweep(
    cfg,
    steps: Annotated[int, typer.Option("--steps", help="range-test steps")] = 100,
    lr_min: Annotated[float, typer.Option("--lr-min", help="the range test's first rate")]
    = 1e-7,
    lr_max: Annotated[float, typer.Option("--lr-max", help="the range test's last rate")]
    = 10.0,
    out: Annotated[Path | None, typer.Option("--out", help="output folder")] = None,
    format: FormatOpt = "png",
    dpi: DpiOpt = 110,
    as_json: JsonOpt = False,
):
    """The step-size sweep (1e-10 ... 1e-1) and the learning-rate range test."""
    from .._io import atomic_write_json
    from ..experiments import lr_sweep as run_sweep
    from ..results import finite_or_none

    check_format(format, dpi)
    res = run_sweep(cfg, n_steps=steps, lr_min=lr_min, lr_max=lr_max)
    from ..runs import dataset_label

    out = out or Path("runs") / f"lr-sweep-{dataset_label(cfg)}"
    plots = save_figures({"lr_sweep": res.plot()}, out, format, dpi)
    atomic_write_json(out / "lr_sweep.json", finite_or_none(res.to_dict()))
    if as_json:
        emit_json({**res.to_dict(), "plot": str(plots[0])})
        return
    table = Table(title=f"loss after one gradient step (start: {res.sweep.loss0:.4f})")
    table.add_column("step size")
    table.add_column("loss")
    for size, loss in zip(res.sweep.step_sizes, res.sweep.losses):
        mark = "  <- best" if size == res.sweep.best_step else ""
        table.add_row(f"{size:.0e}", f"{loss:.6f}{mark}")
    console.print(table)
    console.print(f"range test ({res.optimizer}): suggested learning rate "
                  f"[bold]{res.range_test.suggestion:.3g}[/]   plot: {plots[0]}")


@boundary
def trajectories(
    function: Annotated[str, typer.Option(
        "--function", "-f",
        help="quadratic, rosenbrock, beale, booth, himmelblau, saddle")] = "quadratic",
    optimizers: Annotated[str, typer.Option("--optimizers", help="comma-separated rules")]
    = SIX_RULES,
    steps: Annotated[int, typer.Option("--steps", help="steps of every rule")] = 100,
    kappa: Annotated[float, typer.Option("--kappa", help="quadratic's condition number")] = 50.0,
    lr: Annotated[float | None, typer.Option("--lr", help="one rate for all rules")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="the figure to write (default runs/trajectories-<function>-<steps>."
                      "<format>)")] = None,
    force: Annotated[bool, flag("--force", help="replace an existing figure")] = False,
    format: FormatOpt = "png",
    dpi: DpiOpt = 110,
    as_json: JsonOpt = False,
):
    """Update rules on 2-D test functions, paths drawn over the contours."""
    from ..trajectories import compare_on
    from ..viz import save_figure

    check_format(format, dpi)
    names = parse_list(optimizers, str, "--optimizers")
    result = compare_on(function, names, steps=steps, kappa=kappa, lr=lr)
    kappa_part = f"-kappa{kappa:g}" if function == "quadratic" else ""
    out = out or Path("runs") / f"trajectories-{function}{kappa_part}-{steps}.{format}"
    if out.is_dir():
        raise typer.BadParameter(f"--out {out} is a folder; give the figure's file name")
    if out.exists() and not force:
        raise typer.BadParameter(f"{out} exists; choose another --out or pass --force to "
                                 f"replace it")
    save_figure(result.plot(), out, dpi=dpi)
    if as_json:
        emit_json({**result.to_dict(), "plot": str(out)})
        return
    table = Table(title=f"{steps} steps on {function}")
    for col in ("optimizer", "lr", "final point", "final value", "to nearest minimum",
                "steps to 1e-3"):
        table.add_column(col)
    for r in result.rows:
        table.add_row(r["optimizer"], f"{r['lr']:g}",
                      f"({r['final'][0]:.3f}, {r['final'][1]:.3f})", f"{r['value']:.3e}",
                      "-" if r["distance"] is None else f"{r['distance']:.2e}",
                      "-" if r["steps_to_tol"] is None else str(r["steps_to_tol"]))
    console.print(table)
    console.print(f"plot: {out}")
