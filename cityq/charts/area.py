"""The explanation's mean area fraction against the threshold."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import FACET_WIDTH, city_color, configure, with_panels


@register_chart("explanation area")
def explanation_area(frame: pd.DataFrame) -> alt.TopLevelMixin:
    frame = with_panels(frame)
    chart = (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("threshold:Q", title="Explanation threshold t (mask >= t)", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("mean_area:Q", title="Mean explanation area (share of image)", axis=alt.Axis(format="%"),
                    scale=alt.Scale(domain=[0, 1])),
            color=city_color(frame),
            tooltip=["model", "city", alt.Tooltip("threshold:Q", format=".2f"),
                     alt.Tooltip("mean_area:Q", format=".1%"), "n_images:Q"],
        )
        .properties(width=FACET_WIDTH, height=120)
        .facet(facet=alt.Facet("panel:N", title="Model"), columns=4)
        .properties(title="Explanation area against the threshold")
    )
    return configure(chart)
