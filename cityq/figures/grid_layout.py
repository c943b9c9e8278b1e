"""Snap 2-D points to the cells of a grid, one point per cell, keeping the map's shape.

An optimal assignment (scipy's linear_sum_assignment, squared distance from each point to the
cell centres) rather than greedy nearest-free-cell: greedy placement pushes late points far
from where t-SNE put them, and the assignment is fast for the few thousand thumbnails a
figure can show.
"""

from __future__ import annotations

import math

import numpy as np

SLACK = 1.3  # cells per point: some empty cells let clusters keep their gaps


def grid_shape(xy: np.ndarray, slack: float = SLACK) -> tuple[int, int]:
    """(cols, rows) with at least slack*N cells, following the map's aspect ratio."""
    n = len(xy)
    span = np.ptp(xy, axis=0) if n else np.ones(2)
    aspect = float(span[0] / span[1]) if span[1] > 0 and span[0] > 0 else 1.0
    aspect = min(max(aspect, 0.25), 4.0)
    cells = max(n, math.ceil(n * slack))
    cols = max(1, round(math.sqrt(cells * aspect)))
    rows = max(1, math.ceil(cells / cols))
    while cols * rows < n:
        rows += 1
    return cols, rows


def snap_to_grid(xy: np.ndarray, cols: int, rows: int) -> np.ndarray:
    """Integer (col, row) per point, all distinct; row 0 is the top (largest y)."""
    from scipy.optimize import linear_sum_assignment

    xy = np.asarray(xy, dtype=np.float64)
    if len(xy) > cols * rows:
        raise ValueError(f"{len(xy)} points do not fit a {cols}x{rows} grid")
    if len(xy) == 0:
        return np.zeros((0, 2), dtype=np.int64)
    low, span = xy.min(axis=0), np.ptp(xy, axis=0)
    unit = (xy - low) / np.where(span > 0, span, 1.0)  # [0,1]^2
    target = np.stack([unit[:, 0] * (cols - 1), (1.0 - unit[:, 1]) * (rows - 1)], axis=1)
    cc, rr = np.meshgrid(np.arange(cols), np.arange(rows), indexing="xy")
    centres = np.stack([cc.ravel(), rr.ravel()], axis=1).astype(np.float64)
    cost = ((target[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    points, cells = linear_sum_assignment(cost)
    out = np.empty((len(xy), 2), dtype=np.int64)
    out[points] = centres[cells].astype(np.int64)
    return out
