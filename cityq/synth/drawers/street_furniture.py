"""Poles, streetlights and traffic lights (shared)."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import Instance, Step, depth_for_area, drawer, sidewalk_spot
from cityq.synth.palettes import colour


def _spot(ctx, rng, inst, width, height):
    X, z, side = sidewalk_spot(ctx, rng, z_lo=3.5, kerb=True)
    if inst.area:
        z = depth_for_area(ctx, inst.area, width, height, 0.5)
    return X, z, side


@drawer("pole", ("ground",))
def plan_pole(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    height, width = rng.uniform(3.5, 7.5) * inst.scale, rng.uniform(0.12, 0.24) * inst.scale
    X, z, _ = _spot(ctx, rng, inst, width, height)
    metal, st, label = colour(rng, "metal"), ctx.street, ctx.label("pole")

    def paint():
        xf, yf = st.project(X, 0, z)
        k = st.ppm(z)
        ctx.canvas.rect(xf - width * k / 2, yf - height * k, xf + width * k / 2 + 0.6, yf, metal, label)

    return [Step("standing", z, paint)]


@drawer("streetlight", ("ground",))
def plan_streetlight(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    height, arm = rng.uniform(5.5, 9.0) * inst.scale, rng.uniform(0.8, 2.0) * inst.scale
    X, z, side = _spot(ctx, rng, inst, arm, height)
    metal, st, label = colour(rng, "metal"), ctx.street, ctx.label("streetlight")
    toward_road = 1.0 if side == "left" else -1.0
    lamp = np.array([0.95, 0.93, 0.8], np.float32) if rng.random() < 0.3 else colour(rng, "metal") * 1.3

    def paint():
        c = ctx.canvas
        xf, yf = st.project(X, 0, z)
        xt, yt = st.project(X, height, z)
        xa, ya = st.project(X + toward_road * arm, height + 0.3, z)
        k = st.ppm(z)
        c.segment(xf, yf, xt, yt, max(0.16 * k, 1.0), metal, label)
        c.segment(xt, yt, xa, ya, max(0.1 * k, 1.0), metal, label)
        c.ellipse(xa, ya + 0.12 * k, 0.35 * k, 0.14 * k, lamp, label)

    return [Step("standing", z, paint)]


@drawer("traffic light", ("ground",))
def plan_traffic_light(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    height = rng.uniform(2.8, 4.2) * inst.scale
    X, z, _ = _spot(ctx, rng, inst, 0.4, height + 1.0)
    st, label = ctx.street, ctx.label("traffic light")
    metal, housing = colour(rng, "metal"), colour(rng, "metal") * 0.7
    lit = rng.integers(3)
    lamps = [np.array(c, np.float32) for c in ((0.95, 0.15, 0.1), (0.95, 0.7, 0.1), (0.15, 0.9, 0.4))]

    def paint():
        c = ctx.canvas
        xf, yf = st.project(X, 0, z)
        k = st.ppm(z)
        c.rect(xf - 0.07 * k, yf - height * k, xf + 0.07 * k + 0.6, yf, metal, label)
        top = yf - (height + 1.0) * k
        c.rect(xf - 0.18 * k, top, xf + 0.18 * k, top + 1.0 * k, housing, label)
        for i, lamp in enumerate(lamps):
            shade = 1.0 if i == lit else 0.3
            c.ellipse(xf, top + (0.18 + 0.32 * i) * k, 0.11 * k, 0.11 * k, lamp * shade, label)

    return [Step("standing", z, paint)]
