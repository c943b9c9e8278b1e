"""`cityq info`: what the store holds."""

from __future__ import annotations

import typer

from cityq.cli.common import DEFAULT_STORE, FormatOption, OutputFormat, StoreOption, open_store, render


def info(store: StoreOption = DEFAULT_STORE, fmt: FormatOption = OutputFormat.table) -> None:
    """Show what the store holds: datasets, images per city and split, models, stages run, size.

    Example: cityq info --store cityq-store
    """
    from cityq.store.summary import summarise

    with open_store(store, create=False) as opened:
        sections = summarise(opened)
    if fmt == OutputFormat.json:
        import json

        typer.echo(json.dumps({k: v.to_dict(orient="records") for k, v in sections.items()}, default=str, indent=1))
        return
    for title, frame in sections.items():
        typer.echo(f"\n{title}", err=fmt != OutputFormat.table)
        render(frame, fmt)


def register(app: typer.Typer) -> None:
    app.command("info")(info)
