"""`cityq reliance`: what a model loses when each object is removed from its images."""

from __future__ import annotations

from typing import Annotated

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store, split_names


def reliance(
    model: Annotated[list[str], typer.Option("--model", "-m", help="Model name (repeatable, or a comma list).")],
    split: Annotated[str, typer.Option(help="Which split's images: train, val or test.")] = "test",
    objects: Annotated[str, typer.Option(help="filtered (the object filter), planted (synthetic data), "
                                              "or a comma list of ADE20K names.")] = "filtered",
    method: Annotated[str, typer.Option(help="redraw (synthetic data: drawn again without the object), "
                                             "impute (ROAD's noisy linear imputation), mean or blur.")] = "redraw",
    segmenter: Annotated[str, typer.Option(help="Segmenter whose class maps say which pixels are an "
                                                "object's.")] = "labels",
    min_mean_pixels: Annotated[float | None, typer.Option(help="The object filter's bar (default: 100 at "
                                                               "224x224, scaled by image area).")] = None,
    images_per_city: Annotated[int | None, typer.Option(help="Only this many images per city (a fixed "
                                                             "subset).")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per forward pass.")] = 64,
    block_size: Annotated[int, typer.Option(help="Images per committed block.")] = 32,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Measure again: drop the model's rows for this method "
                                                         "first (the removed images stay cached).")] = False,
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
                              batch_size=batch_size, block_size=block_size, device=device, force=force)
    with open_store(store, create=False) as opened:
        for name in split_names(model):
            summary = measure_reliance(opened, name, options)
            if summary.skipped:
                typer.echo(f"{name}: {method} cannot remove {', '.join(summary.skipped)} (nothing stands behind "
                           "the backdrop); skipped", err=True)
            if summary.already_done:
                typer.echo(f"{name}: every selected object already measured ({method}); nothing to do "
                           "(--force measures again)", err=True)
                continue
            typer.echo(f"{name}: {summary.pairs} removals on {summary.images} images in {summary.seconds:.1f} s "
                       f"({summary.computed} removed images made, {summary.cached} from the cache; "
                       f"{summary.evaluations} model evaluations)", err=True)


def register(app: typer.Typer) -> None:
    app.command("reliance")(reliance)
