"""``steepest report PATH``: one self-contained HTML page about a result folder."""

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from .common import JsonOpt, boundary, console, emit_json


@boundary
def report_command(
    path: Annotated[Path, typer.Argument(
        help="a run, comparison, surface, study or lab experiment folder")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="the HTML file to write (default: report.html inside the folder; a "
                      "folder gets report.html inside it)")] = None,
    as_json: JsonOpt = False,
):
    """Write one self-contained HTML report of a result folder: its summary and configuration,
    interactive loss and accuracy charts, and its figures. It opens from file:// in any browser
    and loads nothing from the network."""
    from ..report import detect, write_report

    kind = detect(path)
    written = write_report(path, out)
    size = written.stat().st_size
    if as_json:
        emit_json({"report": str(written), "kind": kind, "bytes": size, "folder": str(path)})
        return
    console.print(f"{kind} report of {escape(str(path))} written to "
                  f"[bold]{escape(str(written))}[/] ({size / 1024:,.0f} KB, self-contained)",
                  highlight=False)
