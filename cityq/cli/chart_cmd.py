"""`cityq chart`: a named query's result as a chart file (.html offline, .png, .svg)."""

from __future__ import annotations

from pathlib import Path

import typer

from cityq.cli.common import DEFAULT_STORE, ParamOption, StoreOption, open_store, parse_params


def chart(
    name: str = typer.Argument(..., help='Query name, e.g. "rpc by city"; `cityq query --list` shows them.'),
    output: Path = typer.Option(..., "--output", "-o", help="The chart file: .html (self-contained), .png or .svg."),
    param: ParamOption = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Run a named query and write its chart.

    Example: cityq chart "rpc by city" -o fig5.png -p threshold=0.5
    """
    from cityq.charts import render_chart, save_chart
    from cityq.charts.registry import chart_names, has_chart
    from cityq.errors import CityqError
    from cityq.queries.registry import find_query

    query = find_query(name)
    if not has_chart(query.name):
        raise CityqError(f"query {query.name!r} has no chart; charts exist for: {', '.join(chart_names())}")
    with open_store(store, read_only=True) as opened:
        frame = opened.query(query.name, **parse_params(param))
    path = save_chart(render_chart(query.name, frame), output)
    typer.echo(f"wrote {path} ({len(frame)} rows of {query.name!r})", err=True)


def register(app: typer.Typer) -> None:
    app.command("chart")(chart)
