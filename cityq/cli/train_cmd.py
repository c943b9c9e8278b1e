"""`cityq train`: train a city classifier on a dataset of the store."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store
from cityq.pipeline.train_config import TrainConfig


def train(
    dataset: Annotated[str, typer.Option("--dataset", help="A dataset of the store (`cityq datasets`).")],
    arch: Annotated[str, typer.Option("--arch", help="vgg11, resnet18, simple or simpler (`cityq models --archs`).")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of initialisation and shuffling.")] = 0,
    epochs: Annotated[int, typer.Option("--epochs", help="Passes over the train split.")] = TrainConfig.epochs,
    img_size: Annotated[int, typer.Option("--img-size", help="Square input side in pixels.")] = TrainConfig.img_size,
    batch_size: Annotated[int, typer.Option("--batch-size")] = TrainConfig.batch_size,
    lr: Annotated[float, typer.Option("--lr", help="Adam's initial learning rate.")] = TrainConfig.lr,
    lr_step: Annotated[int, typer.Option("--lr-step", help="Epochs between x lr-gamma decays.")] = TrainConfig.lr_step,
    lr_gamma: Annotated[float, typer.Option("--lr-gamma")] = TrainConfig.lr_gamma,
    device: Annotated[str, typer.Option("--device", help="auto, cpu or cuda.")] = "auto",
    name: Annotated[Optional[str], typer.Option("--name", help="Model name (default <arch>-s<seed>).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Retrain a model that is already in the store.")] = False,
    augment: Annotated[
        bool, typer.Option("--augment/--no-augment", help="Random flips and shifts of training images.")
    ] = TrainConfig.augment,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="auto, fp32 or bf16 (autocast of the forward pass; "
            "auto = bf16 where the CPU or GPU runs it natively).",
        ),
    ] = TrainConfig.precision,
    decode: Annotated[
        str,
        typer.Option(
            "--decode",
            help="Who decodes images not cached yet: pil (CPU threads), torch (on the device: nvJPEG on a GPU); "
            "auto = torch on a GPU.",
        ),
    ] = TrainConfig.decode,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Train ARCH on the dataset's train split, pick the epoch by val accuracy, test it, store it.

    Example: cityq train --dataset synth --arch resnet18 --seed 1 --epochs 12 --img-size 64
    """
    from cityq.pipeline.train import train_model

    config = TrainConfig(
        dataset=dataset,
        arch=arch,
        seed=seed,
        epochs=epochs,
        img_size=img_size,
        batch_size=batch_size,
        lr=lr,
        lr_step=lr_step,
        lr_gamma=lr_gamma,
        device=device,
        name=name,
        augment=augment,
        precision=precision,
        decode=decode,
    )
    with open_store(store) as opened:
        result = train_model(opened, config, force=force)
    if result.already_done:
        typer.echo(
            f"model {result.model!r} is already in the store ({result.source}, test accuracy "
            f"{result.test_accuracy:.4f}); nothing to do (--force retrains it)",
            err=True,
        )
    else:
        typer.echo(
            f"{result.model}: best epoch {result.best_epoch}, val accuracy {result.val_accuracy:.4f}, "
            f"test accuracy {result.test_accuracy:.4f} ({result.train_seconds:.1f} s training)",
            err=True,
        )
    typer.echo(result.model)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
