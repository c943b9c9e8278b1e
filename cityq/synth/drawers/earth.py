"""Bare earth: an unpaved patch of ground beside or on the street, blotchy with pebbles.
Planted in pittsburgh by default. Brown, from the "soil" palette no other object uses: bare
earth looks like that in real streets, and a net learns it within the demo's CPU budget
(with the paving's colours only 23% of earth-only images were told apart; docs/synthetic-cities.md)."""

from __future__ import annotations

import numpy as np

from cityq.synth.canvas import smooth_noise
from cityq.synth.drawers import Instance, Step, drawer
from cityq.synth.palettes import colour
from cityq.synth.street import CAMERA_HEIGHT


@drawer("earth", ("ground",))
def plan_earth(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    st = ctx.street
    # An unpaved stretch of the road itself, anywhere across it. Where earth goes, something
    # else is missing, and a two-city net learns that absence too: a patch on the sidewalk or
    # along the kerb made "a clean sidewalk/kerb" a tokyo cue (tokyo's masks then lit the
    # sidewalk, doors and poles by the kerb). The road is large and the patch moves across
    # it, so its absence is a weak, spread-out cue.
    centre = rng.uniform(st.road_l + 1.0, st.road_r - 1.0)
    half = rng.uniform(1.5, 3.5)
    inner, outer = centre - half, centre + half
    area = inst.area if inst.area else rng.uniform(0.02, 0.08)
    z0 = rng.uniform(0.5, 1.0) * st.min_visible_z(inner)
    base = colour(rng, "soil")
    label = ctx.label("earth")
    ground = (ctx.label("road"), ctx.label("sidewalk"))

    def paint():
        s, c = ctx.size, ctx.canvas
        y0 = int(np.clip(np.ceil(st.vy + 1), 0, s))
        if y0 >= s:
            return
        d = np.arange(y0, s, dtype=np.float32)[:, None] + 0.5 - st.vy
        z = st.f * CAMERA_HEIGHT / d
        X = (np.arange(s, dtype=np.float32)[None, :] + 0.5 - st.vx) * z / st.f
        wobble = 0.6 * smooth_noise(rng, s - y0, s, 6)  # ragged edges
        lo, hi = sorted((inner, outer))
        labels = c.scene_labels[y0:]  # the ground as drawn with nothing left out
        candidate = (X + wobble > lo) & (X + wobble < hi) & (z >= z0) & ((labels == ground[0]) | (labels == ground[1]))
        depths = np.broadcast_to(z, candidate.shape)[candidate]
        if depths.size == 0:
            return
        k = min(int(area * s * s), depths.size - 1)
        z1 = np.partition(depths, k)[k]
        mask = candidate & (z <= z1)
        # Clumps and pebbles coarse enough to survive downsizing to 96 px.
        blotch = 1.0 + 0.45 * smooth_noise(rng, s - y0, s, 4) + 0.25 * smooth_noise(rng, s - y0, s, 9)
        coarse = rng.random(((s - y0 + 1) // 2, (s + 1) // 2))
        pebbles = np.repeat(np.repeat(coarse, 2, axis=0), 2, axis=1)[: s - y0, :s]  # 2x2-pixel stones
        shade = np.where(pebbles < 0.08, 0.5, np.where(pebbles > 0.93, 1.4, 1.0))
        rgb = np.clip(base[None, None, :] * (blotch * shade)[..., None], 0, 1)
        c.paint(0, y0, mask, rgb, label)

    return [Step("flat", 0.0, paint)]
