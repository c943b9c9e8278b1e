"""Fig 4: the visual explanations of a model as thumbnails at their t-SNE positions.

Each thumbnail is the image with its non-explanation pixels (mask < threshold) darkened,
framed in its city's colour, placed in the grid cell nearest its t-SNE position (no overlaps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image, ImageDraw

from cityq.errors import CityqError
from cityq.figures.canvas import MIN_SIDE, draw_text, font
from cityq.figures.explanations import DEFAULT_DARKEN, explanation_thumbnails
from cityq.figures.grid_layout import grid_shape, snap_to_grid
from cityq.figures.palette import city_colours

MAX_THUMBS = 2500  # the grid assignment is O(N * cells); beyond this the thumbnails are specks
LEGEND_HEIGHT = 22


@dataclass(frozen=True)
class ThumbsOptions:
    n: int = 500  # thumbnails, a deterministic random sample of the embedded images
    threshold: float = 0.5  # explanation threshold (mask >= t is kept)
    darken: float = DEFAULT_DARKEN  # brightness left outside the explanation
    thumb: int = 32  # thumbnail side in pixels (raised so the figure is >= 300 px)
    method: str | None = None  # t-SNE method; None: the one embedded (opentsne first)
    seed: int = 0  # sample of images
    split: str = "test"
    target: str = "true"


def _embedding(store, model: str, options: ThumbsOptions):
    frame = store.query("embedding", model=model, method=options.method,
                        split=options.split, target=options.target)
    if frame.empty:
        which = f" with --method {options.method}" if options.method else ""
        raise CityqError(f"model {model!r} has no t-SNE embedding{which}; run `cityq embed --model {model}` first")
    methods = sorted(frame["method"].unique(), key=lambda m: (m != "opentsne", m))
    frame = frame[frame["method"] == methods[0]]
    return frame.reset_index(drop=True), methods[0]


def compose_thumbnails(thumbs: torch.Tensor, cells: np.ndarray, cols: int, rows: int,
                       frames: list[tuple[int, int, int]] | None, side: int) -> Image.Image:
    """Paste uint8 (N,3,side,side) thumbnails at their (col,row) cells on a white canvas."""
    canvas = np.full((rows * side, cols * side, 3), 255, dtype=np.uint8)
    border = 2 if side >= 16 and frames is not None else 0
    for i, (col, row) in enumerate(cells):
        top, left = int(row) * side, int(col) * side
        tile = thumbs[i].permute(1, 2, 0).numpy()
        if border:
            tile = tile.copy()
            colour = np.array(frames[i], dtype=np.uint8)
            tile[:border], tile[-border:], tile[:, :border], tile[:, -border:] = colour, colour, colour, colour
        canvas[top:top + side, left:left + side] = tile
    return Image.fromarray(canvas)


def _with_legend(grid: Image.Image, title: str, colours: dict[str, tuple[int, int, int]]) -> Image.Image:
    width = max(grid.width, MIN_SIDE, int(font().getlength(title)) + 8)
    height = max(grid.height + 2 * LEGEND_HEIGHT, MIN_SIDE)
    out = Image.new("RGB", (width, height), "white")
    draw_text(out, (4, 4), title)
    out.paste(grid, ((width - grid.width) // 2, LEGEND_HEIGHT))
    draw = ImageDraw.Draw(out)
    x, y = 4, height - LEGEND_HEIGHT + 4
    for city, colour in colours.items():
        draw.rectangle([x, y + 2, x + 10, y + 12], fill=colour)
        draw_text(out, (x + 14, y), city)
        x += 24 + 7 * len(city)
    return out


def tsne_thumbs_figure(store, model: str, options: ThumbsOptions = ThumbsOptions()) -> Image.Image:
    """Fig 4 for one embedded model, as a PIL image."""
    from cityq.store.ingests import get_ingest

    if not 1 <= options.n <= MAX_THUMBS:
        raise CityqError(f"--n must be between 1 and {MAX_THUMBS}, got {options.n}")
    if not 0.0 <= options.threshold <= 1.0:
        raise CityqError(f"--threshold must be in [0, 1], got {options.threshold:g}")
    frame, method = _embedding(store, model, options)
    if len(frame) > options.n:
        pick = np.random.default_rng(options.seed).choice(len(frame), options.n, replace=False)
        frame = frame.iloc[np.sort(pick)].reset_index(drop=True)
    ingest = get_ingest(store, int(frame["ingest_id"][0]))
    xy = frame[["x", "y"]].to_numpy()
    cols, rows = grid_shape(xy)
    side = max(options.thumb, math.ceil(MIN_SIDE / min(cols, rows)))
    thumbs = explanation_thumbnails(store, ingest, frame["image_id"].to_numpy(), side,
                                    options.threshold, options.darken)
    colours = city_colours(frame["city"])
    grid = compose_thumbnails(thumbs, snap_to_grid(xy, cols, rows), cols, rows,
                              [colours[c] for c in frame["city"]], side)
    title = f"{model}: t-SNE ({method}), {len(frame)} explanations, mask >= {options.threshold:g}"
    return _with_legend(grid, title, colours)
