"""``steepest tune``: a hyperparameter search on Optuna with a live table of trials."""

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import (
    DATA_OPTIONS,
    SEED_OPTION,
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
    err,
    flag,
    tensorboard_logger,
)


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return "-" if v is None else str(v)


class LiveTrials:
    """The search's events drawn as a live table of the latest trials (stderr)."""

    def __init__(self, names: list[str], title: str, enabled: bool):
        from rich.live import Live

        self.names, self.title = names, title
        self.rows: list[dict] = []
        self.counts: dict = {}
        self.notes: list[str] = []
        self.live = (Live(self.render(), console=err, refresh_per_second=4, transient=False,
                          redirect_stdout=False, redirect_stderr=False) if enabled else None)

    def render(self) -> Table:
        table = Table(title=self.title)
        for col in ("#", "stage", "state", "val acc", *self.names, "seconds"):
            table.add_column(col)
        for r in self.rows[-15:]:
            value = "-" if r["value"] is None else f"{r['value']:.4f}"
            if r["state"] == "PRUNED" and r.get("pruned_at_epoch"):
                value = f"pruned @{r['pruned_at_epoch']}"
            if r["state"] == "FAIL":
                value = "failed"
            table.add_row(str(r["number"]), str(r["stage"]), r["state"], value,
                          *[_short(r["params"].get(n)) for n in self.names],
                          "-" if r["seconds"] is None else f"{r['seconds']:.1f}")
        c = self.counts
        table.caption = (f"complete {c.get('COMPLETE', 0)}, pruned {c.get('PRUNED', 0)}, "
                         f"failed {c.get('FAIL', 0)}, running {c.get('RUNNING', 0)}")
        return table

    def _note(self, text: str) -> None:
        self.notes.append(text)
        if self.live is not None:
            self.live.console.print(f"[bold]{escape(text)}[/]")

    def __call__(self, ev: dict) -> None:
        if ev["type"] == "trial":
            self.rows = [r for r in self.rows if r["number"] != ev["number"]] + [ev]
            self.counts = ev["counts"]
        elif ev["type"] == "narrow" and ev["narrowed"]:
            ranges = ", ".join(f"{k} [{v['low']:.3g}, {v['high']:.3g}]"
                               for k, v in ev["space"].items() if "low" in v)
            self._note(f"stage {ev['stage']}: narrowed around the best of {ev['from_trials']} "
                       f"completed trials of stage {ev['stage'] - 1}: {ranges}")
        elif ev["type"] == "narrow":
            self._note(f"stage {ev['stage']}: kept the ranges of stage {ev['stage'] - 1}, which "
                       f"completed {ev['from_trials']} trial(s) (narrowing needs at least "
                       f"{ev['minimum']})")
        elif ev["type"] == "notice":
            self._note(ev["message"])
        if self.live is not None:
            self.live.update(self.render())

    def __enter__(self):
        if self.live is not None:
            self.live.start()
        return self

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.stop()


def _print_result(result, live: LiveTrials, out: Path) -> None:
    best = Table(title=f"best trials of study {result.study_name!r}")
    for col in ("#", "val acc", *live.names):
        best.add_column(col)
    rows = [r for r in live.rows if r["state"] == "COMPLETE"]
    for r in sorted(rows, key=lambda r: -r["value"])[:5]:
        best.add_row(str(r["number"]), f"{r['value']:.4f}",
                     *[_short(r["params"].get(n)) for n in live.names])
    console.print(best)
    console.print(f"{result.trials} trials: {result.completed} complete, {result.pruned} pruned, "
                  f"{result.failed} failed, {result.stale} stale; {result.ran} run now, in "
                  f"{result.seconds:.1f} s")
    if result.best_config:
        console.print(f"best configuration: {result.best_config}  "
                      f"(run it: steepest train --config {result.best_config})")
    console.print(f"plots and trials.csv in {out}")


@boundary
@config_options(*DATA_OPTIONS, TRAIN_OPTIONS[0], SEED_OPTION, *TORCH_OPTIONS)
def tune(
    cfg,
    space: Annotated[Path, typer.Option("--space", help="the search space (YAML)")],
    trials: Annotated[int, typer.Option("--trials", help="training runs in all")] = 20,
    sampler: Annotated[str, typer.Option("--sampler", help="random, grid, tpe, cmaes")] = "random",
    pruner: Annotated[str, typer.Option(
        "--pruner", help="none, median, halving, hyperband")] = "none",
    stages: Annotated[int, typer.Option("--stages", help="coarse-to-fine stages")] = 1,
    storage: Annotated[str | None, typer.Option(
        "--storage", help="an Optuna storage URL or journal:PATH (default: SQLite file)")] = None,
    study: Annotated[str | None, typer.Option("--study", help="the study's name")] = None,
    workers: Annotated[int, typer.Option("--workers", help="local worker processes")] = 1,
    heartbeat: Annotated[float, typer.Option(
        "--heartbeat", help="seconds between trial heartbeats (relational storages)")] = 30.0,
    out: Annotated[Path | None, typer.Option("--out", help="the study folder")] = None,
    tensorboard: TensorBoardOpt = None,
    plots: Annotated[bool, flag("--plots/--no-plots", help="draw the study's plots")]
    = True,
    continue_: Annotated[bool, flag(
        "--continue", help="add trials to a study that was run with other settings")] = False,
    format: FormatOpt = "png",
    dpi: DpiOpt = 110,
    as_json: JsonOpt = False,
):
    """Search hyperparameters with Optuna; every trial is a real training run (of a PyTorch
    model with --torch-model FILE.py:FACTORY, which every trial's config names)."""
    import optuna

    from ..tune import load_space, run_search

    check_format(format, dpi)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials keep their reason
    base = cfg.model_dump(mode="json")
    space_ = load_space(space, base)
    out = out or Path("runs") / f"tune-{study or space.stem}"
    live = LiveTrials(space_.names, f"trials ({sampler} sampler, {pruner} pruner)",
                      enabled=not as_json)
    with live:
        result = run_search(space_, base, out, trials=trials, sampler=sampler, pruner=pruner,
                            stages=stages, storage=storage, study_name=study, workers=workers,
                            seed=cfg.train.seed, on_event=live, heartbeat=heartbeat,
                            plots=(format, dpi) if plots else False,
                            continue_study=continue_,
                            callbacks=tensorboard_logger(tensorboard, per_run=True))
    if as_json:
        emit_json({**result.to_dict(), "narrowing": live.notes})
    else:
        if result.ran == 0:
            console.print(f"the study already holds {result.trials} trials (--trials {trials}): "
                          f"nothing to run; raise --trials to run more")
        _print_result(result, live, out)
    if result.trials and result.failed == result.trials:
        err.print(f"[bold red]every trial failed[/]; the reasons are in {out / 'trials.csv'}")
        raise typer.Exit(1)
