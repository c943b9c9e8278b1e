"""`cityq embed`: the t-SNE map of a model's Grad-CAM masks (paper Fig 3)."""

from __future__ import annotations

from enum import Enum

import typer

from cityq.cli.common import DEFAULT_STORE, StoreOption, open_store


class Method(str, Enum):
    sklearn = "sklearn"
    opentsne = "opentsne"
    opentsne_fast = "opentsne-fast"


def embed(
    model: str = typer.Option(..., "--model", "-m", help="The ingested model whose masks to embed."),
    pca: int = typer.Option(50, "--pca", help="PCA components before t-SNE (capped at images-1 and the CAM size)."),
    perplexity: float = typer.Option(30.0, "--perplexity", help="t-SNE perplexity; needs more than 3x as many images."),
    method: Method = typer.Option(
        Method.opentsne_fast,
        "--method",
        help="t-SNE implementation: opentsne-fast (openTSNE with a capped FFT grid and a KL stop, "
        "about 4x faster than opentsne on 30,000 masks; docs/embeddings.md), opentsne (openTSNE's "
        "defaults: the fully expanded map) or sklearn (Barnes-Hut, slowest).",
    ),
    seed: int = typer.Option(0, "--seed", help="Random seed of PCA and t-SNE."),
    split: str = typer.Option("test", "--split", help="The split of the ingest."),
    target: str = typer.Option("true", "--target", help="Grad-CAM target of the ingest: true or predicted."),
    store: StoreOption = DEFAULT_STORE,
) -> None:
    """Map a model's masks to 2-D: native Grad-CAMs flattened, PCA, then t-SNE; coordinates go
    to the `embeddings` table (replacing an earlier map of the same model and method).

    Then: cityq query embedding -p model=NAME, cityq query "embedding separation",
    cityq figure tsne-thumbs --model NAME -o fig4.png.

    Example: cityq embed --model vgg11-s0 --method opentsne
    """
    from cityq.pipeline.embed import EmbedOptions, embed_model

    options = EmbedOptions(
        model=model, pca=pca, perplexity=perplexity, method=method.value, seed=seed, split=split, target=target
    )
    with open_store(store) as opened:
        s = embed_model(opened, options)
    h, w = s.cam_shape
    typer.echo(
        f"embedded {s.n_images} images of {s.model} ({s.method}, {h}x{w} CAMs -> PCA {s.pca_components} "
        f"keeping {s.explained_variance:.1%} of the variance -> t-SNE) in {s.seconds:.1f} s; "
        f'see: cityq query "embedding separation" -p model={s.model}'
    )


def register(app: typer.Typer) -> None:
    app.command("embed")(embed)
