"""`cityq query`: run a named query, or list them."""

from __future__ import annotations

from typing import Optional

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


def query(
    name: Optional[str] = typer.Argument(None, help='Query name, e.g. "rpc by city" (case, spaces, - and _ ignored).'),
    param: ParamOption = None,
    list_: bool = typer.Option(False, "--list", "-l", help="List the named queries with their descriptions."),
    store: StoreOption = DEFAULT_STORE,
    fmt: FormatOption = OutputFormat.table,
    output: OutputOption = None,
) -> None:
    """Run a named query over the store (each is also a SQL table macro).

    Example: cityq query "rpc by city" -p threshold=0.5 --format csv
    """
    from cityq.queries.registry import find_query, list_queries

    if list_ or name is None:
        import pandas as pd

        rows = [
            {
                "name": q.name,
                "macro": q.macro,
                "parameters": ", ".join(f"{p.name}={p.default}" for p in q.params),
                "description": q.description,
            }
            for q in list_queries()
        ]
        render(pd.DataFrame(rows, columns=["name", "macro", "parameters", "description"]), fmt, output)
        return
    find_query(name)  # an unknown name fails before the store is opened
    with open_store(store, read_only=True) as opened:
        render(opened.query(name, **parse_params(param)), fmt, output)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
