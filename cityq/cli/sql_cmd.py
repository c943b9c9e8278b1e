"""`cityq sql`: ad-hoc SQL over the store, read-only unless --write."""

from __future__ import annotations

import typer

from cityq.cli.common import (
    DEFAULT_STORE,
    FormatOption,
    OutputFormat,
    OutputOption,
    ParamOption,
    StoreOption,
    open_store,
    parse_params,
    render,
)


def sql(
    text: str = typer.Argument(
        ..., help="SQL; named queries are table macros: SELECT * FROM rpc_by_city(threshold := 0.5)."
    ),
    param: ParamOption = None,
    write: bool = typer.Option(False, "--write", help="Allow statements that change the store."),
    store: StoreOption = DEFAULT_STORE,
    fmt: FormatOption = OutputFormat.table,
    output: OutputOption = None,
) -> None:
    """Run ad-hoc SQL; $name placeholders are bound from -p name=value.

    Example: cityq sql "SELECT city, count(*) FROM images WHERE split = $s GROUP BY city" -p s=test
    """
    from cityq.queries.adhoc import check_read_only
    from cityq.store import DB_FILE, Store

    if not write:
        check_read_only(text)
    if not (store / DB_FILE).exists() and not write:
        # No store yet: answer against an empty one in memory rather than creating a directory.
        typer.echo(f"note: no store at {store}; ran against an empty store", err=True)
        opened = Store(":memory:")
    else:
        opened = open_store(store, read_only=not write)
    with opened:
        render(opened.sql(text, write=write, **parse_params(param)), fmt, output)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
