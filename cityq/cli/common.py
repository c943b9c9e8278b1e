"""What many commands share: the --store option, output formats, parameters, progress."""

from __future__ import annotations

import json
import math
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from cityq.errors import CityqError

StoreOption = Annotated[
    Path,
    typer.Option(
        "--store",
        envvar="CITYQ_STORE",
        help="The store directory (default ./cityq-store, or $CITYQ_STORE).",
        show_default=False,
    ),
]
DEFAULT_STORE = Path("cityq-store")


class OutputFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"
    ndjson = "ndjson"


FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="How to print rows to stdout.")
]
OutputOption = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Write rows to a file instead: .csv, .json, .ndjson or .parquet."),
]
ParamOption = Annotated[
    Optional[list[str]],
    typer.Option("--param", "-p", help="A parameter as name=value (repeatable); bound, never pasted."),
]


def open_store(path: Path, *, read_only: bool = False, create: bool = True):
    from cityq.store import Store

    return Store(path, read_only=read_only, create=create)


def parse_params(items: list[str] | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise CityqError(f"bad parameter {item!r}: write it as name=value, e.g. -p threshold=0.5")
        params[name.strip()] = value
    return params


def _records(frame) -> list[dict]:
    """Rows as plain JSON values: NaN -> null, timestamps -> ISO text, arrays -> lists."""
    rows = json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))
    return rows


def _print_table(frame) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    for column in frame.columns:
        table.add_column(str(column), justify="right" if frame[column].dtype.kind in "iuf" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    Console(width=max(80, min(200, 20 * len(frame.columns)))).print(table)
    if frame.empty:
        typer.echo("(no rows)", err=True)


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _write_csv(frame, stream) -> None:
    frame.to_csv(stream, index=False)


def _write_json(frame, stream) -> None:
    json.dump(_records(frame), stream, indent=1)
    stream.write("\n")


def _write_ndjson(frame, stream) -> None:
    for row in _records(frame):
        stream.write(json.dumps(row) + "\n")


_STREAM_WRITERS = {"csv": _write_csv, "json": _write_json, "ndjson": _write_ndjson}
_FILE_SUFFIXES = {".csv": "csv", ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson", ".parquet": "parquet"}


def render(frame, fmt: OutputFormat = OutputFormat.table, output: Path | None = None) -> None:
    """Print rows in the chosen format, or write them to `output` (format from its suffix)."""
    if output is not None:
        kind = _FILE_SUFFIXES.get(output.suffix.lower())
        if kind is None:
            raise CityqError(f"cannot write {output.name}: use a .csv, .json, .ndjson or .parquet file")
        output.parent.mkdir(parents=True, exist_ok=True)
        if kind == "parquet":
            frame.to_parquet(output, index=False)
        else:
            with open(output, "w", newline="") as stream:
                _STREAM_WRITERS[kind](frame, stream)
        typer.echo(f"wrote {len(frame)} rows to {output}", err=True)
        return
    if fmt == OutputFormat.table:
        _print_table(frame)
    else:
        _STREAM_WRITERS[fmt.value](frame, sys.stdout)


def progress(iterable=None, *, total=None, desc: str = "", unit: str = "it", disable: bool = False):
    """A progress bar on stderr (quiet when stderr is not a terminal and CITYQ_PROGRESS unset)."""
    from cityq.progress import bar

    return bar(iterable, total=total, desc=desc, unit=unit, disable=disable)
