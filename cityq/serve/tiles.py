"""Image tiles (PNG), drawn on request from the stored native CAMs and kept in LRU caches.

A tile is one image of one ingest in one layer at one threshold. Nothing is precomputed for
the whole store: a tile is drawn the first time a page asks for it, from
- the native CAM (a few hundred bytes from Zarr), upsampled exactly as the counts were
  (`upsample_cams`: bilinear, then min-max), so the pixels shown inside the explanation are
  the pixels counted in M;
- the image file, squashed to the model's input size as the model saw it;
- the ingest's segmentation (the class maps N and M were counted with).
These inputs are cached apart from the PNGs, so moving the threshold slider redraws from
memory without touching the store. A finished ingest never changes, so its id keys the caches.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from cityq.errors import CityqError

# layer -> what it shows (the page's layer menu lists them in this order)
LAYERS = {
    "overlay": "mask as a heat map inside the explanation, the rest dimmed",
    "explanation": "the image inside the explanation (mask >= t), the rest dark",
    "heat": "the whole mask as a heat map over the image (threshold-free)",
    "segmentation": "the segmenter's classes",
    "image": "the image as the model saw it",
}
DIM = 0.35  # brightness kept outside the explanation in the overlay layer: context stays legible


class LRU:
    """A small thread-safe least-recently-used map."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
            return None

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


class Tiles:
    """Draws tiles. `source(ingest_id)` gives the ingest's `TileSource` (the site looks it up
    once per version of the store); CAMs, class maps and pixels come from disk, not the database."""

    def __init__(self, source: Callable, max_tiles: int = 4096, max_inputs: int = 4096):
        self.source = source
        self.pngs = LRU(max_tiles)
        self._inputs = LRU(max_inputs)  # (kind, ingest or image, image) -> CAM, class map or pixels

    def png(self, ingest_id: int, image_id: int, threshold: float, layer: str) -> bytes:
        if layer not in LAYERS:
            raise CityqError(f"unknown layer {layer!r}; layers: {', '.join(LAYERS)}")
        if not 0.0 <= threshold <= 1.0:
            raise CityqError(f"threshold {threshold:g} is not in [0, 1]")
        # The threshold does not change these layers: one cached tile serves every slider position.
        t_key = None if layer in ("heat", "segmentation", "image") else round(threshold, 6)
        key = (ingest_id, image_id, t_key, layer)
        cached = self.pngs.get(key)
        if cached is not None:
            return cached
        source = self.source(ingest_id)
        size = (source.ingest.height, source.ingest.width)
        cam = self._input(("cam", ingest_id, image_id), lambda: source.cams(image_id))
        pixels = self._input(("pixels", image_id, size), lambda: _decode(source.files[image_id], *size))
        classes = None
        if layer == "segmentation":
            classes = self._input(("classes", ingest_id, image_id), lambda: source.classes(image_id))
        data = _encode(draw(layer, pixels, cam, classes, threshold, size))
        self.pngs.put(key, data)
        return data

    def _input(self, key, load):
        value = self._inputs.get(key)
        if value is None:
            value = load()
            self._inputs.put(key, value)
        return value


def _decode(path, height: int, width: int) -> np.ndarray:
    """uint8 (H,W,3): RGB, squashed to the model's input size as the ingest did."""
    from cityq.imaging import as_rgb

    try:
        with Image.open(path) as image:
            return np.asarray(as_rgb(image).resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)
    except OSError as exc:
        raise CityqError(f"cannot read image {path}: {exc}") from exc


def full_mask(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The full-size mask (H,W) of a native CAM, exactly as the ingest computed it."""
    from cityq.cams import upsample_cams

    return upsample_cams(torch.from_numpy(np.ascontiguousarray(cam, dtype=np.float32))[None], size)[0].numpy()


def draw(layer: str, pixels: np.ndarray, cam: np.ndarray, classes: np.ndarray | None, threshold: float,
         size: tuple[int, int]) -> np.ndarray:
    """One tile as uint8 (H,W,3)."""
    from cityq.figures.palette import JET

    image = pixels.astype(np.float32)
    if layer == "image":
        return pixels
    if layer == "segmentation":
        from cityq.synth.samples import label_colours

        return label_colours()[classes]
    mask = full_mask(cam, size)
    heat = JET[np.clip(np.round(mask * (len(JET) - 1)), 0, len(JET) - 1).astype(np.int64)].astype(np.float32)
    inside = (mask >= threshold)[..., None]
    if layer == "heat":
        shown = 0.5 * image + 0.5 * heat
    elif layer == "explanation":
        from cityq.figures.explanations import DEFAULT_DARKEN

        shown = np.where(inside, image, image * DEFAULT_DARKEN)
    else:  # overlay
        shown = np.where(inside, 0.5 * image + 0.5 * heat, image * DIM)
    return np.clip(np.round(shown), 0, 255).astype(np.uint8)


def _encode(tile: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(tile).save(buffer, format="PNG", compress_level=1)  # fast: tiles are small
    return buffer.getvalue()
