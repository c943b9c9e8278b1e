"""Bicycles parked in a rack on the sidewalk, seen side on: two wheels and a frame."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import Instance, Step, depth_for_area, drawer, sidewalk_spot
from cityq.synth.palettes import colour

WHEEL = 0.34  # m


@drawer("bicycle", ("ground",))
def plan_bicycle(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    scale = inst.scale
    X, z, side = sidewalk_spot(ctx, rng, z_lo=3.5)
    if inst.area:  # planted: parked along the road's edge, where they can be near the camera
        st = ctx.street
        X = (
            st.road_l + rng.uniform(0.5, 1.5) if side == "left" else st.road_r - rng.uniform(0.5, 1.5)
        )  # wheels and frame fill about a fifth of the bounding box
        z = depth_for_area(ctx, inst.area, 1.7 * scale, 1.05 * scale, 0.2)
        z_in = ctx.street.min_visible_z(X) * 1.1
        if z < z_in:  # too close to be in the picture: a bit bigger, as near as it can be
            scale, z = scale * min(z_in / z, 1.4), z_in
    frame = colour(rng, "paint") if rng.random() < 0.6 else colour(rng, "metal")
    tyre = colour(rng, "metal") * 0.5
    facing = 1.0 if rng.random() < 0.5 else -1.0
    st, label = ctx.street, ctx.label("bicycle")

    def paint():
        c = ctx.canvas
        xf, yf = st.project(X, 0, z)
        k = st.ppm(z) * scale
        r = WHEEL * k
        rear = (xf - facing * 0.52 * k, yf - r)
        front = (xf + facing * 0.52 * k, yf - r)
        for cx, cy in (rear, front):
            c.ring(cx, cy, r, max(0.06 * k, 1.0), tyre, label)
        crank = (xf - facing * 0.05 * k, yf - r)
        seat = (xf - facing * 0.2 * k, yf - 0.95 * k)
        head = (xf + facing * 0.42 * k, yf - 0.92 * k)
        w = max(0.045 * k, 1.0)
        for a, b in ((rear, crank), (rear, seat), (crank, seat), (seat, head), (crank, head), (head, front)):
            c.segment(a[0], a[1], b[0], b[1], w, frame, label)
        c.segment(seat[0] - 0.1 * k, seat[1] - 0.03 * k, seat[0] + 0.1 * k, seat[1] - 0.03 * k, w * 1.6, tyre, label)
        c.segment(head[0], head[1], head[0] - facing * 0.12 * k, head[1] - 0.1 * k, w, tyre, label)

    return [Step("standing", z, paint)]
