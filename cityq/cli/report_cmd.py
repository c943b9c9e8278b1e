"""`cityq report`: one self-contained HTML page of the store."""

from __future__ import annotations

from pathlib import Path

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store, prepare_output


def report(
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML file to write."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Write a one-file HTML report: the findings first (top objects per model and city, AR
    between architectures vs seeds, accuracy), a table of contents, then every chart, the key
    tables, the figures, and how each was made (configs, versions). It works offline. Exits 1
    when recorded data cannot be shown (e.g. masks that cannot be read), after writing the page.

    Example: cityq report -o report.html
    """
    from cityq.errors import CityqError
    from cityq.report import build_report

    if output.suffix.lower() not in (".html", ".htm"):
        raise CityqError(f"cannot write the report as {output.name}: it is one HTML file, name it e.g. report.html")
    prepare_output(output)
    with open_store(store, read_only=True) as opened:
        result = build_report(opened, output)
    if result.problems:
        raise CityqError(f"wrote {result.path}, but {'; '.join(result.problems)}; `cityq check --store {store}` "
                         "says what to do")
    typer.echo(f"wrote {result.path} ({result.n_charts} charts)", err=True)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
