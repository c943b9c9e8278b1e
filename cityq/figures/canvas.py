"""Shared drawing helpers: fonts, labels, PNG bytes."""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

MIN_SIDE = 300  # every figure is at least this many pixels wide and high


def font(size: int = 12):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def resize(images: torch.Tensor, side: int) -> torch.Tensor:
    """uint8 or float (N,C,H,W) -> float (N,C,side,side), bilinear with antialiasing."""
    return F.interpolate(images.float(), size=(side, side), mode="bilinear",
                         align_corners=False, antialias=True)


def to_hwc(image: torch.Tensor) -> np.ndarray:
    """(3,H,W) float or uint8 -> (H,W,3) uint8 for PIL."""
    return image.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def draw_text(canvas: Image.Image, xy: tuple[int, int], text: str, size: int = 12,
              fill=(0, 0, 0)) -> None:
    ImageDraw.Draw(canvas).text(xy, text, fill=fill, font=font(size))
