"""Grad-CAM mask maths shared by the pipeline (which computes masks) and the store (which keeps
them at native resolution and derives the full-size masks on reading): SPEC §3.

    minmax_normalize   per image: subtract the min, divide by (max + 1e-7)
    upsample_cams      bilinear (align_corners=False, no antialias) to (H, W), then min-max again

Both are exactly what `grad-cam` 1.5.x does (see cityq/pipeline/gradcam.py for the comparison).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-7


def minmax_normalize(cams: torch.Tensor) -> torch.Tensor:
    """Per image: subtract the min, divide by (max + 1e-7). All-zero stays all-zero."""
    flat = cams.flatten(1)
    flat = flat - flat.amin(dim=1, keepdim=True)
    flat = flat / (flat.amax(dim=1, keepdim=True) + EPS)
    return flat.view_as(cams)


def upsample_cams(cams_native: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Full-size masks (N,H,W): bilinear (align_corners=False, no antialias), then min-max again."""
    up = F.interpolate(cams_native[:, None], size=tuple(size), mode="bilinear", align_corners=False)
    return minmax_normalize(up[:, 0])
