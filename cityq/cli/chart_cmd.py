"""`cityq chart`: a named query's result as a chart file (.html offline, .png, .svg, .pdf)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cityq.cli.common import DEFAULT_STORE, ParamOption, StoreOption, open_store, parse_params, prepare_output
from cityq.cli.query_cmd import QueriesOption, user_queries
from cityq.errors import CityqError


def chart(
    name: Optional[str] = typer.Argument(None, help='Query name, e.g. "rpc by city"; `cityq chart --list` '
                                                    "shows the ones with a chart."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="The chart file: .html (self-contained), .png, .svg or .pdf."),
    param: ParamOption = None,
    scale: float = typer.Option(2.0, "--scale", help="PNG only: pixels per chart pixel (2 = sharp in print)."),
    list_: bool = typer.Option(False, "--list", "-l", help="List the queries that have a chart."),
    queries: QueriesOption = None,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Run a named query and write its chart. Charts of per-object results show one segmenter
    (-p segmenter=NAME; default the dataset's own labels; -p segmenter=null: one panel each).

    Example: cityq chart "rpc by city" -o fig5.png -p threshold=0.5 -p model=vgg11-s0,resnet18-s0
    """
    if list_:
        from cityq.charts.catalog import CHARTED

        for query_name in (*CHARTED, *(q.name for q in user_queries(store, queries) if q.chart_file)):
            typer.echo(query_name)
        return
    if name is None or output is None:
        raise CityqError("give a query and a file: cityq chart NAME -o chart.html (`cityq chart --list` lists them)")
    from cityq.charts import chart_of, save_chart
    from cityq.charts.export import check_chart_path

    check_chart_path(output)
    prepare_output(output)
    with open_store(store, read_only=True, queries=queries) as opened:
        drawn = chart_of(opened, name, parse_params(param))
    path = save_chart(drawn, output, scale=scale)
    typer.echo(f"wrote {path}", err=True)


def register(app: typer.Typer) -> None:
    app.command("chart")(chart)
