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
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Segment a dataset's images at the classifier's geometry; resumes where a killed run stopped.
    `cityq ingest` runs this itself when it needs a segmentation.

    Example: cityq segment --dataset synth --segmenter ade-r50 --split test
    """
    from cityq.pipeline.segment import ensure_segmentation

    with open_store(store, create=False) as opened:
        ids = opened.fetch_df(
            "SELECT image_id FROM images WHERE dataset = $dataset AND ($split IS NULL OR split = $split) ORDER BY image_id",
            {"dataset": dataset, "split": split},
        )["image_id"].tolist()
        if not ids:
            from cityq.errors import CityqError

            raise CityqError(f"dataset {dataset!r} has no images{f' in split {split}' if split else ''}; see `cityq info`.")
        seg_id = ensure_segmentation(opened, segmenter, dataset, ids, size, size, device=device, batch_size=batch_size)
        n = opened.fetch_df("SELECT count(*) AS n FROM segmented_images WHERE segmentation_id = $id", {"id": seg_id}).n[0]
    typer.echo(f"segmentation {seg_id}: {n} images of {dataset} segmented by {segmenter} at {size}x{size}", err=True)


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)
