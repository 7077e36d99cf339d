"""``steepest benchmark``: every rule tuned with the same budget on a suite of problems, rerun
with several seeds, compared by steps and seconds to a target and by performance profiles."""

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import DpiOpt, JsonOpt, boundary, check_format, console, emit_json, err, flag

TAUS = (1.0, 2.0, 4.0, 8.0)


def _fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "not reached"
    if isinstance(value, float) and value != int(value):
        return f"{value:.{digits}g}"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _spread(stats: dict, digits: int = 3) -> str:
    mid, lo, hi = stats["median"], stats["q25"], stats["q75"]
    if isinstance(mid, float) and math.isinf(mid):
        return "not reached"
    if lo == hi:
        return _fmt(mid, digits)
    return f"{_fmt(mid, digits)} [{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def _events(progress):
    """An ``on_event`` callable: the two phases as bars, notes and skips as lines."""
    tasks: dict = {}

    def on_event(ev):
        kind = ev["type"]
        if kind == "plan":
            label = "tuning trials" if ev["phase"] == "trials" else "reruns at the best setting"
            tasks[ev["phase"]] = progress.add_task(label, total=ev["units"], info="")
        elif kind in ("trial", "rerun", "error"):
            unit = ev.get("unit") or [""]
            phase = "trials" if kind == "trial" or unit[0] == "trial" else "reruns"
            info = f"{ev.get('problem', '')} / {ev.get('rule', '')}"
            if phase in tasks:
                progress.update(tasks[phase], advance=1, info=info)
            if kind == "error":
                progress.console.print(f"[yellow]failed:[/] {escape(info)}: "
                                       f"{escape(ev['message'])}", highlight=False)
        elif kind in ("skip", "notice"):
            text = ev["reason"] if kind == "skip" else ev["message"]
            progress.console.print(f"[yellow]note:[/] {escape(text)}", highlight=False)

    return on_event


def _cells_table(result, problem: str) -> Table:
    spec = result.problems[problem]
    table = Table(title=f"{problem}: {spec['description']} (target {spec['target_text']}, "
                        f"{spec['steps']} steps)")
    metric = "final val acc" if spec["metric"] == "accuracy" else "final loss"
    for col in ("rule", "best setting", "trials", "reached", "steps to target",
                "seconds to target", metric):
        table.add_column(col)
    for c in result.cells:
        if c.problem != problem:
            continue
        best = " ".join(f"{k}={v:.3g}" for k, v in (c.best_hyper or {}).items()) or \
            "every trial failed"
        table.add_row(c.rule, best, str(c.trials), f"{c.reached:.0%}" if c.runs else "-",
                      *(escape(_spread(c.stats[m], d)) for m, d in
                        (("steps_to_target", 3), ("seconds_to_target", 2), ("final", 4))))
    table.caption = escape("median [quartiles] over the rerun seeds")
    return table


def _profile_table(result, measure: str) -> Table:
    profile = result.profile(measure)
    table = Table(title=f"performance profile by {measure} to the target: share of "
                        f"{len(profile.problems)} problems within tau of the best rule")
    table.add_column("rule")
    for tau in TAUS:
        table.add_column(f"tau={tau:g}")
    table.add_column("solves")
    values = {tau: profile.at(tau) for tau in TAUS}
    solved = profile.solved()
    for rule in profile.rules:
        table.add_row(rule, *[f"{values[tau][rule]:.2f}" for tau in TAUS],
                      f"{solved[rule]:.2f}")
    return table


def _print(result, out: Path, written) -> None:
    if result.ran_trials == 0 and result.ran_reruns == 0:
        console.print(f"{out} already holds every trial and rerun of these settings: nothing "
                      f"to run (raise --trials or --seeds to run more)")
    for problem in result.problems:
        console.print(_cells_table(result, problem))
    if result.problems:
        for measure in ("steps", "seconds"):
            console.print(_profile_table(result, measure))
    for item in result.skipped:
        console.print(escape(item["reason"]), highlight=False)
    for note in result.notes:
        console.print(f"note: {escape(note)}", highlight=False)
    console.print(f"ran {result.ran_trials} trial(s) and {result.ran_reruns} rerun(s) in "
                  f"{result.seconds:.1f} s; {len(written)} files (cells.csv, runs.csv, "
                  f"trials.csv, profiles, figures, README.txt) in {out}")


def _list() -> None:
    from ..benchmark import DEFAULT_RULES, PROBLEMS, QUICK_PROBLEMS, QUICK_RULES

    table = Table(title="steepest benchmark: problems")
    for col in ("problem", "what", "target", "steps", "quick steps", "available"):
        table.add_column(col)
    for p in PROBLEMS.values():
        table.add_row(p.name, p.description, p.target_text(), str(p.steps),
                      str(p.quick_steps), escape(p.unavailable() or "yes"))
    console.print(table)
    console.print(f"default rules: {', '.join(DEFAULT_RULES)}; --quick: problems "
                  f"{', '.join(QUICK_PROBLEMS)}, rules {', '.join(QUICK_RULES)}")


@boundary
def benchmark_command(
    quick: Annotated[bool, flag("--quick", help="tiny budgets, three problems, three rules "
                                                "(seconds)")] = False,
    problems: Annotated[str | None, typer.Option(
        "--problems", help="comma-separated problems (default: all; see --list)")] = None,
    rules: Annotated[str | None, typer.Option(
        "--rules", help="comma-separated update rules (default: sgd, momentum, nesterov, "
                        "adam, adamw, nadam, lion, sgd_schedule_free)")] = None,
    trials: Annotated[int | None, typer.Option(
        "--trials", help="tuning trials per rule and problem, the same for every rule "
                         "(default 20; --quick 4)")] = None,
    seeds: Annotated[int | None, typer.Option(
        "--seeds", help="reruns of each best setting (default 5; --quick 2)")] = None,
    sampler: Annotated[str, typer.Option("--sampler", help="random or tpe")] = "random",
    tune_momentum: Annotated[bool, flag(
        "--tune-momentum", help="also tune each rule's momentum-like coefficient")] = False,
    workers: Annotated[int, typer.Option("--workers", help="local worker processes")] = 1,
    storage: Annotated[str | None, typer.Option(
        "--storage", help="an Optuna storage URL or journal:PATH (default: SQLite file in "
                          "the folder)")] = None,
    seed: Annotated[int, typer.Option("--seed", help="the tuning seed (reruns use the next "
                                                     "ones)")] = 0,
    out: Annotated[Path | None, typer.Option(
        "--out", help="the benchmark folder (default runs/benchmark[-quick]); run again to "
                      "continue it")] = None,
    formats: Annotated[str, typer.Option(
        "--format", help="figure formats, comma-separated: png, svg, pdf")] = "png",
    dpi: DpiOpt = 110,
    list_: Annotated[bool, flag("--list", help="list the problems and their targets")]
    = False,
    as_json: JsonOpt = False,
):
    """Compare update rules fairly: each is tuned with the same number of Optuna trials on
    every problem, its best setting rerun with several seeds; reports steps and seconds to
    each problem's target, final figures (median and quartiles) and performance profiles."""
    import optuna

    from ..benchmark import run
    from .train import progress_bar

    if list_:
        _list()
        return
    fmts = tuple(f.strip() for f in formats.split(",") if f.strip())
    for fmt in fmts:
        check_format(fmt, dpi)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # failed trials keep their reason
    out = out or Path("runs") / ("benchmark-quick" if quick else "benchmark")
    with progress_bar(disable=as_json) as progress:
        result = run(out, problems=problems, rules=rules, trials=trials, seeds=seeds,
                     sampler=sampler, quick=quick, workers=workers, storage=storage,
                     seed=seed, tune_momentum=tune_momentum, on_event=_events(progress))
    written = result.save(out, formats=fmts, dpi=dpi)
    if as_json:
        emit_json({**result.to_dict(), "files": [str(p) for p in written]})
    else:
        _print(result, out, written)
    if result.problems and not any(c.runs for c in result.cells):
        err.print("[bold red]no rule trained on any problem[/]; the reasons are in "
                  f"{out / 'trials.csv'}")
        raise typer.Exit(1)
