"""`cityq segment`: label a dataset's pixels with a segmenter (maps to Zarr, N_p,i to DuckDB)."""

from __future__ import annotations

from typing import Optional

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store


def segment(
    dataset: str = typer.Option(..., "--dataset", help="Dataset name (`cityq sql \"select * from datasets\"`)."),
    segmenter: str = typer.Option("labels", "--segmenter", help="Segmenter name (`cityq segmenters`)."),
    size: int = typer.Option(224, "--size", help="Output geometry: the classifier's square input side."),
    split: Optional[str] = typer.Option(None, "--split", help="Only this split (train, val, test); default all."),
    batch_size: int = typer.Option(16, help="Images per block (one Zarr chunk, one transaction)."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    engine: str = typer.Option("local", help="local: in this process; ray: units on a Ray cluster (cityq[ray])."),
    address: Optional[str] = typer.Option(None, help="--engine ray: the cluster ('auto', ray://HOST:10001); "
                                                     "default a local Ray on this machine."),
    shard_size: int = typer.Option(4096, help="--engine ray: images per unit, a multiple of --batch-size."),
    run_folder: Optional[str] = typer.Option(None, help="--engine ray: where workers leave results, a path or "
                                                        "fsspec URL (s3://bucket/prefix); default STORE/runs."),
    workers: Optional[int] = typer.Option(None, help="--engine ray: actors (default one per GPU, else per CPU)."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Segment a dataset's images at the classifier's geometry; resumes where a killed run stopped.
    `cityq ingest` runs this itself when it needs a segmentation.

    Example: cityq segment --dataset synth --segmenter ade-r50 --split test
    """
    from cityq.cli.ingest_cmd import _ray_options
    from cityq.errors import CityqError
    from cityq.pipeline.segment import SegmentOptions, segment_dataset

    if engine not in ("local", "ray"):
        raise CityqError(f"--engine must be one of local, ray, not {engine!r}")
    options = SegmentOptions(dataset=dataset, segmenter=segmenter, size=size, split=split, batch_size=batch_size,
                             device=device, ray=_ray_options(engine, address, shard_size, run_folder, workers))
    with open_store(store) as opened:
        result = segment_dataset(opened, options)
    typer.echo(f"segmentation {result.segmentation_id}: {result.n_images} images of {dataset} segmented by "
               f"{segmenter} at {size}x{size}", err=True)


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)
