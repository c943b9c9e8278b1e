"""Fig 6: several models' Grad-CAM masks on the same images, side by side.

Rows are images (spread over the cities), columns the image as the model saw it and then each
model's full-size mask as a jet heat map over the image (grad-cam's show_cam_on_image look;
`overlay=False` shows the bare heat map).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from cityq.errors import CityqError
from cityq.figures.canvas import MIN_SIDE, draw_text, font, resize
from cityq.figures.explanations import load_images_and_masks, overlay
from cityq.figures.palette import JET, heatmap

HEADER = 58  # title line, colour bar, column names
GAP = 2
BAR = (120, 8)  # the colour bar: width, height in pixels


@dataclass(frozen=True)
class MaskGridOptions:
    models: tuple[str, ...] | None = None  # None: every model with a finished ingest
    images: int = 6  # rows
    cell: int = 128  # side of one tile in pixels (raised so the figure is >= 300 px)
    overlay: bool = True  # heat map over the image, or the heat map alone
    seed: int = 0  # which images
    split: str = "test"
    target: str = "true"


def _ingests(store, options: MaskGridOptions):
    from cityq.store.ingests import find_ingest

    models = list(options.models or [])
    if not models:
        ingested = store.query("finished ingests", split=options.split, target=options.target)
        models = sorted(set(ingested["model"]))
    if not models:
        raise CityqError("no model has been ingested yet; run `cityq ingest --model NAME` first")
    ingests = [find_ingest(store, m, split=options.split, target=options.target) for m in models]
    datasets = sorted({i.dataset for i in ingests})
    if len(datasets) > 1:
        raise CityqError(f"the models were trained on different datasets ({', '.join(datasets)}); "
                         "pick models of one dataset with --models")
    return ingests


def choose_images(store, ingests, n: int, seed: int) -> list[tuple[int, str]]:
    """n images every ingest has a mask for, taking the cities in turn: (image_id, city)."""
    from cityq.store.masks import images_in_common

    rows = images_in_common(store, [i.ingest_id for i in ingests])
    if not rows:
        raise CityqError("the chosen models have no masked image in common; ingest them on the same split")
    rng = np.random.default_rng(seed)
    by_city: dict[str, list[int]] = {}
    for image_id, city in rows:
        by_city.setdefault(city, []).append(int(image_id))
    queues = {city: list(rng.permutation(ids)) for city, ids in sorted(by_city.items())}
    chosen: list[tuple[int, str]] = []
    while len(chosen) < n and any(queues.values()):
        for city, queue in queues.items():
            if queue and len(chosen) < n:
                chosen.append((int(queue.pop(0)), city))
    return chosen


def _tiles(store, ingest, image_ids, side: int, with_image: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(heat-map tiles, image tiles), each uint8 (N,3,side,side)."""
    images, masks = load_images_and_masks(store, ingest, image_ids)
    heat = heatmap(masks)
    shown = overlay(images, heat) if with_image else heat
    as_uint8 = lambda t: resize(t, side).round().clamp(0, 255).to(torch.uint8)  # noqa: E731
    return as_uint8(shown), as_uint8(images)


def _fit(text: str, width: int) -> str:
    measure = font().getlength
    while text and measure(text) > width - 4:
        text = text[:-2] + "…" if len(text) > 2 else ""
    return text


def colour_bar(canvas: Image.Image, xy: tuple[int, int], size: tuple[int, int] = BAR) -> None:
    """The heat map's scale: the jet table from mask 0 (left) to 1 (right), labelled."""
    x, y = xy
    width, height = size
    strip = JET[np.round(np.linspace(0, len(JET) - 1, width)).astype(int)]
    canvas.paste(Image.fromarray(np.repeat(strip[None], height, axis=0)), (x + 12, y))
    draw_text(canvas, (x, y - 3), "0", size=11)
    draw_text(canvas, (x + width + 16, y - 3), "1  mask value", size=11)


def mask_grid_figure(store, options: MaskGridOptions = MaskGridOptions()) -> Image.Image:
    """Fig 6 as a PIL image."""
    if options.images < 1:
        raise CityqError(f"--images must be at least 1, got {options.images}")
    ingests = _ingests(store, options)
    chosen = choose_images(store, ingests, options.images, options.seed)
    ids = [image_id for image_id, _ in chosen]
    n_cols, n_rows = 1 + len(ingests), len(chosen)
    side = max(options.cell, math.ceil(MIN_SIDE / n_cols), math.ceil((MIN_SIDE - HEADER) / n_rows))
    columns = []
    for k, ingest in enumerate(ingests):
        heat, images = _tiles(store, ingest, ids, side, options.overlay)
        if k == 0:
            columns.append(images)
        columns.append(heat)
    width = n_cols * side + (n_cols - 1) * GAP
    canvas = Image.new("RGB", (width, HEADER + n_rows * side + (n_rows - 1) * GAP), "white")
    draw_text(canvas, (4, 2), _fit(f"Grad-CAM masks ({options.target} city)", width))
    colour_bar(canvas, (4, 20))
    names = ["image", *[i.model for i in ingests]]
    for c, name in enumerate(names):
        draw_text(canvas, (c * (side + GAP) + 2, HEADER - 16), _fit(name, side))
    draw = ImageDraw.Draw(canvas)
    for r, (_, city) in enumerate(chosen):
        top = HEADER + r * (side + GAP)
        for c, column in enumerate(columns):
            canvas.paste(Image.fromarray(column[r].permute(1, 2, 0).numpy()), (c * (side + GAP), top))
        label = _fit(city, side)
        draw.rectangle([0, top + side - 16, 6 + int(font().getlength(label)), top + side], fill=(0, 0, 0))
        draw_text(canvas, (3, top + side - 15), label, fill=(255, 255, 255))
    return canvas
