"""Decoding and preparing classifier inputs: the one definition of how an image file becomes
the pixels a model sees, shared by the image cache (store), training, ingest and segmentation.

Resizing squashes the whole image to SxS (bilinear with antialiasing, PIL's resize), never
crops: a crop would cut off parts of the image whose label-map pixels then have no mask
value, and Grad-CAM masks must align pixel for pixel with the label maps resized the same way.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cityq.errors import CityqError

# ImageNet statistics, as torchvision's classifiers expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(batch_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N,3,H,W) -> float32 ImageNet-normalised, on the batch's device."""
    # (x / 255 - mean) / std as one multiply and one subtract, in place on the float copy:
    # the same numbers to float rounding (~1e-7), one pass fewer over a full batch.
    scale = torch.tensor([1 / (255.0 * s) for s in IMAGENET_STD], device=batch_uint8.device).view(1, 3, 1, 1)
    shift = torch.tensor([m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)], device=batch_uint8.device)
    return batch_uint8.float().mul_(scale).sub_(shift.view(1, 3, 1, 1))


# PIL's 16/32-bit integer greyscale modes; convert("RGB") clips them at 255 instead of scaling.
_WIDE_GREY = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def as_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB. 16-bit greyscale is scaled to 8 bits (>> 8); PIL alone would clip every value
    above 255 and turn a 16-bit photo white. Alpha is dropped; palettes are expanded."""
    if image.mode in _WIDE_GREY:
        wide = np.asarray(image).astype(np.int64)
        image = Image.fromarray(np.clip(wide >> 8, 0, 255).astype(np.uint8), "L")
    return image.convert("RGB")


def decode_resized(path: Path, size: int) -> np.ndarray:
    """One image as uint8 (3,S,S): RGB, squashed to SxS, bilinear with antialias."""
    with Image.open(path) as image:
        image = as_rgb(image).resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


def decode_rgb(path: Path) -> np.ndarray:
    """One image at its own size as uint8 (H,W,3); an unreadable file is a CityqError."""
    try:
        with Image.open(path) as image:
            return np.asarray(as_rgb(image), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise CityqError(f"cannot read image {path}: {exc}; fix or remove it and re-add the dataset") from None
