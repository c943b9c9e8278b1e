"""`cityq ingest`: Grad-CAM masks and per-object counts for a model's images."""

from __future__ import annotations

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store, split_names
from cityq.thresholds import DEFAULT_GRID


def ingest(
    model: list[str] = typer.Option(..., "--model", "-m", help="Model name (repeatable, or a comma list)."),
    split: str = typer.Option("test", help="Which split's images: train, val or test."),
    segmenter: str = typer.Option("labels", help="Segmenter that labels the pixels (`cityq segmenters`)."),
    target: str = typer.Option("true", help="Explain the true city, or the 'predicted' one."),
    thresholds: str = typer.Option(DEFAULT_GRID, help="Threshold grid: start:stop:step or a comma list, inside (0,1)."),
    batch_size: int = typer.Option(64, help="Images per Grad-CAM pass."),
    block_size: int = typer.Option(256, help="Images per Zarr chunk and per committed block."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    decode: str = typer.Option("auto", help="Who decodes images not cached yet: pil (CPU threads), torch (on the "
                                            "device: nvJPEG on a GPU); auto = torch on a GPU."),
    force: bool = typer.Option(False, "--force", help="Recompute a finished ingest."),
    engine: str = typer.Option("local", help="local: in this process; ray: units on a Ray cluster (cityq[ray])."),
    address: str | None = typer.Option(None, help="--engine ray: the cluster ('auto', ray://HOST:10001); "
                                                  "default a local Ray on this machine."),
    shard_size: int = typer.Option(4096, help="--engine ray: images per unit, a multiple of --block-size."),
    run_folder: str | None = typer.Option(None, help="--engine ray: where workers leave results, a path or "
                                                     "fsspec URL (s3://bucket/prefix); default STORE/runs."),
    workers: int | None = typer.Option(None, help="--engine ray: actors (default one per GPU, else per CPU)."),
    units_per_commit: int = typer.Option(8, help="--engine ray: finished units committed per DuckDB transaction."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Compute Grad-CAM masks (to Zarr) and per-object counts (to DuckDB) for a model's images,
    and AR against every model already ingested on the same images. Resumes where a killed run
    stopped; a finished ingest is not redone without --force.

    With --engine ray the blocks are computed by Ray Data actors and committed into the same
    store (docs/scale.md); rerun the same command to resume.

    Example: cityq ingest --model vgg11-s0 --model resnet18-s0 --thresholds 0.05:0.95:0.05
    """
    from cityq.pipeline.ingest import IngestOptions, ingest_model

    options = IngestOptions(split=split, segmenter=segmenter, target=target, thresholds=thresholds,
                            batch_size=batch_size, block_size=block_size, device=device, decode=decode,
                            force=force, engine=engine,
                            ray=_ray_options(engine, address, shard_size, run_folder, workers, units_per_commit))
    with open_store(store) as opened:
        for name in split_names(model):
            summary = ingest_model(opened, name, options)
            if summary.already_done:
                typer.echo(
                    f"{name}: already ingested ({summary.images} images); nothing to do (--force recomputes)", err=True
                )
                for other, mean_ar in summary.pairs:  # AR pairs it still lacked
                    typer.echo(f"  AR {name} vs {other}: {mean_ar:.4f}", err=True)
                continue
            typer.echo(
                f"{name}: {summary.images} images in {summary.seconds:.1f} s "
                f"({summary.images_per_second:.1f} images/s), {summary.rows_written} rows, "
                f"store writes {100 * summary.write_share:.0f}% of the time, {len(summary.failures)} failures",
                err=True,
            )
            if summary.run_folder:
                typer.echo(f"  run folder {summary.run_folder}: {len(summary.unit_seconds)} units computed on Ray, "
                           "committed and removed", err=True)
            for image_id, reason in summary.failures:
                typer.echo(f"  skipped image {image_id}: {reason}", err=True)
            for other, mean_ar in summary.pairs:
                typer.echo(f"  AR {name} vs {other}: {mean_ar:.4f}", err=True)
            for other, why in summary.no_ar:
                typer.echo(f"  no AR {name} vs {other}: {why}", err=True)


def _ray_options(engine: str, address, shard_size: int, run_folder, workers, units_per_commit: int = 8):
    """The RayOptions of `--engine ray` (None for the local engine); says how to get Ray if absent."""
    if engine != "ray":
        return None
    from cityq.pipeline.ray_ingest import RayOptions, require_ray

    require_ray()
    return RayOptions(address=address, shard_size=shard_size, run_folder=run_folder, workers=workers,
                      commit_every=units_per_commit)


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
