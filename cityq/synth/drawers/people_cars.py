"""Persons on the sidewalks and cars on the road (shared objects)."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import Instance, Step, depth_for_area, drawer, log_uniform, sidewalk_spot
from cityq.synth.palettes import colour


@drawer("person", ("ground",))
def plan_person(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    height = rng.uniform(1.55, 1.9) * inst.scale
    if inst.area:
        z = depth_for_area(ctx, inst.area, height * 0.3, height, 0.8)
        X, _, _ = sidewalk_spot(ctx, rng)
    else:
        X, z, _ = sidewalk_spot(ctx, rng, z_lo=3.5)
    st, label = ctx.street, ctx.label("person")
    top, trousers, skin = colour(rng, "clothing"), colour(rng, "clothing"), colour(rng, "skin")
    stride = rng.uniform(-0.12, 0.12)

    def paint():
        c = ctx.canvas
        xf, yf = st.project(X, 0, z)
        H = height * st.ppm(z)
        w = 0.09 * H
        for sign in (-1, 1):  # legs, slightly apart when walking
            c.segment(
                xf + sign * 0.05 * H, yf - 0.47 * H, xf + sign * (0.05 + stride) * H, yf - w / 2, w, trousers, label
            )
        c.rect(xf - 0.14 * H, yf - 0.8 * H, xf + 0.14 * H, yf - 0.44 * H, top, label, shade=0.3)
        for sign in (-1, 1):
            c.segment(xf + sign * 0.15 * H, yf - 0.77 * H, xf + sign * 0.18 * H, yf - 0.48 * H, 0.065 * H, top, label)
        c.ellipse(xf, yf - 0.88 * H, 0.065 * H, 0.08 * H, skin, label)
        c.ellipse(xf, yf - 0.93 * H, 0.068 * H, 0.04 * H, colour(rng, "clothing") * 0.5, label)

    return [Step("standing", z, paint)]


@drawer("car", ("ground",))
def plan_car(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    st = ctx.street
    width, height, length = 1.8 * inst.scale, 1.45 * inst.scale, 4.3 * inst.scale
    parked = rng.random() < 0.5
    if parked:
        side = rng.random() < 0.5
        X = (st.road_l + 0.2 + width / 2) if side else (st.road_r - 0.2 - width / 2)
    else:
        X = rng.uniform(st.road_l + 1.1, st.road_r - 1.1)
    z_lo = max(4.0, st.min_visible_z(X) * 0.7)
    z = depth_for_area(ctx, inst.area, width, height, 0.9) if inst.area else log_uniform(rng, z_lo, 70)
    body, glass, label = colour(rng, "paint"), colour(rng, "glass") * 0.8, ctx.label("car")
    tyre = np.array([0.08, 0.08, 0.09], np.float32)
    near = X - width / 2 if X > 0 else X + width / 2  # the side facing the camera's axis
    far_x = X + width / 2 if X > 0 else X - width / 2

    def paint():
        c, P = ctx.canvas, st.project
        # Side first (it is farther than the rear face), then the rear.
        c.polygon(
            [P(near, 0.3, z), P(near, 0.3, z + length), P(near, 0.95, z + length), P(near, 0.95, z)], body * 0.8, label
        )
        c.polygon(
            [
                P(near * 0.95, 0.95, z + 0.5),
                P(near * 0.95, 0.95, z + length - 0.8),
                P(near * 0.9, 1.4 * inst.scale, z + length - 1.2),
                P(near * 0.9, 1.4 * inst.scale, z + 1.0),
            ],
            glass,
            label,
        )
        for zz in (z + 0.7, z + length - 0.8):
            x0, y0 = P(near, 0.6, zz)
            x1, y1 = P(near, 0.0, zz + 0.6)
            c.rect(min(x0, x1), y0, max(x0, x1) + 1, y1, tyre, label)
        xa, ya = P(min(near, far_x), height, z)
        xb, yb = P(max(near, far_x), 0.3, z)
        inset = 0.12 * (xb - xa)
        c.polygon(
            [(xa + inset, ya), (xb - inset, ya), (xb, ya + 0.35 * (yb - ya)), (xa, ya + 0.35 * (yb - ya))],
            body * 0.95,
            label,
        )
        c.rect(xa + 1.3 * inset, ya + 0.06 * (yb - ya), xb - 1.3 * inset, ya + 0.3 * (yb - ya), glass, label)
        c.rect(xa, ya + 0.35 * (yb - ya), xb, yb, body, label, shade=0.25)
        light_y = ya + 0.45 * (yb - ya)
        for xl in (xa + 0.03 * (xb - xa), xb - 0.15 * (xb - xa)):
            c.rect(xl, light_y, xl + 0.12 * (xb - xa), light_y + 0.1 * (yb - ya), (0.8, 0.1, 0.1), label)
        xt0, yt0 = P(min(near, far_x) + 0.1, 0.35, z)
        xt1, yt1 = P(max(near, far_x) - 0.1, 0.0, z)
        c.rect(xt0, yt0, xt0 + 0.18 * (xt1 - xt0), yt1, tyre, label)
        c.rect(xt1 - 0.18 * (xt1 - xt0), yt0, xt1, yt1, tyre, label)

    return [Step("standing", z, paint)]
