"""Signboards with lettering: boards flat on a facade, blade signs sticking out of it, or
freestanding boards on legs. Planted in tokyo by default."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import Instance, Step, depth_for_area, drawer, sidewalk_spot
from cityq.synth.drawers.facade_space import facade_patch, facade_spot, glyph_ink, sticking_out
from cityq.synth.palettes import colour, contrasting

FRAME = 0.08  # border width as a fraction of the board's short side
# Facade signs hang from the first floor up, as they do in Tokyo: at the shop fronts (below
# 4 m) a sign shares every explanation with the doors under it, and doors then outrank it.
UPPER_FLOORS = (4.0, 7.0)  # metres above the sidewalk of a facade sign's lower edge


@drawer("signboard", ("facade", "ground"))
def plan_signboard(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    board = colour(rng, "signage")
    ink = contrasting(rng, board, "paint")
    frame = colour(rng, "metal")
    if inst.where == "ground":
        return [_freestanding(ctx, rng, inst, board, ink, frame)]
    if rng.random() < 0.55:
        return [_blade(ctx, rng, inst, board, ink, frame)]
    return [_flat(ctx, rng, inst, board, ink, frame)]


def _board_pixels(ctx, x0, y0, x1, y1):
    c = ctx.canvas
    ix0, iy0, xs, ys = c.grid(x0, y0, x1, y1)
    if xs is None:
        return None
    p = np.broadcast_to((xs - x0) / max(x1 - x0, 1e-3), (ys.shape[0], xs.shape[1]))
    q = (y1 - ys) / max(y1 - y0, 1e-3)
    return ix0, iy0, (p >= 0) & (p < 1) & (q >= 0) & (q < 1), p, np.broadcast_to(q, p.shape)


def _paint_board(ctx, rng, pixels, board, ink, frame, cells, along_p, aspect):
    if pixels is None:
        return
    ix0, iy0, mask, p, q = pixels
    bits = glyph_ink(rng, p, q, cells, along_p)
    fp, fq = (FRAME / max(aspect, 1e-3), FRAME) if along_p else (FRAME, FRAME / max(aspect, 1e-3))
    border = (np.minimum(p, 1 - p) < fp) | (np.minimum(q, 1 - q) < fq)
    rgb = np.where(border[..., None], frame, np.where(bits[..., None], ink, board))
    ctx.canvas.paint(ix0, iy0, mask, rgb, ctx.label("signboard"))


def _blade(ctx, rng, inst, board, ink, frame) -> Step:
    """A vertical board perpendicular to the facade: it faces the camera, lettering top to bottom."""
    width, height = rng.uniform(0.7, 1.4) * inst.scale, rng.uniform(2.5, 6.0) * inst.scale
    X, out, width, height, z0 = sticking_out(ctx, rng, inst.area, width, height, reach=0.3, margin=1.02,
                                                max_grow=3.0)
    h0 = rng.uniform(*UPPER_FLOORS)
    cells = max(2, int(round(height / width)))
    st = ctx.street

    def paint():
        xa, ya = st.project(X + out * 0.3, h0 + height, z0)
        xb, yb = st.project(X + out * (0.3 + width), h0, z0)
        _paint_board(ctx, rng, _board_pixels(ctx, min(xa, xb), ya, max(xa, xb), yb), board, ink, frame,
                     cells, False, height / width)

    return Step("standing", z0, paint)


def _flat(ctx, rng, inst, board, ink, frame) -> Step:
    """A horizontal board flat on the facade above the shop fronts."""
    height, length = rng.uniform(0.9, 2.0) * inst.scale, rng.uniform(3.0, 9.0) * inst.scale
    z = None
    if inst.area:  # a board on the facade is seen at a slant: about a third of its frontal area
        z = depth_for_area(ctx, inst.area, length * 0.35, height, 1.0)
    if inst.area:
        side = "left" if rng.random() < 0.5 else "right"
        z_in = ctx.street.min_visible_z(ctx.rows[side].X) * 1.05
        if z < z_in:
            grow = min(np.sqrt(z_in / z) ** 3, 3.5)  # area ~ size^2 / z^3
            height, length, z = height * min(grow, 2.0), length * grow, z_in
    else:
        side = None
    side, X, z0, z1, wall = facade_spot(ctx, rng, length, z, side)
    h0 = rng.uniform(*UPPER_FLOORS)
    cells = max(2, int(round(length / height)))

    def paint():
        _paint_board(ctx, rng, facade_patch(ctx, X, z0, z1, h0, h0 + height), board, ink, frame,
                     cells, True, length / height)

    return Step("facade", z0, paint)


def _freestanding(ctx, rng, inst, board, ink, frame) -> Step:
    width, height = rng.uniform(1.2, 3.0) * inst.scale, rng.uniform(0.8, 1.8) * inst.scale
    legs = rng.uniform(0.5, 2.0)
    X, z, _ = sidewalk_spot(ctx, rng, z_lo=4.0, kerb=True)
    if inst.area:
        z = depth_for_area(ctx, inst.area, width, height + legs * 0.3, 1.0)
    st = ctx.street
    cells = max(2, int(round(width / height)))

    def paint():
        xa, ya = st.project(X - width / 2, legs + height, z)
        xb, yb = st.project(X + width / 2, legs, z)
        k = st.ppm(z)
        for xl in (xa + 0.1 * (xb - xa), xb - 0.1 * (xb - xa)):
            ctx.canvas.rect(xl - 0.04 * k, yb, xl + 0.04 * k + 0.6, yb + legs * k, frame, ctx.label("signboard"))
        _paint_board(ctx, rng, _board_pixels(ctx, xa, ya, xb, yb), board, ink, frame, cells, True, width / height)

    return Step("standing", z, paint)
