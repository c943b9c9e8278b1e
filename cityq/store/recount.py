"""Counts recomputed in numpy from stored CAMs and class maps, for `cityq check`.

The ingest computes masks and counts in torch (`cams.upsample_cams`, `counting.count_block`);
the check recomputes them here, independently, in numpy: two implementations that agree are
better evidence than one run twice, and the check then needs no torch (it starts in a
fraction of the time). Definitions as SPEC §3 and §6:
    mask      bilinear upsampling of the native CAM (align_corners=False, no antialias, as
              torch.nn.functional.interpolate), then per image (m - min) / (max + 1e-7)
    N, S, M   pixels of each object, the sum of the mask over them, the pixels with m >= t_j
    area      pixels with m >= t_j
Values sit in float32, the masks' own precision; a pixel lying on a threshold may round the
other way on another implementation, which the check's comparison allows for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_CLASSES = 150  # ADE20K-150 (cityq.objects.N_CLASSES; kept here so the check imports no torch)
EPS = np.float32(1e-7)


def _source_index(out_size: int, in_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PyTorch's bilinear source positions (align_corners=False): lower index, upper index, weight."""
    scale = np.float32(in_size / out_size)
    src = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    src = np.maximum(src, np.float32(0))
    low = src.astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    return low, high, (src - low).astype(np.float32)


def upsample_masks(cams: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, h, w) native CAMs -> (N, H, W) float32 masks in [0, 1]."""
    cams = np.asarray(cams, dtype=np.float32)
    h0, h1, wh = _source_index(size[0], cams.shape[1])
    w0, w1, ww = _source_index(size[1], cams.shape[2])
    top = cams[:, h0][:, :, w0] * (1 - ww) + cams[:, h0][:, :, w1] * ww
    bottom = cams[:, h1][:, :, w0] * (1 - ww) + cams[:, h1][:, :, w1] * ww
    up = (top * (1 - wh)[None, :, None] + bottom * wh[None, :, None]).astype(np.float32)
    flat = up.reshape(len(up), -1)
    flat = flat - flat.min(axis=1, keepdims=True)
    flat = flat / (flat.max(axis=1, keepdims=True) + EPS)
    return flat.reshape(up.shape).astype(np.float32)


def pixel_counts(maps: np.ndarray) -> np.ndarray:
    """(B, H, W) class maps -> (B, 150) pixels of each class."""
    b = len(maps)
    cells = maps.reshape(b, -1).astype(np.int64) + (np.arange(b) * N_CLASSES)[:, None]
    return np.bincount(cells.ravel(), minlength=b * N_CLASSES).reshape(b, N_CLASSES)


@dataclass
class Recount:
    n_pixels: np.ndarray  # (B, 150)
    soft_sum: np.ndarray  # (B, 150)
    m_pixels: np.ndarray  # (B, 150, T)
    area_pixels: np.ndarray  # (B, T)
    mask_sum: np.ndarray  # (B,)


def recount(masks: np.ndarray, maps: np.ndarray, thresholds) -> Recount:
    grid = np.asarray(thresholds, dtype=np.float32)
    b = len(masks)
    flat = masks.reshape(b, -1).astype(np.float32)
    cells = maps.reshape(b, -1).astype(np.int64) + (np.arange(b) * N_CLASSES)[:, None]
    n = np.bincount(cells.ravel(), minlength=b * N_CLASSES).reshape(b, N_CLASSES)
    soft = np.bincount(cells.ravel(), weights=flat.ravel().astype(np.float64),
                       minlength=b * N_CLASSES).reshape(b, N_CLASSES)
    m = np.stack([np.bincount(cells.ravel(), weights=(flat >= t).ravel(), minlength=b * N_CLASSES)
                  for t in grid], axis=-1).reshape(b, N_CLASSES, len(grid)).astype(np.int64)
    return Recount(n, soft, m, m.sum(axis=1), flat.astype(np.float64).sum(axis=1))
