"""Flags on short staffs sticking out of facades: stripes or a cross on a rectangle."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import Instance, Step, drawer
from cityq.synth.drawers.facade_space import sticking_out
from cityq.synth.palettes import colour


@drawer("flag", ("facade",))
def plan_flag(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    width, height = rng.uniform(1.2, 2.2) * inst.scale, rng.uniform(0.8, 1.4) * inst.scale
    X, out, width, height, z0 = sticking_out(ctx, rng, inst.area, width, height, reach=0.6, margin=1.05,
                                                max_grow=2.0)
    h = rng.uniform(4.0, 7.0)
    colours = [colour(rng, "paint") for _ in range(3)]
    pattern = rng.integers(3)  # vertical stripes, horizontal stripes, a cross
    st, label = ctx.street, ctx.label("flag")

    def paint():
        c = ctx.canvas
        xa, ya = st.project(X, h, z0)
        xb, yb = st.project(X + out * (width + 0.6), h + 0.5, z0)
        k = st.ppm(z0)
        c.segment(xa, ya, xb, yb, max(0.08 * k, 1.0), colour(rng, "metal"), label)
        fx0, fx1 = sorted((st.project(X + out * 0.5, 0, z0)[0], st.project(X + out * (0.5 + width), 0, z0)[0]))
        fy0 = yb + 0.2 * k
        ix0, iy0, xs, ys = c.grid(fx0, fy0, fx1, fy0 + height * k)
        if xs is None:
            return
        u = np.broadcast_to((xs - fx0) / max(fx1 - fx0, 1e-3), (ys.shape[0], xs.shape[1]))
        v = np.broadcast_to((ys - fy0) / max(height * k, 1e-3), u.shape)
        if pattern == 0:
            idx = np.clip((u * 3).astype(int), 0, 2)
        elif pattern == 1:
            idx = np.clip((v * 3).astype(int), 0, 2)
        else:
            idx = ((np.abs(u - 0.35) < 0.08) | (np.abs(v - 0.5) < 0.1)).astype(int)
        rgb = np.stack(colours)[idx]
        c.paint(ix0, iy0, np.ones(u.shape, bool), rgb, label)

    return [Step("facade", z0, paint)]
