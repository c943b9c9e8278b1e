"""Placing things flat on a facade or on the ground plane, in world units, with per-pixel
coordinates of the patch (so lettering, bars and textures follow the perspective)."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import depth_for_area
from cityq.synth.street import CAMERA_HEIGHT


def facade_spot(ctx, rng: np.random.Generator, length: float, z: float | None = None, side: str | None = None):
    """(side, X, z0, z1, wall height) of a stretch of visible facade about `length` m long."""
    st = ctx.street
    side = side or ("left" if rng.random() < 0.5 else "right")
    row = ctx.rows[side]
    z_lo = st.min_visible_z(row.X) * 1.05
    z_hi = max(st.far(side) * 0.5, z_lo + length)
    z0 = float(np.clip(z if z is not None else np.exp(rng.uniform(np.log(z_lo), np.log(min(z_hi, 40.0)))),
                       z_lo, z_hi))
    b = row.building_at(np.array([z0 + length / 2]))[0]
    return side, row.X, z0, z0 + length, float(row.heights[b])


def sticking_out(ctx, rng: np.random.Generator, area: float | None, width: float, height: float,
                 reach: float, margin: float, max_grow: float):
    """(X, out, width, height, z0) of a board `width` x `height` m facing the camera that
    sticks out of a facade (a blade sign, a flag), its near edge `reach` m from the wall; `out`
    is +1 on the left facade, -1 on the right. With an `area` (a fraction of the image) it is set
    at the depth that gives it that area; if that is too close to be in the picture (inside
    `margin` x the nearest visible depth), it grows, up to `max_grow`, and moves out as far."""
    side = "left" if rng.random() < 0.5 else "right"
    X = ctx.rows[side].X
    out = 1.0 if side == "left" else -1.0
    z = None
    if area:
        z = depth_for_area(ctx, area, width, height, 1.0)
        z_in = ctx.street.min_visible_z(X + out * (reach + width)) * margin
        if z < z_in:
            grow = min(z_in / z, max_grow)
            width, height, z = width * grow, height * grow, z * grow
    _, _, z0, _, _ = facade_spot(ctx, rng, 0.5, z, side)
    return X, out, width, height, z0


def facade_patch(ctx, X: float, z0: float, z1: float, h0: float, h1: float):
    """Pixels of the facade rectangle z in [z0, z1], height in [h0, h1] on the plane at X.

    Returns (x0, y0, mask, p, q) with p, q in [0, 1] along the street and upwards, or None.
    """
    st, c = ctx.street, ctx.canvas
    corners = [st.project(X, h, z) for h in (h0, h1) for z in (z0, z1)]
    xs_, ys_ = [p[0] for p in corners], [p[1] for p in corners]
    ix0, iy0, xs, ys = c.grid(min(xs_), min(ys_), max(xs_), max(ys_))
    if xs is None:
        return None
    dx = xs - st.vx
    z = st.f * X / np.where(np.abs(dx) < 1e-3, 1e-3, dx)
    h = CAMERA_HEIGHT - (ys - st.vy) * z / st.f
    p = (z - z0) / (z1 - z0)
    q = (h - h0) / (h1 - h0)
    mask = (p >= 0) & (p < 1) & (q >= 0) & (q < 1) & (z > 0)
    return ix0, iy0, mask, np.broadcast_to(p, mask.shape), q


def glyph_ink(rng: np.random.Generator, p: np.ndarray, q: np.ndarray, cells: int, along_p: bool) -> np.ndarray:
    """Lettering: `cells` glyphs in a row (along p) or a column (along q), each a random 3x4
    stroke pattern inside a margin: the structure that makes a board read as a sign."""
    bits = rng.random((cells, 4, 3)) < 0.5
    bits[:, 1, 1] = True  # every glyph has a body
    long, short = (p, q) if along_p else (1 - q, p)
    t = long * cells
    cell = np.clip(t.astype(int), 0, cells - 1)
    u, v = t - cell, short  # position inside the cell
    inside = (u > 0.15) & (u < 0.85) & (v > 0.15) & (v < 0.85)
    gx = np.clip(((u - 0.15) / 0.7 * 3).astype(int), 0, 2)
    gy = np.clip(((v - 0.15) / 0.7 * 4).astype(int), 0, 3)
    return inside & bits[cell, gy, gx]
