"""Skyscrapers: far, very tall towers with a dense window grid, seen above the street's
facades. Planted in pittsburgh by default. Body and glass come from the facade and glass
palettes every building uses: it is told apart by its height and its window grid."""

from __future__ import annotations

import numpy as np

from cityq.synth.drawers import Instance, Step, drawer
from cityq.synth.palettes import colour


@drawer("skyscraper", ("skyline",))
def plan_skyscraper(ctx, rng: np.random.Generator, inst: Instance) -> list[Step]:
    st, s = ctx.street, ctx.size
    area = (inst.area if inst.area else rng.uniform(0.03, 0.08)) * s * s
    y_top = rng.uniform(0.0, 0.15) * st.vy
    # Rows of sky left visible above the facades in each column: the tower goes where it shows.
    bottom = np.minimum(np.minimum(ctx.rows["left"].top_rows(st), ctx.rows["right"].top_rows(st)), st.vy)
    visible = np.clip(bottom - y_top, 0, None)
    weights = visible**2 + 1e-6
    centre = int(rng.choice(s, p=weights / weights.sum()))
    x0, x1, got = centre, centre + 1, visible[centre]
    max_width = 0.45 * s
    while got < area and (x1 - x0) < max_width:
        if (rng.random() < 0.5 and x0 > 0) or x1 >= s:
            x0 -= 1
            got += visible[x0]
        else:
            got += visible[x1]
            x1 += 1
    dx0, dx1 = x0 - st.vx, x1 - st.vx  # relative to the vanishing point: moves with a view's camera
    body, glass = colour(rng, "facade"), colour(rng, "glass")
    floor_px = max(1.6, rng.uniform(0.012, 0.022) * s)
    bay_px = max(2.0, rng.uniform(0.02, 0.04) * s)
    side_share = rng.uniform(0.15, 0.35) * (1 if rng.random() < 0.5 else -1)
    setback = rng.random() < 0.5
    label = ctx.label("skyscraper")

    def paint():
        c = ctx.canvas
        x0, x1 = st.vx + dx0, st.vx + dx1
        ix0, iy0, xs, ys = c.grid(x0, y_top, x1, st.vy + 1)
        if xs is None:
            return
        width = x1 - x0
        u = (xs - x0) / width  # 0..1 across the tower
        mask = np.ones((ys.shape[0], xs.shape[1]), bool)
        if setback:  # the top fifth steps in
            crown = ys < y_top + 0.2 * (st.vy - y_top)
            mask &= ~(crown & ((u < 0.2) | (u > 0.8)))
        split = 1 - abs(side_share) if side_share > 0 else abs(side_share)
        in_side = (u > split) if side_share > 0 else (u < split)
        windows = (np.mod(ys - y_top, floor_px) < 0.6 * floor_px) & (np.mod(xs - x0, bay_px) < 0.6 * bay_px)
        rgb = np.where(windows[..., None], glass, body)
        rgb = np.where(in_side[..., None], rgb * 0.7, rgb)
        c.paint(ix0, iy0, mask, rgb, label)
        if rng.random() < 0.5:  # an antenna
            xm = x0 + width * 0.5
            c.rect(xm - 0.5, max(y_top - 0.06 * s, 0), xm + 0.5, y_top + 1, body * 0.6, label)

    return [Step("skyline", 0.0, paint)]
