"""`cityq query`: run a named query, list them, or show one's SQL."""

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
    ParamOption,
    StoreOption,
    open_store,
    parse_params,
    render,
)

QueriesOption = Annotated[
    Optional[Path],
    typer.Option("--queries", help="A folder of your own named queries (.sql files with the header), "
                                   "beside <store>/queries/."),
]


def user_queries(store: Path, queries: Path | None) -> tuple:
    """The user's own queries: <store>/queries/*.sql where the store exists, and --queries."""
    from cityq.queries.registry import load_folder
    from cityq.store import DB_FILE

    folders = [store / "queries"] if (store / DB_FILE).exists() else []
    if queries is not None:
        folders.append(queries)
    return load_folder(folders)


def _list_rows(known: tuple, names_only: bool):
    from cityq.charts.catalog import has_chart
    from cityq.store.export import records

    if names_only:
        return records([{"name": q.name} for q in known], ["name"])
    rows = [
        {
            "name": q.name,
            "macro": q.macro,
            "chart": "yes" if (has_chart(q.name) or q.chart_file) else "",
            "parameters": ", ".join(f"{p.name}={p.default}" for p in q.params),
            "description": q.description,
        }
        for q in known
    ]
    return records(rows, ["name", "macro", "chart", "parameters", "description"])


def _show(query) -> str:
    from cityq.queries.params import NAME_PARAMS

    lines = [f"-- {query.name}: {query.description}", f"-- file: {query.file}"]
    for p in query.params:
        several = " (one or several: a,b)" if p.name in NAME_PARAMS else ""
        lines.append(f"-- param {p.name} = {p.default}  {p.help}{several}".rstrip())
    call = ", ".join(f"{p.name} := {p.default}" for p in query.params)
    lines.append(f"-- call: SELECT * FROM {query.macro}({call})")
    return "\n".join(lines) + "\n" + query.body + "\n"


def query(
    name: Optional[str] = typer.Argument(None, help='Query name, e.g. "rpc by city" (case, spaces, - and _ ignored).'),
    param: ParamOption = None,
    list_: bool = typer.Option(False, "--list", "-l", help="List the named queries: parameters, description, "
                                                           "whether `cityq chart` draws it."),
    names: bool = typer.Option(False, "--names", help="List only the queries' names."),
    show: bool = typer.Option(False, "--show", help="Print the query's SQL and parameters instead of running it."),
    queries: QueriesOption = None,
    store: StoreOption = DEFAULT_STORE,
    fmt: FormatOption = None,
    output: OutputOption = None,
    no_headers: HeadersOption = False,
) -> None:
    """Run a named query over the store (each is also a SQL table macro).

    Example: cityq query "rpc by city" -p threshold=0.5 -p model=vgg11-s0,resnet18-s0 --format csv
    """
    from cityq.queries.registry import find_query, list_queries

    out = Output.of(fmt, output, no_headers)
    own = user_queries(store, queries)
    if list_ or names or name is None:
        render(_list_rows((*list_queries(), *own), names), out)
        return
    found = find_query(name, own)
    if show:
        typer.echo(_show(found), nl=False)
        return
    with open_store(store, read_only=True, queries=queries) as opened:
        render(opened.rows(opened.relation(found.name, **parse_params(param))), out)


def register(app: typer.Typer) -> None:
    app.command("query")(query)
