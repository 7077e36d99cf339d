"""The ``steepest`` command line: thin commands over the library, one module per command or
group. Library code returns data; these modules render it (Rich tables, progress bars, JSON)."""

import os

import typer

from .. import __version__
from .benchmark import benchmark_command
from .checks import demo, gradcheck, inspect
from .common import EXIT_CODES, JsonOpt, console, emit_json
from .data import data_app
from .experiments import compare, lr_sweep, trajectories
from .lab import lab_app
from .landscape import hessian, landscape
from .report import report_command
from .train import train
from .tune import tune

app = typer.Typer(
    help="steepest: train neural-network classifiers and see how they optimize.\n\n"
         + EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.add_typer(lab_app, name="lab")
for command in (gradcheck, inspect, demo, train, compare, trajectories, landscape, hessian,
                tune):
    app.command()(command)
app.command("lr-sweep")(lr_sweep)
app.command("report")(report_command)
app.command("benchmark")(benchmark_command)


@app.command()
def version(as_json: JsonOpt = False):
    """Print the version."""
    if as_json:
        emit_json({"version": __version__})
    else:
        console.print(__version__)


def main() -> None:
    """The console script. Under ``--json`` a usage error (an option of the wrong type, an
    unknown option) is a JSON object on stdout too, with its exit status."""
    import sys

    # The only place that chooses a matplotlib backend: figures are written to files here,
    # and the library itself never picks one (notebooks keep theirs).
    os.environ.setdefault("MPLBACKEND", "Agg")
    if "--json" not in sys.argv[1:]:
        app()
        return
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as e:  # click's usage errors, as Typer raises them
        emit_json({"error": e.format_message(), "exit_code": getattr(e, "exit_code", 2)})
        code = getattr(e, "exit_code", 2)
    except typer.Abort:
        code = 130
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
