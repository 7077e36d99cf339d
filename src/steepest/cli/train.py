"""``steepest train``: one run into a run folder, with a progress bar and a summary table."""

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import (
    ALL_OPTIONS,
    EXIT_CODES,
    LINEAR_OPTION,
    TORCH_OPTIONS,
    DpiOpt,
    FormatOpt,
    JsonOpt,
    TensorBoardOpt,
    boundary,
    check_format,
    config_options,
    console,
    emit_json,
    err,
    flag,
    tensorboard_logger,
)


def progress_bar(disable: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=err,
                    disable=disable)


def progress_events(progress):
    """An ``on_event`` callable drawing training events (and compare's variants) on a bar."""
    from ..experiments import VariantStarted
    from ..train import EpochEnded, Notice, RunStarted, StepEnded

    holder = {"label": "training"}

    def on_event(ev):
        if isinstance(ev, Notice):
            progress.console.print(f"[yellow]note:[/] {escape(ev.message)}", highlight=False)
        elif isinstance(ev, VariantStarted):
            holder["label"] = f"{ev.label} ({ev.index + 1}/{ev.total})"
        elif isinstance(ev, RunStarted):
            holder["task"] = progress.add_task(holder["label"], total=ev.total_steps,
                                               completed=ev.step, info="")
        elif isinstance(ev, StepEnded):
            progress.update(holder["task"], completed=ev.step)
        elif isinstance(ev, EpochEnded):
            m = ev.metrics
            progress.update(holder["task"], info=(
                f"epoch {ev.epoch}  loss {m['train_loss']:.4f}  train {m['train_acc']:.3f}  "
                f"val {m['val_acc']:.3f}"))

    return on_event


def started_on_first_event(progress, on_event):
    """``on_event`` that starts drawing ``progress`` at the first event, so that a run which
    fails while it is being built (bad data, a bad model file) leaves only its error line."""

    def first(ev):
        if not progress.live.is_started:
            progress.start()
        on_event(ev)

    return first


def result_table(summary: dict, title: str) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value")
    for key in ("status", "train_acc", "val_acc", "test_acc", "final_loss", "epochs", "steps",
                "seconds", "best_epoch", "run_dir"):
        v = summary.get(key)
        if isinstance(v, float):
            v = f"{v:.4f}" if key != "seconds" else f"{v:.2f}"
        table.add_row(key, str(v))
    restored = summary.get("restored_epoch")
    if restored is not None:
        last = summary.get("last_epoch") or {}
        table.caption = (f"the weights of epoch {restored} (the best by validation) were "
                         f"restored; the last epoch ({last.get('epoch')}) ended at loss "
                         f"{last.get('train_loss', float('nan')):.4f}, validation accuracy "
                         f"{last.get('val_acc', float('nan')):.4f}")
    return table


@boundary
@config_options(LINEAR_OPTION, *ALL_OPTIONS, *TORCH_OPTIONS)
def train(
    cfg,
    out: Annotated[Path | None, typer.Option(
        "--out", help="the run folder (default runs/<dataset>-<optimizer>-<time>)")] = None,
    resume: Annotated[Path | None, typer.Option(
        "--resume", help="continue this run folder (its own config; other options ignored)")]
    = None,
    plots: Annotated[bool, flag("--plots/--no-plots", help="draw the run's plots")]
    = True,
    report: Annotated[bool, flag(
        "--report", help="write report.html (one self-contained page) into the run folder")]
    = False,
    tensorboard: TensorBoardOpt = None,
    format: FormatOpt = "png",
    dpi: DpiOpt = 110,
    as_json: JsonOpt = False,
):
    """Train a classifier into a run folder: a small MLP on the bundled digits by default, or
    a PyTorch model with --torch-model FILE.py:FACTORY."""
    from ..runs import default_run_dir, resume_run, train_run

    check_format(format, dpi)
    run_dir = resume if resume is not None else (out or default_run_dir(cfg))
    logger = tensorboard_logger(None if tensorboard is None else tensorboard / run_dir.name)
    callbacks = [logger] if logger is not None else None
    progress = progress_bar(disable=as_json)
    on_event = started_on_first_event(progress, progress_events(progress))
    try:
        if resume is not None:
            result = resume_run(resume, on_event=on_event, plots=plots, figure_format=format,
                                dpi=dpi, callbacks=callbacks)
        else:
            result = train_run(cfg, run_dir, on_event=on_event, plots=plots,
                               figure_format=format, dpi=dpi, callbacks=callbacks)
    finally:
        if progress.live.is_started:
            progress.stop()
    summary = result.to_dict()
    if report:
        from ..report import write_report

        summary["report"] = str(write_report(run_dir))
    if as_json:
        emit_json(summary)
    else:
        console.print(result_table(summary, "training run"))
        if report:
            console.print(f"report: {summary['report']}")
        if result.status == "diverged":
            err.print(f"[bold red]diverged:[/] {result.message}", highlight=False)
    if result.status == "diverged":
        raise typer.Exit(3)


train.__doc__ += "\n\n" + EXIT_CODES
