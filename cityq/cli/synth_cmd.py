"""`cityq synth`: write the synthetic cities (images + ADE20K label maps) to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def synth(
    out_dir: Annotated[
        Optional[Path], typer.Argument(help="Folder to write <city>/<id>.png and <id>.labels.png into.")
    ] = None,
    spec: Annotated[
        Optional[Path], typer.Option("--spec", help="City spec (TOML); default: tokyo and pittsburgh.")
    ] = None,
    per_city: Annotated[int, typer.Option("--per-city", help="Images per city.")] = 500,
    size: Annotated[int, typer.Option("--size", help="Image side in pixels.")] = 128,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same images.")] = 0,
    views: Annotated[
        int,
        typer.Option(
            "--views",
            help="Views per place (same layout, camera and light vary); "
            r"files <place>_<view>.png: add with --place-pattern '^(\d+)_\d+\.png$'.",
        ),
    ] = 1,
    workers: Annotated[int, typer.Option("--workers", help="Processes; the images do not depend on it.")] = 1,
    show_spec: Annotated[
        bool, typer.Option("--show-spec", help="Print the default spec (a template) and exit.")
    ] = False,
    list_objects: Annotated[
        bool, typer.Option("--list-objects", help="List the objects a spec can use and exit.")
    ] = False,
) -> None:
    """Generate street scenes of synthetic cities that differ only by their planted objects.

    Example: cityq synth data/synth --per-city 500 --size 128 && cityq dataset add data/synth --name synth
    """
    from cityq.errors import CityqError
    from cityq.synth import generate_dataset
    from cityq.synth.drawers import get_drawer, list_drawers
    from cityq.synth.spec import default_spec_text

    if show_spec:
        typer.echo(default_spec_text(), nl=False)
        return
    if list_objects:
        for name in list_drawers():
            typer.echo(f"{name}\twhere: {', '.join(get_drawer(name).wheres)}")
        return
    if out_dir is None:
        raise CityqError("give an output folder: cityq synth OUT_DIR")
    summary = generate_dataset(out_dir, spec, per_city=per_city, size=size, seed=seed, workers=workers, views=views)
    for line in summary_lines(summary):
        typer.echo(line)


def summary_lines(summary: dict) -> list[str]:
    """The generator's summary in prose, as `cityq dataset add` reports (the whole summary, as
    JSON, is OUT_DIR/synth.json)."""
    out = [f"wrote {summary['images']} images ({summary['per_city']} per city, {summary['size']} px, seed "
           f"{summary['seed']}) of {len(summary['cities'])} cities ({', '.join(summary['cities'])}) to "
           f"{summary['out_dir']} in {summary['seconds']:.1f} s"]
    for city in summary["cities"]:
        planted = summary["planted"].get(city, {})
        shown = ", ".join(f"{name} in {s['images']} images" for name, s in planted.items()) or "none"
        out.append(f"  {city}: planted objects {shown}; {summary['unplanted_images'].get(city, 0)} images "
                   "show none of them")
    if summary.get("place_pattern"):
        out.append(f"  {summary['views']} views per place: add with --place-pattern '{summary['place_pattern']}'")
    out.append(f"next: cityq dataset add {summary['out_dir']} --name synth  (details: synth.json there)")
    return out


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
