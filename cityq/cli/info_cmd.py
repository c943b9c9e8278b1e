"""`cityq info`: what the store holds."""

from __future__ import annotations

from typing import Optional

import typer

from cityq.cli.common import (
    DEFAULT_STORE,
    FormatOption,
    HeadersOption,
    Output,
    OutputFormat,
    OutputOption,
    StoreOption,
    open_store,
    render,
)
from cityq.errors import CityqError


def info(
    section: Optional[str] = typer.Option(None, "--section", "-s",
                                          help="Only one section: store, images, models, ingests, reliance or stages."),
    store: StoreOption = DEFAULT_STORE,
    fmt: FormatOption = None,
    output: OutputOption = None,
    no_headers: HeadersOption = False,
) -> None:
    """Show what the store holds: datasets, images per city and split, models, ingests, stages run, size.
    The sections have different columns: -f json gives one object of them all; csv, tsv, ndjson
    and parquet need one --section.

    Example: cityq info --section models -f csv
    """
    from cityq.store.summary import SECTIONS, summarise

    if fmt is None and output is None and section is None:
        fmt = OutputFormat.table  # a summary for people, in a pipe too; -f or --section for machines
    out = Output.of(fmt, output, no_headers)
    kind = out.resolve()
    if section is not None and section not in SECTIONS:
        raise CityqError(f"no section {section!r}; sections: {', '.join(SECTIONS)}")
    if section is None and kind not in ("json", "table", "markdown"):
        raise CityqError(f"the sections have different columns, so {kind} holds one: add --section "
                         f"({', '.join(SECTIONS)}), or use -f json for all of them")
    if section is None and kind != "json" and out.path is not None:
        raise CityqError("write one section to a file (--section NAME), or all of them with -o info.json")
    # Opened for writing: an older store is upgraded here (what the read-only commands ask for).
    with open_store(store) as opened:
        sections = summarise(opened)
        if section is not None:
            render(opened.rows(sections[section]), out)
        elif kind == "json":
            _json(opened, sections, out)
        else:
            for title, relation in sections.items():
                typer.echo(f"\n## {title}\n" if kind == "markdown" else f"\n{title}")
                render(opened.rows(relation), out)


def _json(opened, sections, out: Output) -> None:
    """One JSON object, {section: [rows]}, each section written by DuckDB."""
    import tempfile
    from pathlib import Path

    from cityq.cli.common import prepare_output

    parts = []
    with tempfile.TemporaryDirectory(prefix="cityq-info-") as folder:
        for title, relation in sections.items():
            path = Path(folder) / f"{title}.json"
            opened.rows(relation).write(path, "json")
            parts.append(f'"{title}": ' + path.read_text().strip())
    text = "{\n" + ",\n".join(parts) + "\n}\n"
    if out.path is None:
        typer.echo(text, nl=False)
        return
    prepare_output(out.path).write_text(text, encoding="utf-8")
    typer.echo(f"wrote {len(sections)} sections to {out.path}", err=True)


def register(app: typer.Typer) -> None:
    app.command("info")(info)
