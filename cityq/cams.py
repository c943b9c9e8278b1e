"""Grad-CAM mask maths shared by the pipeline (which computes masks) and the store (which keeps
them at native resolution and derives the full-size masks on reading): SPEC §3.

    minmax_normalize   per image: subtract the min, divide by (max + 1e-7)
    upsample_cams      bilinear (align_corners=False, no antialias) to (H, W), then min-max again
    common_grid        the coarser of two native CAM grids (AR at a common resolution)
    pool_cams          area-average native CAMs onto a coarser grid

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


def common_grid(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    """The coarser of two native CAM grids, per axis: (4, 4) for a 4x4 and a 7x7 CAM."""
    return min(a[0], b[0]), min(a[1], b[1])


def pool_cams(cams_native: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Native CAMs (N,h,w) area-averaged onto a grid no finer than theirs (adaptive average
    pooling: output cell i covers input cells floor(i*h/g) .. ceil((i+1)*h/g) - 1, so 7 -> 4
    averages overlapping windows). The grid they already have returns them unchanged.

    AR between two architectures compares masks upsampled from grids of different sizes; pooling
    the finer CAM to the coarser grid first, then upsampling both with `upsample_cams`, takes the
    resolution out of the comparison (AR at a common resolution)."""
    if tuple(cams_native.shape[-2:]) == tuple(grid):
        return cams_native
    return F.adaptive_avg_pool2d(cams_native[:, None], tuple(grid))[:, 0]
