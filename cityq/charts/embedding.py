"""Fig 3 of the paper: the t-SNE map of each model's masks, coloured by city.

Registered under the 'embedding' query (another module ships it); harmless when it is absent.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import PAGE_WIDTH, city_color, configure, panel_width


@register_chart("embedding")
def embedding(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    data = frame
    if "method" in data and data["method"].nunique() > 1:  # one method per panel keeps it readable
        data = data[data["method"] == sorted(data["method"].unique())[0]]
    side = min(260, panel_width(width, min(4, data["model"].nunique()), label_space=40))
    chart = (
        alt.Chart(data)
        .mark_circle(size=14, opacity=0.7)
        .encode(
            x=alt.X("x:Q", title="t-SNE 1", axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("y:Q", title="t-SNE 2", axis=alt.Axis(labels=False, ticks=False)),
            color=city_color(data),
            tooltip=["model", "city", "image_id"],
        )
        .properties(width=side, height=side)
        .facet(facet=alt.Facet("model:N", title="Model"), columns=4)
        .resolve_scale(x="independent", y="independent")
        .properties(title="t-SNE of the Grad-CAM masks, coloured by city")
    )
    return configure(chart)
