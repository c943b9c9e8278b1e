"""`cityq dataset add` (register a class-folder dataset) and `cityq datasets` (list them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from cityq.cli.common import (
    DEFAULT_STORE,
    FormatOption,
    HeadersOption,
    Output,
    OutputOption,
    StoreOption,
    open_store,
    render,
)

dataset_app = typer.Typer(help="Register image datasets (class folders: ROOT/<city>/<image>).", no_args_is_help=True)


@dataset_app.command("add")
def add(
    root: Annotated[Path, typer.Argument(help="Folder with one sub-folder per city.")],
    name: Annotated[str, typer.Option("--name", help="The dataset's name in the store.")],
    split_seed: Annotated[int, typer.Option("--split-seed", help="Seed of the 6:2:2 train/val/test split.")] = 0,
    layout: Annotated[Optional[list[str]], typer.Option(
        "--layout", help="How a city folder is organised: auto (default: recognises pitts250k and tokyo247, "
                         "else folders), folders, pitts250k, tokyo247; NAME for every city or CITY=NAME "
                         "(repeatable). See docs/real-data.md.")] = None,
    place_pattern: Annotated[Optional[str], typer.Option(
        "--place-pattern", help="Regex searched in each file name; group 1 is the place id (views of one place "
                                "share a split). Overrides the layout's place; default: the layout's, else "
                                "the stem.")] = None,
    place_pattern_on: Annotated[str, typer.Option(
        "--place-pattern-on", help="What --place-pattern is searched in: name (the file name) or path (the "
                                   "path below the city folder, e.g. to use a folder as the place).")] = "name",
    queries: Annotated[bool, typer.Option(
        "--queries", help="Also register the query images of layouts that have them (default: the database "
                          "images only, as the paper did).")] = False,
    single_view: Annotated[bool, typer.Option(
        "--single-view", help="Every image is a place of its own on purpose: skip the check that refuses "
                              "file names sharing prefixes the way views of one place do.")] = False,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Register the images under ROOT/<city>/ (again: adds new files only). Problems are
    summarised (a count per kind, five examples); `cityq check` lists where all of them are.
    Creates the store if there is none at --store.

    Example: cityq dataset add cities --name tp --layout pittsburgh=pitts250k --layout tokyo=tokyo247
    """
    from cityq.pipeline.datasets import AddOptions, add_dataset

    options = AddOptions(split_seed=split_seed, place_pattern=place_pattern, place_pattern_on=place_pattern_on,
                         layouts=tuple(layout or ("auto",)), queries=queries, single_view=single_view)
    with open_store(store, create=True) as opened:
        report = add_dataset(opened, root, name, options)
    for line in report.lines():
        typer.echo(line)


def datasets(store: StoreOption = DEFAULT_STORE, fmt: FormatOption = None, output: OutputOption = None,
             no_headers: HeadersOption = False) -> None:
    """List the datasets: images per city and split, places, bad files, root folder.

    Example: cityq datasets --format csv
    """
    from cityq.store.datasets import list_datasets

    out = Output.of(fmt, output, no_headers)
    with open_store(store, read_only=True) as opened:
        render(opened.rows(list_datasets(opened)), out)


def register(app: typer.Typer) -> None:
    app.add_typer(dataset_app, name="dataset")
    app.command("datasets")(datasets)
