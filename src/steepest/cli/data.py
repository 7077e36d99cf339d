"""``steepest data info`` and ``steepest data download``."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import JsonOpt, boundary, console, emit_json, flag

DATASET_NAMES = "digits, mnist, fashion-mnist, cifar10, spiral, blobs"
DataDir = Annotated[Path | None, typer.Option("--data-dir",
                                              help="read the dataset files from this folder")]

data_app = typer.Typer(help="Datasets: where they are, what they hold, and fetching them.",
                       no_args_is_help=True)


@data_app.command("info")
@boundary
def info(
    name: Annotated[str, typer.Argument(help=DATASET_NAMES)],
    data_dir: DataDir = None,
    as_json: JsonOpt = False,
):
    """Shapes, classes and where the files of a dataset are (nothing is downloaded)."""
    from ..data import dataset_info

    found = dataset_info(name, data_dir=data_dir)
    if as_json:
        emit_json(found.to_dict())
        return
    table = Table(title=f"dataset {found.name}", show_header=False)
    table.add_column("key")
    table.add_column("value")
    for key, value in found.to_dict().items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            value = ", ".join(map(str, value))
        table.add_row(str(key), str(value))
    console.print(table)


@data_app.command("download")
@boundary
def download(
    name: Annotated[str, typer.Argument(help="mnist, fashion-mnist or cifar10")],
    cache_dir: Annotated[Path | None, typer.Option(
        "--cache-dir", help="where to keep the files (default $STEEPEST_DATA or "
                            "~/.cache/steepest)")] = None,
    force: Annotated[bool, flag("--force", help="fetch again even if verified")] = False,
    as_json: JsonOpt = False,
):
    """Download a dataset's files from the public mirrors and verify their checksums."""
    from ..data.download import download_dataset

    folder = download_dataset(name, cache_dir=cache_dir, force=force)
    if as_json:
        emit_json({"name": name, "folder": str(folder)})
    else:
        console.print(f"{name}: verified files in {folder}")
