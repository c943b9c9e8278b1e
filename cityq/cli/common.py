"""What many commands share: the --store option, output formats and files, parameters, progress.

Every command that prints rows takes the same three options (`-f`, `-o`, `--no-headers`) and
hands a DuckDB relation to `render`: DuckDB writes CSV, TSV, JSON, NDJSON and Parquet itself
(so printing rows never imports pandas), and the two text formats for people (an aligned table,
Markdown) are built from the fetched rows. Without `-f`, a terminal gets the table and a pipe
gets TSV, which `cut`, `sort` and spreadsheets read.
"""

from __future__ import annotations

import os
import sys
import tempfile
from dataclasses import dataclass
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
    tsv = "tsv"
    csv = "csv"
    json = "json"
    ndjson = "ndjson"
    markdown = "markdown"
    parquet = "parquet"


FormatOption = Annotated[
    Optional[OutputFormat],
    typer.Option("--format", "-f", show_default=False,
                 help="How to print rows: table, tsv, csv, json, ndjson, markdown, parquet (a file only). "
                      "Default: a table on a terminal, TSV in a pipe, or the -o file's kind."),
]
OutputOption = Annotated[
    Optional[Path],
    typer.Option("--output", "-o", help="Write rows to a file: .csv, .tsv, .json, .ndjson, .parquet, .md or .txt."),
]
HeadersOption = Annotated[
    bool, typer.Option("--no-headers", help="Leave out the header line (table, tsv, csv, markdown).")
]
ParamOption = Annotated[
    Optional[list[str]],
    typer.Option("--param", "-p", help="A parameter as name=value (repeatable); bound, never pasted. "
                                       "Names of models, segmenters, cities, objects and datasets take "
                                       "several: -p model=a,b or -p model=a -p model=b."),
]

SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".json": "json", ".ndjson": "ndjson",
            ".jsonl": "ndjson", ".parquet": "parquet", ".md": "markdown", ".txt": "table"}
DUCKDB_FORMATS = ("csv", "tsv", "json", "ndjson", "parquet")  # written by DuckDB's COPY


def open_store(path: Path, *, read_only: bool = False, create: bool = False, queries: Path | None = None):
    """Open the store at `path`; only commands that make a store (`dataset add`, `segmenter add`,
    `demo`) pass create=True, so a mistyped --store is an error, not a new empty store."""
    from cityq.store import Store

    return Store(path, read_only=read_only, create=create, queries=queries)


def parse_params(items: list[str] | None) -> dict[str, list[str]]:
    """-p name=value items -> {name: [values in order]}; a name may repeat (a list of names)."""
    params: dict[str, list[str]] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip().isidentifier():
            raise CityqError(f"bad parameter {item!r}: write it as name=value, e.g. -p threshold=0.5")
        params.setdefault(name.strip(), []).append(value)
    return params


def split_names(values: list[str] | None) -> list[str]:
    """Repeated options and comma lists alike: ['a', 'b,c'] -> ['a', 'b', 'c']."""
    names = [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class Output:
    """Where rows go and in which format (see `resolve`)."""

    fmt: str | None = None  # None: from -o's suffix, else table on a terminal and TSV in a pipe
    path: Path | None = None
    header: bool = True

    @classmethod
    def of(cls, fmt: OutputFormat | None, path: Path | None, no_headers: bool = False) -> "Output":
        out = cls(fmt.value if fmt is not None else None, path, not no_headers)
        out.resolve()  # a format/suffix mismatch fails before any work is done
        return out

    def resolve(self) -> str:
        if self.path is not None:
            if self.path.is_dir():
                raise CityqError(f"cannot write {self.path}: it is a folder; name a file inside it")
            kind = SUFFIXES.get(self.path.suffix.lower())
            if self.fmt is not None and kind is not None and kind != self.fmt:
                raise CityqError(f"-f {self.fmt} but {self.path.name} is named like a {kind} file; "
                                 f"name it {self.path.stem}{_suffix_of(self.fmt)} or drop -f")
            if self.fmt is None and kind is None:
                raise CityqError(f"cannot tell the format of {self.path.name} from its name: use a "
                                 f"{', '.join(SUFFIXES)} file, or give -f")
            return self.fmt or kind
        if self.fmt == "parquet":
            raise CityqError("parquet is a binary file format: write it with -o rows.parquet")
        if self.fmt is not None:
            return self.fmt
        return "table" if _isatty(sys.stdout) else "tsv"


def _suffix_of(fmt: str) -> str:
    return next(s for s, k in SUFFIXES.items() if k == fmt)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def render(rows, out: Output = Output()) -> None:
    """Print `rows` (a `cityq.store.export.Rows`: a relation and its connection) as `out` says,
    or write them to `out.path`."""
    fmt = out.resolve()
    if out.path is not None:
        n = _write_file(rows, fmt, out)
        typer.echo(f"wrote {n} rows to {out.path}", err=True)
        return
    if fmt in DUCKDB_FORMATS:
        with tempfile.TemporaryDirectory(prefix="cityq-out-") as folder:
            tmp = Path(folder) / f"rows.{fmt}"
            rows.write(tmp, fmt, out.header)
            _copy_to_stdout(tmp)
        return
    text, n = _text(rows, fmt, out.header)
    _write_stdout(text)
    if n == 0:
        typer.echo("(no rows)", err=True)


def render_frame(frame, out: Output = Output()) -> None:
    """Render a pandas DataFrame a library call returned (through DuckDB, like every result)."""
    from cityq.store.export import records

    render(records(frame.to_dict("records"), [str(c) for c in frame.columns]), out)


def _text(rows, fmt: str, header: bool) -> tuple[str, int]:
    from cityq.cli.text_table import markdown, table

    values = rows.fetch()
    make = markdown if fmt == "markdown" else table
    return make(rows.columns, rows.types, values, header=header), len(values)


def _write_file(rows, fmt: str, out: Output) -> int:
    """Write to a temporary file beside the target, then rename: a failed query leaves no half file."""
    path = out.path
    target = prepare_output(path)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        if fmt in DUCKDB_FORMATS:
            tmp.unlink()  # DuckDB creates it
            n = rows.write(tmp, fmt, out.header)
        else:
            text, n = _text(rows, fmt, out.header)
            tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        raise CityqError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return n


def prepare_output(path: Path) -> Path:
    """Check that a file can be written at `path` (creating missing folders), or fail in one line."""
    path = Path(path)
    if path.is_dir():
        raise CityqError(f"cannot write {path}: it is a folder; name a file inside it")
    for parent in [path.parent, *path.parent.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise CityqError(f"cannot write {path}: {parent} is a file, not a folder")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise CityqError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def _write_stdout(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def _copy_to_stdout(path: Path) -> None:
    """The file DuckDB wrote, to stdout as it is (bytes where stdout has a binary buffer)."""
    sys.stdout.flush()
    target = getattr(sys.stdout, "buffer", None)
    if target is None:  # a text-only stream (some test runners): decode, whole lines at a time
        with open(path, encoding="utf-8", newline="") as source:
            for line in source:
                sys.stdout.write(line)
        sys.stdout.flush()
        return
    with open(path, "rb") as source:
        while chunk := source.read(1 << 16):
            target.write(chunk)
    target.flush()


def progress(iterable=None, *, total=None, desc: str = "", unit: str = "it", disable: bool = False):
    """A progress bar on stderr (quiet when stderr is not a terminal and CITYQ_PROGRESS unset)."""
    from cityq.progress import bar

    return bar(iterable, total=total, desc=desc, unit=unit, disable=disable)
