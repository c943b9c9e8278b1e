"""Striped awnings over shop fronts (shared)."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import Instance, Step, drawer
from cityq.synth.drawers.facade_space import facade_spot
from cityq.synth.palettes import colour


@drawer("awning", ("facade",))
def plan_awning(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    length = rng.uniform(2.5, 8.0) * inst.scale
    side, X, z0, z1, _ = facade_spot(ctx, rng, length)
    depth = rng.uniform(0.7, 1.4) * (1 if side == "left" else -1)  # sticks out towards the road
    top, low = rng.uniform(3.0, 3.5), rng.uniform(2.3, 2.7)
    colours = [colour(rng, "paint"), colour(rng, "paint")]
    stripes = int(rng.integers(3, 9)) if rng.random() < 0.7 else 1
    st, label = ctx.street, ctx.label("awning")

    def paint():
        P = st.project
        edges = np.linspace(z0, z1, stripes + 1)
        for i in range(stripes):
            za, zb = edges[i], edges[i + 1]
            ctx.canvas.polygon([P(X, top, za), P(X, top, zb), P(X + depth, low, zb), P(X + depth, low, za)],
                               colours[i % 2], label)
        # The valance: a vertical strip hanging from the outer edge.
        ctx.canvas.polygon([P(X + depth, low, z0), P(X + depth, low, z1), P(X + depth, low - 0.25, z1),
                            P(X + depth, low - 0.25, z0)], colours[0] * 0.8, label)

    return [Step("facade", z0, paint)]
