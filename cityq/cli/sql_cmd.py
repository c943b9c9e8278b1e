"""`cityq sql`: ad-hoc SQL over the store, read-only unless --write."""

from __future__ import annotations

import typer

from cityq.cli.common import (
    DEFAULT_STORE,
    FormatOption,
    HeadersOption,
    Output,
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
    fmt: FormatOption = None,
    output: OutputOption = None,
    no_headers: HeadersOption = False,
) -> None:
    """Run ad-hoc SQL; $name placeholders are bound from -p name=value (a repeated name binds a list).

    Example: cityq sql "SELECT city, count(*) FROM images WHERE split = $s GROUP BY city" -p s=test
    """
    from cityq.queries.adhoc import check_read_only

    out = Output.of(fmt, output, no_headers)
    if not write:
        check_read_only(text)  # refused before the store is opened (and waited for)
    with open_store(store, read_only=not write) as opened:
        # -p x=1 binds 1; -p x=1 -p x=2 binds the list [1, 2].
        params = {k: v[0] if len(v) == 1 else v for k, v in parse_params(param).items()}
        relation = opened.sql_relation(text, write=write, **params)
        if relation is None:
            typer.echo("done (the last statement returns no rows)", err=True)
            return
        render(opened.rows(relation), out)


def register(app: typer.Typer) -> None:
    app.command("sql")(sql)
