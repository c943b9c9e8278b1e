"""The `labels` segmenter: the dataset's own label maps (PNG, one 0-based ADE20K index per pixel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from cityq.errors import CityqError
from cityq.objects import N_CLASSES
from cityq.segmenters.registry import ImageBatch, Segmenter, SegmenterRecord, register_segmenter


def read_label_map(path: Path) -> np.ndarray:
    """A label map as (H, W) uint8; values >= 150 are refused, naming the file."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise CityqError(f"label map {path} has mode {im.mode}; expected one channel of ADE20K indices.")
            arr = np.asarray(im)
    except (OSError, UnidentifiedImageError) as e:
        raise CityqError(f"cannot read label map {path}: {e}") from None
    top = int(arr.max()) if arr.size else 0
    if top >= N_CLASSES:
        raise CityqError(
            f"label map {path} has value {top}; labels must be 0-based ADE20K-150 indices (0-149)."
        )
    return arr.astype(np.uint8)


class LabelSegmenter(Segmenter):
    def __init__(self, device: torch.device):
        self.device = device

    @torch.no_grad()
    def segment(self, batch: ImageBatch, height: int, width: int) -> torch.Tensor:
        if len(batch.label_paths) != len(batch.images):
            raise CityqError("this dataset has no label maps; use a learned segmenter (see `cityq segmenters`).")
        maps = []
        for image, path in zip(batch.images, batch.label_paths):
            if path is None:
                raise CityqError(
                    "an image has no label map; the `labels` segmenter needs '<stem>.labels.png' beside every image."
                )
            arr = read_label_map(Path(path))
            if arr.shape != image.shape[:2]:
                raise CityqError(
                    f"label map {path} is {arr.shape[1]}x{arr.shape[0]} but its image is "
                    f"{image.shape[1]}x{image.shape[0]}; they must have the same size."
                )
            t = torch.from_numpy(arr).to(self.device)[None, None].float()
            # 'nearest-exact' samples pixel centres, as PIL's NEAREST does; plain 'nearest' shifts by half a pixel.
            maps.append(F.interpolate(t, size=(height, width), mode="nearest-exact")[0, 0])
        return torch.stack(maps).to(torch.uint8)


@register_segmenter("labels")
def load_labels(record: SegmenterRecord, store_root: Path | None, device: torch.device) -> Segmenter:
    return LabelSegmenter(device)
