"""`cityq reliance`: what a model loses when each object is removed from its images."""

from __future__ import annotations

from typing import Optional

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store


def reliance(
    model: list[str] = typer.Option(..., "--model", "-m", help="Model name (repeatable)."),
    split: str = typer.Option("test", help="Which split's images: train, val or test."),
    objects: str = typer.Option("filtered", help="filtered (the object filter), planted (synthetic data), "
                                                 "or a comma list of ADE20K names."),
    method: str = typer.Option("redraw", help="redraw (synthetic data: drawn again without the object), "
                                              "impute (ROAD's noisy linear imputation), mean or blur."),
    segmenter: str = typer.Option("labels", help="Segmenter whose class maps say which pixels are an object's."),
    min_mean_pixels: Optional[float] = typer.Option(None, help="The object filter's bar (default: 100 at "
                                                               "224x224, scaled by image area)."),
    images_per_city: Optional[int] = typer.Option(None, help="Only this many images per city (a fixed subset)."),
    batch_size: int = typer.Option(64, help="Images per forward pass."),
    block_size: int = typer.Option(32, help="Images per committed block."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Remove each selected object from each image that shows it, and its control (the same shape
    elsewhere in the image, removed the same way), and record the model's probability of the true
    city and its prediction before and after in the `reliance` table. Removed images are cached
    and reused for every model. Resumes where a killed run stopped; a finished one has nothing to do.
    See `cityq query "reliance by city"` and `cityq query "rpc vs reliance"`.

    Example: cityq reliance --model vgg11-s0 --model resnet18-s0 --method redraw --objects filtered
    """
    from cityq.pipeline.reliance import RelianceOptions, measure_reliance

    options = RelianceOptions(split=split, objects=objects, method=method, segmenter=segmenter,
                              min_mean_pixels=min_mean_pixels, images_per_city=images_per_city,
                              batch_size=batch_size, block_size=block_size, device=device)
    with open_store(store, create=False) as opened:
        for name in model:
            summary = measure_reliance(opened, name, options)
            if summary.skipped:
                typer.echo(f"{name}: {method} cannot remove {', '.join(summary.skipped)} (nothing stands behind "
                           "the backdrop); skipped", err=True)
            if summary.already_done:
                typer.echo(f"{name}: every selected object already measured ({method}); nothing to do", err=True)
                continue
            typer.echo(f"{name}: {summary.pairs} removals on {summary.images} images in {summary.seconds:.1f} s "
                       f"({summary.computed} removed images made, {summary.cached} from the cache; "
                       f"{summary.evaluations} model evaluations)", err=True)


def register(app: typer.Typer) -> None:
    app.command("reliance")(reliance)
