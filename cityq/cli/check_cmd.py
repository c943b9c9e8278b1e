"""`cityq check`: verify a store (masks and maps present, counts consistent, no duplicates,
no leftovers of killed runs) and say what to do about what it finds."""

from __future__ import annotations

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store


def check(
    sample: int = typer.Option(5, "--sample", help="Images per ingest and segmentation whose counts are recomputed."),
    fix: bool = typer.Option(False, "--fix", help="Delete leftovers no row names and mark killed runs 'failed'."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Verify the store: every recorded mask block and class map present and readable, counts
    equal to a recount from the stored masks on a sample, no duplicate rows, no Zarr arrays,
    chunks or checkpoints that no row names, no run left 'running' by a killed process, no
    place with views in two splits (or a dataset whose names share prefixes while every image
    is its own place), and a summary of the bad files and place warnings of every dataset.
    Exits 1 when something needs attention, printing what to do.

    Example: cityq check --store cityq-store --sample 20
    """
    from cityq.errors import CityqError
    from cityq.store.check import check_store, failed, repair

    with open_store(store, read_only=not fix) as opened:
        findings = check_store(opened, sample=sample)
        if fix:
            fixed = repair(findings)
            typer.echo(f"fixed {fixed} finding(s)", err=True)
            findings = check_store(opened, sample=sample)
    for finding in findings:
        typer.echo(finding.line())
    if failed(findings):
        worst = [f for f in findings if f.severity != "note"]
        raise CityqError(f"store {store} has {len(worst)} problem(s) (listed above); do what each line says, "
                         "or `cityq check --fix` for the leftovers it can remove")
    typer.echo(f"store {store} is consistent ({len(findings)} note(s))", err=True)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
