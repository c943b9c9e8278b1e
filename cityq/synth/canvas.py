"""An RGB image and its label map, painted together, with clipped vectorised primitives.

Every primitive builds a boolean mask over its bounding box only, then `paint` writes colour
and label where the mask is set: the label map is exact by construction.

A canvas can leave classes out (`omit`): their paint calls still run (so every random draw of
the scene stays where it was) but write nothing, and what was painted before them shows. Beside
the drawn labels it then keeps `scene_labels`, the labels of the scene with nothing left out:
what a painter that looks at the canvas (bare earth looks for the road) and the choice between
placements must see, so that leaving one object out changes nothing else.
"""

from __future__ import annotations

import numpy as np
from PIL import Image


class Canvas:
    def __init__(self, size: int, omit: frozenset[int] = frozenset()):
        self.size = size
        self.rgb = np.zeros((size, size, 3), np.float32)
        self.labels = np.zeros((size, size), np.uint8)
        self.omit = frozenset(omit)  # ADE20K classes painted into scene_labels only
        self.scene_labels = np.zeros((size, size), np.uint8) if self.omit else self.labels

    # -- the one writer -------------------------------------------------------------------
    def paint(self, x0: int, y0: int, mask: np.ndarray, colour, label: int) -> int:
        """Write `colour` (3,) or (h, w, 3) and `label` where `mask` (h, w) placed at (x0, y0) is set.

        `colour` None writes the label alone: what shows through a see-through object keeps its colour.

        Returns the number of pixels written (after clipping to the image).
        """
        h, w = mask.shape
        ys, ye = max(y0, 0), min(y0 + h, self.size)
        xs, xe = max(x0, 0), min(x0 + w, self.size)
        if ys >= ye or xs >= xe:
            return 0
        m = mask[ys - y0 : ye - y0, xs - x0 : xe - x0]
        if self.omit:
            self.scene_labels[ys:ye, xs:xe][m] = label
            if label in self.omit:
                return int(m.sum())
        region = self.rgb[ys:ye, xs:xe]
        if colour is None:
            pass
        elif (colour := np.asarray(colour, np.float32)).ndim == 3:
            region[m] = colour[ys - y0 : ye - y0, xs - x0 : xe - x0][m]
        else:
            region[m] = colour
        self.labels[ys:ye, xs:xe][m] = label
        return int(m.sum())

    def fill_rows(self, r0: int, r1: int, rgb: np.ndarray, labels) -> None:
        """Rows [r0, r1) of the backdrop (sky, ground): classes that are never left out."""
        self.rgb[r0:r1] = rgb
        self.labels[r0:r1] = labels
        if self.omit:
            self.scene_labels[r0:r1] = labels

    def put(self, r0: int, r1: int, c0: int, c1: int, where: np.ndarray, rgb: np.ndarray, labels: np.ndarray,
            scene_labels: np.ndarray | None = None) -> None:
        """Write a whole-layer region where `where` is set; `scene_labels` (default `labels`) is
        what the scene shows with nothing left out, when the layer drew something else instead."""
        self.rgb[r0:r1, c0:c1][where] = rgb[where]
        self.labels[r0:r1, c0:c1][where] = labels[where]
        if self.omit:
            self.scene_labels[r0:r1, c0:c1][where] = (labels if scene_labels is None else scene_labels)[where]

    # -- shapes: each returns (x0, y0, mask) ----------------------------------------------
    def grid(self, x0: float, y0: float, x1: float, y1: float):
        """Integer bbox covering [x0, x1) x [y0, y1) clipped to the image, with pixel-centre grids."""
        ix0, iy0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
        ix1, iy1 = min(int(np.ceil(x1)), self.size), min(int(np.ceil(y1)), self.size)
        if ix1 <= ix0 or iy1 <= iy0:
            return ix0, iy0, None, None
        xs = np.arange(ix0, ix1, dtype=np.float32)[None, :] + 0.5
        ys = np.arange(iy0, iy1, dtype=np.float32)[:, None] + 0.5
        return ix0, iy0, xs, ys

    def rect(self, x0, y0, x1, y1, colour, label, shade: float = 0.0) -> int:
        ix0, iy0, xs, ys = self.grid(x0, y0, x1, y1)
        if xs is None:
            return 0
        mask = (xs >= x0) & (xs < max(x1, x0 + 1)) & (ys >= y0) & (ys < max(y1, y0 + 1))
        return self.paint(ix0, iy0, mask, shaded(colour, ys, y0, y1, shade, xs.shape[1]), label)

    def ellipse(self, cx, cy, rx, ry, colour, label, shade: float = 0.0) -> int:
        rx, ry = max(rx, 0.5), max(ry, 0.5)
        ix0, iy0, xs, ys = self.grid(cx - rx, cy - ry, cx + rx, cy + ry)
        if xs is None:
            return 0
        mask = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
        return self.paint(ix0, iy0, mask, shaded(colour, ys, cy - ry, cy + ry, shade, xs.shape[1]), label)

    def ring(self, cx, cy, r, thickness, colour, label) -> int:
        ix0, iy0, xs, ys = self.grid(cx - r, cy - r, cx + r, cy + r)
        if xs is None:
            return 0
        dist = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
        return self.paint(ix0, iy0, np.abs(dist - (r - thickness / 2)) <= max(thickness / 2, 0.5), colour, label)

    def segment(self, xa, ya, xb, yb, width, colour, label) -> int:
        """A thick line (capsule) from (xa, ya) to (xb, yb)."""
        r = max(width / 2, 0.5)
        ix0, iy0, xs, ys = self.grid(min(xa, xb) - r, min(ya, yb) - r, max(xa, xb) + r, max(ya, yb) + r)
        if xs is None:
            return 0
        dx, dy = xb - xa, yb - ya
        t = np.clip(((xs - xa) * dx + (ys - ya) * dy) / max(dx * dx + dy * dy, 1e-6), 0.0, 1.0)
        mask = (xs - xa - t * dx) ** 2 + (ys - ya - t * dy) ** 2 <= r * r
        return self.paint(ix0, iy0, mask, colour, label)

    def polygon(self, points, colour, label, shade: float = 0.0) -> int:
        """A convex polygon (points in either winding order)."""
        pts = np.asarray(points, np.float32)
        ix0, iy0, xs, ys = self.grid(pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max())
        if xs is None:
            return 0
        inside_pos = np.ones((ys.shape[0], xs.shape[1]), bool)
        inside_neg = inside_pos.copy()
        for (xa, ya), (xb, yb) in zip(pts, np.roll(pts, -1, axis=0)):
            cross = (xb - xa) * (ys - ya) - (yb - ya) * (xs - xa)
            inside_pos &= cross >= 0
            inside_neg &= cross <= 0
        y0, y1 = pts[:, 1].min(), pts[:, 1].max()
        return self.paint(ix0, iy0, inside_pos | inside_neg, shaded(colour, ys, y0, y1, shade, xs.shape[1]), label)


def shaded(colour, ys: np.ndarray, y0: float, y1: float, amount: float, width: int):
    """`colour` with a vertical light gradient (lighter on top) so solids read as 3-D."""
    colour = np.asarray(colour, np.float32)
    if amount == 0.0:
        return colour
    t = (ys - y0) / max(y1 - y0, 1.0)  # (h, 1): 0 at the top, 1 at the bottom
    factor = (1.0 + amount * (0.5 - t))[:, :, None]  # (h, 1, 1)
    return np.broadcast_to(np.clip(colour[None, None, :] * factor, 0, 1), (ys.shape[0], width, 3))


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Value noise in [-1, 1]: a coarse random grid, bilinearly upsampled to (h, w) by PIL (fast)."""
    grid = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1)).astype(np.float32)
    return np.asarray(Image.fromarray(grid, mode="F").resize((max(w, 1), max(h, 1)), Image.BILINEAR))
