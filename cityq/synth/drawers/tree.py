"""Street trees along the kerb (shared)."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import Instance, Step, depth_for_area, drawer, sidewalk_spot
from cityq.synth.palettes import colour


@drawer("tree", ("ground",))
def plan_tree(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    trunk_h, radius = rng.uniform(1.8, 3.5) * inst.scale, rng.uniform(1.3, 2.8) * inst.scale
    X, z, _ = sidewalk_spot(ctx, rng, z_lo=4.0, kerb=True)
    if inst.area:
        z = depth_for_area(ctx, inst.area, 2 * radius, trunk_h + 2 * radius, 0.7)
    st, label = ctx.street, ctx.label("tree")
    bark, leaves = colour(rng, "bark"), colour(rng, "foliage")
    blobs = [(rng.normal(0, 0.45), rng.normal(0, 0.35), rng.uniform(0.55, 0.85), rng.uniform(0.75, 1.15))
             for _ in range(rng.integers(4, 8))]
    trunk_w = rng.uniform(0.22, 0.4) * inst.scale

    def paint():
        c = ctx.canvas
        xf, yf = st.project(X, 0, z)
        k = st.ppm(z)
        c.rect(
            xf - trunk_w * k / 2, yf - (trunk_h + radius * 0.5) * k, xf + trunk_w * k / 2, yf, bark, label, shade=0.2
        )
        cy = yf - (trunk_h + radius * 0.8) * k
        for dx, dy, r, light in blobs:
            c.ellipse(
                xf + dx * radius * k,
                cy + dy * radius * k,
                r * radius * k,
                r * radius * k * 0.9,
                np.clip(leaves * light, 0, 1),
                label,
                shade=0.4,
            )

    return [Step("standing", z, paint)]
