"""The paper's image figures, drawn with PIL: Fig 4 (`tsne_thumbs`) and Fig 6 (`mask_grid`).

Fig 3 (the t-SNE scatter by city) is an Altair chart on the `embedding` query, with the other
charts. `report_figures(store)` gives the report every figure the store has data for.
"""

from __future__ import annotations

REPORT_THUMBS = 300  # thumbnails per Fig 4 in the report: enough to see clusters, a small page


def report_figures(store) -> list[tuple[str, bytes]]:
    """(title, PNG bytes) for Fig 4 of every embedded model and Fig 6 over the ingested models of each dataset;
    an empty list when nothing is ingested."""
    from cityq.figures.canvas import png_bytes
    from cityq.figures.mask_grid import MaskGridOptions, mask_grid_figure
    from cityq.figures.tsne_thumbs import ThumbsOptions, tsne_thumbs_figure

    figures: list[tuple[str, bytes]] = []
    for model in sorted(set(store.query("embedding")["model"])):
        image = tsne_thumbs_figure(store, model, ThumbsOptions(n=REPORT_THUMBS))
        figures.append((f"Fig 4: visual explanations of {model} at their t-SNE positions", png_bytes(image)))
    per_dataset: dict[str, list[str]] = {}
    ingested = store.query("finished ingests")
    for dataset, model in ingested.loc[ingested["mask_ingest"], ["dataset", "model"]].itertuples(index=False):
        per_dataset.setdefault(dataset, []).append(model)
    for dataset, models in per_dataset.items():  # one Fig 6 per dataset: masks of the same images
        image = mask_grid_figure(store, MaskGridOptions(models=tuple(models)))
        title = "Fig 6: Grad-CAM masks of every model on the same test images"
        figures.append((title + (f" ({dataset})" if len(per_dataset) > 1 else ""), png_bytes(image)))
    return figures
