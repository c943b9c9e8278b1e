"""`cityq model import` (bring in a model trained elsewhere) and `cityq models` (list them)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

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

model_app = typer.Typer(help="Bring in models trained elsewhere.", no_args_is_help=True)


@model_app.command("import")
def import_(
    arch: Annotated[str, typer.Option("--arch", help="The architecture the weights belong to.")],
    checkpoint: Annotated[
        Path,
        typer.Option("--checkpoint", help="A state_dict file (torch.save(model.state_dict())) or a cityq checkpoint."),
    ],
    name: Annotated[str, typer.Option("--name", help="The model's name in the store.")],
    dataset: Annotated[
        str, typer.Option("--dataset", help="The dataset whose cities the model predicts (sorted order).")
    ],
    img_size: Annotated[
        Optional[int],
        typer.Option("--img-size", help="Input side the model expects (default: from a cityq checkpoint, else 224)."),
    ] = None,
    device: Annotated[
        str, typer.Option("--device", help="auto, cpu or cuda (for the test-split evaluation).")
    ] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Replace a model of the same name.")] = False,
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Import weights, check they fit ARCH, evaluate on the test split and store the model.

    Example: cityq model import --arch resnet18 --checkpoint resnet18_tokyo.pth --name r18-gpu --dataset synth
    """
    from cityq.pipeline.train import ImportOptions, import_model

    options = ImportOptions(
        arch=arch, checkpoint=checkpoint, name=name, dataset=dataset, img_size=img_size, device=device, force=force
    )
    with open_store(store) as opened:
        result = import_model(opened, options)
    typer.echo(f"{result.model}: test accuracy {result.test_accuracy:.4f}", err=True)
    typer.echo(result.model)


def models(
    store: StoreOption = DEFAULT_STORE,
    fmt: FormatOption = None,
    output: OutputOption = None,
    no_headers: HeadersOption = False,
    archs: Annotated[bool, typer.Option("--archs", help="List the known architectures instead.")] = False,
) -> None:
    """List the models: model, arch, seed, dataset, image size, source, test accuracy.

    Example: cityq models --format csv
    """
    out = Output.of(fmt, output, no_headers)
    if archs:
        from cityq.models import get_arch, list_archs
        from cityq.store.export import records

        rows = [{"arch": a, "target_layer": get_arch(a).target, "description": get_arch(a).description}
                for a in list_archs()]
        render(records(rows, ["arch", "target_layer", "description"]), out)
        return
    from cityq.store.models import list_models

    with open_store(store, read_only=True) as opened:
        render(opened.rows(list_models(opened)), out)


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
    app.command("models")(models)
