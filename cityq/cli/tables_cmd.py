"""`cityq tables` (the store's tables, with --counts their rows) and `cityq schema` (columns)."""

from __future__ import annotations

from typing import Optional

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


def tables(
    counts: bool = typer.Option(False, "--counts", help="Count each table's rows too."),
    store: StoreOption = DEFAULT_STORE,
    fmt: FormatOption = None,
    output: OutputOption = None,
    no_headers: HeadersOption = False,
) -> None:
    """List the store's tables and views with their number of columns (and rows, with --counts).

    Example: cityq tables --counts
    """
    from cityq.store.summary import table_counts

    out = Output.of(fmt, output, no_headers)
    with open_store(store, read_only=True) as opened:
        render(opened.rows(table_counts(opened, counts)), out)


def schema(
    table: Optional[str] = typer.Argument(None, help="One table (default: all of them)."),
    store: StoreOption = DEFAULT_STORE,
    fmt: FormatOption = None,
    output: OutputOption = None,
    no_headers: HeadersOption = False,
) -> None:
    """Show the columns of the store's tables: name, type, nullable, default (docs/store.md says
    what each holds).

    Example: cityq schema object_counts
    """
    from cityq.errors import CityqError
    from cityq.store.summary import schema as columns

    out = Output.of(fmt, output, no_headers)
    with open_store(store, read_only=True) as opened:
        relation = columns(opened, table)
        if table is not None and not relation.fetchall():
            from cityq.store.summary import table_counts

            known = ", ".join(r[0] for r in table_counts(opened, False).fetchall())
            raise CityqError(f"no table {table!r} in the store; tables: {known}")
        render(opened.rows(relation), out)


def register(app: typer.Typer) -> None:
    app.command("tables")(tables)
    app.command("schema")(schema)
