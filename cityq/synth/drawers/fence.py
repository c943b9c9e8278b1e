"""Fences: bars or mesh between rails, along the kerb or in front of the facades. Planted in
tokyo by default. The whole outline is labelled fence, as ADE20K's annotators draw it: what
shows between the bars keeps its colour but not its label (otherwise the sidewalk seen through
a fence shares every pixel of the fence's explanation)."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import Instance, Step, drawer
from cityq.synth.drawers.facade_space import facade_patch
from cityq.synth.palettes import colour


@drawer("fence", ("ground",))
def plan_fence(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    st = ctx.street
    nearer = "left" if -st.road_l < st.road_r else "right"  # the kerb nearer the camera
    side = nearer if rng.random() < 0.7 else ("right" if nearer == "left" else "left")
    sign = -1.0 if side == "left" else 1.0
    kerb, wall = (st.road_l, st.walk_l) if side == "left" else (st.road_r, st.walk_r)
    X = kerb + sign * 0.25 if rng.random() < 0.8 else wall - sign * 0.3
    height = rng.uniform(2.0, 3.2) * inst.scale
    z0 = st.min_visible_z(X) * rng.uniform(0.6, 1.0)  # starts at or beyond the image edge
    style = "bars" if rng.random() < 0.6 else "mesh"
    area = inst.area if inst.area else rng.uniform(0.02, 0.08)
    # Projected area of a fence from z to z1: height * f^2 * |X| * (1/z0^2 - 1/z1^2) / 2.
    z_in = max(z0, st.min_visible_z(X))
    inv = 1 / z_in**2 - 2 * area * ctx.size**2 / (height * st.f**2 * abs(X))
    # A stretch of fence, not a line to the horizon: the far end of a long fence lies outside any
    # explanation and drags the fence's R_pc below that of the small objects standing by it.
    z1 = max(min(1 / np.sqrt(inv) if inv > 0 else 150.0, z_in + rng.uniform(8.0, 16.0)), z_in + 3.0)
    pitch = rng.uniform(0.3, 0.6)  # coarse enough to stay visible at 96-128 px
    metal = colour(rng, "railing") if rng.random() < 0.6 else colour(rng, "paint")
    label = ctx.label("fence")

    def paint():
        patch = facade_patch(ctx, X, z0, z1, 0.0, height)
        if patch is None:
            return
        ix0, iy0, mask, p, q = patch
        z = z0 + p * (z1 - z0)
        h = q * height
        rails = (h > height - 0.12) | (np.abs(h - 0.15) < 0.06)
        posts = np.mod(z, 2.5) < 0.12
        if style == "bars":
            infill = np.mod(z, pitch) < 0.55 * pitch
        else:
            infill = (np.mod(z + h, pitch * 2) < 0.3 * pitch) | (np.mod(z - h, pitch * 2) < 0.3 * pitch)
        ink = mask & (rails | posts | infill)
        rgb = metal * (0.85 + 0.3 * q[..., None])
        ctx.canvas.paint(ix0, iy0, ink, rgb, label)
        ctx.canvas.paint(ix0, iy0, mask, None, label)

    return [Step("standing", z0, paint)]
