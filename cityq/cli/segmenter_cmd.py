"""`cityq segmenter add`, `cityq segmenter train`, `cityq segmenters`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from cityq.cli.common import (
    DEFAULT_STORE,
    FormatOption,
    HeadersOption,
    Output,
    OutputOption,
    StoreOption,
    open_store,
    render,
)

segmenter_app = typer.Typer(help="Add or train segmenters (label every pixel with an ADE20K-150 class).",
                            no_args_is_help=True)


@segmenter_app.command("add")
def add(
    name: str = typer.Argument(..., help="A name for the segmenter, used by `cityq segment --segmenter`."),
    kind: str = typer.Option(..., "--kind", help="mit-semseg or segformer (`labels` is always there)."),
    path: Path = typer.Option(..., "--path", help="The local weights folder."),
    arch: Optional[str] = typer.Option(
        None,
        "--arch",
        help="mit-semseg: <encoder>-<decoder>, e.g. resnet50dilated-ppm_deepsup or resnet50-upernet "
        "(default: from the folder name).",
    ),
    epoch: Optional[int] = typer.Option(
        None, "--epoch", help="mit-semseg: which encoder/decoder_epoch_N.pth (default: the highest N)."
    ),
    paper_scales: bool = typer.Option(
        False,
        "--paper-scales",
        help="mit-semseg: average their five short sides 300-600 instead of one scale at the image's own size.",
    ),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Register a pretrained ADE20K model from a local folder; its weights are checked strictly now.

    Example: cityq segmenter add ade-r50 --kind mit-semseg --path ~/models/ade20k-resnet50dilated-ppm_deepsup
    """
    from cityq.segmenters.catalog import add_segmenter

    config = {
        k: v
        for k, v in {"arch": arch, "epoch": epoch, "scales": "paper" if paper_scales else None}.items()
        if v is not None
    }
    with open_store(store, create=True) as opened:
        record = add_segmenter(opened, name, kind, path, config)
    typer.echo(f"added segmenter {record.name} ({record.kind}): {json.dumps(record.config)}", err=True)


@segmenter_app.command("train")
def train(
    dataset: str = typer.Option(..., "--dataset", help="A dataset with label maps (e.g. the synthetic cities)."),
    name: Optional[str] = typer.Option(None, "--name", help="Segmenter name (default unet-<dataset>)."),
    epochs: int = typer.Option(10, "--epochs", help="Passes over the train split."),
    input_size: int = typer.Option(64, "--input-size", help="Square side the network sees, in pixels."),
    max_seconds: float = typer.Option(
        90.0, "--max-seconds", help="Stop after the epoch that crosses this time budget (0 = no budget)."
    ),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Train a small U-Net on a dataset's labelled train split; report pixel accuracy and mIoU on test.

    Example: cityq segmenter train --dataset synth --epochs 10
    """
    from cityq.segmenters.train_segmenter import SegmenterTrainConfig, train_segmenter

    cfg = SegmenterTrainConfig(epochs=epochs, input_size=input_size, max_seconds=max_seconds or None)
    with open_store(store) as opened:
        m = train_segmenter(opened, dataset, name, cfg, device=device)
    typer.echo(
        f"trained {name or f'unet-{dataset}'} in {m['seconds']:.0f} s ({m['epochs_run']} epochs): "
        f"pixel accuracy {m['pixel_accuracy']:.3f}, mIoU {m['miou']:.3f} on {m['n_test']} test images",
        err=True,
    )


def segmenters(
    store: StoreOption = DEFAULT_STORE,
    fmt: FormatOption = None,
    output: OutputOption = None,
    no_headers: HeadersOption = False,
) -> None:
    """List the store's segmenters with their kind, weights and test metrics.

    Example: cityq segmenters --format csv
    """
    from cityq.store.segmenters import list_segmenters

    out = Output.of(fmt, output, no_headers)
    with open_store(store, read_only=True) as opened:
        render(opened.rows(list_segmenters(opened)), out)


def register(app: typer.Typer) -> None:
    app.add_typer(segmenter_app, name="segmenter")
    app.command("segmenters")(segmenters)
