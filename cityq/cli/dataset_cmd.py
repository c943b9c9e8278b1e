"""`cityq dataset add` (register a class-folder dataset) and `cityq datasets` (list them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cityq.cli.common import DEFAULT_STORE, FormatOption, OutputFormat, OutputOption, StoreOption, open_store, render

dataset_app = typer.Typer(help="Register image datasets (class folders: ROOT/<city>/<image>).", no_args_is_help=True)


@dataset_app.command("add")
def add(
    root: Annotated[Path, typer.Argument(help="Folder with one sub-folder per city.")],
    name: Annotated[str, typer.Option("--name", help="The dataset's name in the store.")],
    split_seed: Annotated[int, typer.Option("--split-seed", help="Seed of the 6:2:2 train/val/test split.")] = 0,
    place_pattern: Annotated[Optional[str], typer.Option(
        "--place-pattern", help="Regex on the path inside the city folder; group 1 is the place id "
                                "(views of one place share a split). Default: the file stem.")] = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Register the images under ROOT/<city>/ (again: adds new files only).

    Example: cityq dataset add data/synth --name synth --split-seed 0
    """
    from cityq.pipeline.datasets import add_dataset

    with open_store(store) as opened:
        report = add_dataset(opened, root, name, split_seed=split_seed, place_pattern=place_pattern)
    for line in report.lines():
        typer.echo(line)


def datasets(store: StoreOption = DEFAULT_STORE, fmt: FormatOption = OutputFormat.table,
             output: OutputOption = None) -> None:
    """List the datasets: images per city and split, bad files, root folder.

    Example: cityq datasets --format csv
    """
    from cityq.store.datasets import list_datasets

    with open_store(store, create=False) as opened:
        render(list_datasets(opened), fmt, output)


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
    app.command("datasets")(datasets)
