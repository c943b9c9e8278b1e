"""`cityq figure`: the paper's image figures as PNG files (Fig 4 and Fig 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store, prepare_output, split_names
from cityq.errors import CityqError

figure_app = typer.Typer(
    help="The paper's image figures as PNG files.\n\nExample: cityq figure masks -o fig6.png",
    no_args_is_help=True,
)


def _save(image, output: Path) -> None:
    if output.suffix.lower() != ".png":
        raise CityqError(f"cannot write {output.name}: figures are PNG files, name it e.g. fig.png")
    prepare_output(output)
    image.save(output, format="PNG", optimize=True)
    typer.echo(f"wrote {output} ({image.width}x{image.height})", err=True)


@figure_app.command("tsne-thumbs")
def tsne_thumbs(
    model: str = typer.Option(..., "--model", "-m", help="An embedded model (see `cityq embed`)."),
    output: Path = typer.Option(Path("fig4.png"), "--output", "-o", help="The PNG file to write."),
    n: int = typer.Option(500, "--n", help="Thumbnails: a random sample of the embedded images."),
    threshold: float = typer.Option(
        0.5, "--threshold", "-t", help="Explanation threshold: pixels with mask below it are darkened."
    ),
    thumb: int = typer.Option(32, "--thumb", help="Thumbnail side in pixels."),
    method: Optional[str] = typer.Option(
        None, "--method", help="Which t-SNE map: opentsne-fast, opentsne or sklearn (default: the one embedded)."
    ),
    seed: int = typer.Option(0, "--seed", help="Which images are sampled."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Fig 4: the model's visual explanations as thumbnails at their t-SNE positions, snapped to
    a grid so none overlap, each framed in its city's colour.

    Example: cityq figure tsne-thumbs --model vgg11-s0 -o fig4.png --n 500
    """
    from cityq.figures.tsne_thumbs import ThumbsOptions, tsne_thumbs_figure

    options = ThumbsOptions(n=n, threshold=threshold, thumb=thumb, method=method, seed=seed)
    with open_store(store, read_only=True) as opened:
        _save(tsne_thumbs_figure(opened, model, options), output)


@figure_app.command("masks")
def masks(
    models: Optional[list[str]] = typer.Option(
        None, "--model", "-m", "--models",
        help="A model (repeatable, or a comma list, as in `cityq ingest`; default: every ingested model)."
    ),
    images: int = typer.Option(6, "--images", help="Rows: images, taken from the cities in turn."),
    output: Path = typer.Option(Path("fig6.png"), "--output", "-o", help="The PNG file to write."),
    cell: int = typer.Option(128, "--cell", help="Tile side in pixels."),
    heat_only: bool = typer.Option(False, "--heat-only", help="Show the bare heat map, not over the image."),
    seed: int = typer.Option(0, "--seed", help="Which images are drawn."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Fig 6: several models' Grad-CAM masks on the same images; rows are images, columns the
    image and each model's mask as a heat map.

    Example: cityq figure masks -m vgg11-s0 -m resnet18-s0 --images 6 -o fig6.png
    """
    from cityq.figures.mask_grid import MaskGridOptions, mask_grid_figure

    chosen = tuple(split_names(models)) or None
    options = MaskGridOptions(models=chosen, images=images, cell=cell, overlay=not heat_only, seed=seed)
    with open_store(store, read_only=True) as opened:
        _save(mask_grid_figure(opened, options), output)


def register(app: typer.Typer) -> None:
    app.add_typer(figure_app, name="figure")
