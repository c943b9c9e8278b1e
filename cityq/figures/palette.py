"""Colours for the image figures, as small numpy tables (no matplotlib at run time).

`JET` is the colormap grad-cam's `show_cam_on_image` uses (OpenCV's COLORMAP_JET): blue for
0, red for 1. City colours follow Vega's 'tableau10', Altair's default categorical scheme, so
a city has the same colour in the t-SNE scatter (Fig 3) and the thumbnail map (Fig 4).
"""

from __future__ import annotations

import numpy as np
import torch

# Piecewise-linear jet: (position, r, g, b) knots.
_JET_KNOTS = np.array([
    [0.000, 0.0, 0.0, 0.5],
    [0.125, 0.0, 0.0, 1.0],
    [0.375, 0.0, 1.0, 1.0],
    [0.625, 1.0, 1.0, 0.0],
    [0.875, 1.0, 0.0, 0.0],
    [1.000, 0.5, 0.0, 0.0],
])


def _table(knots: np.ndarray, size: int = 256) -> np.ndarray:
    positions = np.linspace(0.0, 1.0, size)
    channels = [np.interp(positions, knots[:, 0], knots[:, c]) for c in (1, 2, 3)]
    return np.round(np.stack(channels, axis=1) * 255).astype(np.uint8)


JET = _table(_JET_KNOTS)  # (256, 3) uint8

TABLEAU10 = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b",
             "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac")


def heatmap(masks: torch.Tensor, table: np.ndarray = JET) -> torch.Tensor:
    """Masks (N,H,W) in [0,1] -> uint8 RGB (N,3,H,W) through the colour table."""
    lut = torch.from_numpy(table).to(masks.device)
    index = (masks.clamp(0, 1) * (len(table) - 1)).round().long()
    return lut[index].permute(0, 3, 1, 2).contiguous()


def city_colours(cities) -> dict[str, tuple[int, int, int]]:
    """Sorted city -> RGB, the i-th city taking the i-th tableau10 colour (cycling)."""
    out = {}
    for i, city in enumerate(sorted(set(cities))):
        hex_colour = TABLEAU10[i % len(TABLEAU10)]
        out[city] = tuple(int(hex_colour[k:k + 2], 16) for k in (1, 3, 5))
    return out
