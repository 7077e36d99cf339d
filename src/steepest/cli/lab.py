"""``steepest lab list`` and ``steepest lab run NAME``: the lectures' experiments."""

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .common import DpiOpt, JsonOpt, boundary, check_format, console, emit_json, err, flag

lab_app = typer.Typer(help="The lectures' experiments, each with its claim checked by a number.",
                      no_args_is_help=True)


@lab_app.command("list")
@boundary
def list_(as_json: JsonOpt = False):
    """Every experiment: its name, lecture topic, what it shows and how long it runs."""
    from ..lab import listing

    rows = listing()
    if as_json:
        emit_json({"experiments": rows})
        return
    table = Table(title="steepest lab")
    for col in ("name", "topic", "shows", "quick", "full", "options"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["topic"], r["shows"], f"{r['quick_seconds']:g} s",
                      f"{r['full_seconds']:g} s",
                      ", ".join(f"{k}={v}" for k, v in r["options"].items()) or "-")
    console.print(table)


def _options(pairs: list[str] | None) -> dict:
    """``--option KEY=VALUE`` pairs, values read as YAML."""
    from .._bounded import parse_yaml
    from ..errors import InputError

    out = {}
    for pair in pairs or []:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--option takes KEY=VALUE, got {pair!r}")
        out[key.strip()] = parse_yaml(text, f"--option {key}")
    return out


def _print(result, out: Path) -> None:
    table = Table(title=f"{result.name}: the lecture's claims against this run")
    for col in ("claim", "measured", "held"):
        table.add_column(col)
    for v in result.verdicts:
        table.add_row(v.claim, v.measured, "[green]yes[/]" if v.held else "[bold red]NO[/]")
    console.print(table)
    console.print(escape(result.text), highlight=False)
    console.print(f"figures, table.csv, result.json and README.txt in {out} "
                  f"({result.seconds:.1f} s)")


@lab_app.command("run")
@boundary
def run(
    name: Annotated[str, typer.Argument(help="the experiment (steepest lab list)")],
    quick: Annotated[bool, flag("--quick", help="the short variant (under a minute)")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", help="output folder (default runs/lab/<name>[-quick])")] = None,
    seed: Annotated[int, typer.Option("--seed", help="the experiment's seed")] = 0,
    option: Annotated[list[str] | None, typer.Option(
        "--option", help="KEY=VALUE: an option of the experiment (see steepest lab list)")]
    = None,
    formats: Annotated[str, typer.Option(
        "--format", help="figure formats, comma-separated: png, svg, pdf")] = "png,svg,pdf",
    dpi: DpiOpt = 110,
    force: Annotated[bool, flag("--force", help="write into an existing output folder")]
    = False,
    as_json: JsonOpt = False,
):
    """Run one experiment: its figures, its table and its verdicts (the lecture's claim beside
    the number measured). Exit status 1 when a claim did not hold."""
    from .._lock import FolderLock
    from ..lab import check
    from ..lab import run as run_experiment

    fmts = tuple(f.strip() for f in formats.split(",") if f.strip())
    for fmt in fmts:
        check_format(fmt, dpi)
    options = _options(option)
    check(name, seed, **options)  # unknown names and options before anything is written
    out = out or Path("runs") / "lab" / (name + ("-quick" if quick else ""))
    if out.exists() and any(p.name != ".steepest.lock" for p in out.iterdir()) and not force:
        raise typer.BadParameter(f"{out} already holds results; choose another --out or pass "
                                 f"--force to write into it")
    with FolderLock(out, "lab folder"):
        if not as_json:
            err.print(f"running {name}{' (quick)' if quick else ''} ...")
        result = run_experiment(name, quick=quick, seed=seed, **options)
        written = result.save(out, formats=fmts, dpi=dpi)
    if as_json:
        emit_json({**result.to_dict(), "out": str(out), "files": [str(p) for p in written]})
    else:
        _print(result, out)
    if not result.held:
        raise typer.Exit(1)
