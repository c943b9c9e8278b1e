"""Training-time augmentation: random horizontal flips and small shifts.

Street scenes are left-right symmetric and a city does not depend on where the camera
stood to a few pixels; both are label-preserving, and on a few hundred images per city they
are what keeps a CNN from memorising the training scenes instead of learning the objects.
Masks are never computed on augmented images: Grad-CAM sees the images as stored.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def augment(batch: torch.Tensor, generator: torch.Generator, max_shift: float = 0.125) -> torch.Tensor:
    """(N,3,H,W) uint8 -> the same, each image flipped with p=0.5 and shifted by up to
    max_shift of its side (edge pixels repeated). Deterministic for the generator's state."""
    n, _, h, w = batch.shape
    flips = torch.rand(n, generator=generator) < 0.5
    pad = max(1, int(round(max(h, w) * max_shift)))
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    padded = F.pad(batch.float(), (pad, pad, pad, pad), mode="replicate")
    out = torch.empty_like(batch)
    for i in range(n):
        dy, dx = int(offsets[i, 0]), int(offsets[i, 1])
        crop = padded[i, :, dy:dy + h, dx:dx + w]
        out[i] = (crop.flip(-1) if flips[i] else crop).to(batch.dtype)
    return out
