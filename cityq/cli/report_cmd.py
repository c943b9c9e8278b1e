"""`cityq report`: one self-contained HTML page of the store."""

from __future__ import annotations

from pathlib import Path

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store


def report(
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML file to write."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Write a one-file HTML report: the store's summary, every chart, the key tables, the
    figures, and how each was made (configs, versions). It works offline.

    Example: cityq report -o report.html
    """
    from cityq.report import write_report

    with open_store(store, read_only=True) as opened:
        path = write_report(opened, output)
    typer.echo(f"wrote {path}", err=True)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
