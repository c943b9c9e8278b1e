"""The explanation's mean area fraction against the threshold.

The area depends on the masks only, not on the segmenter the counts used, so a model ingested
with two segmenters is drawn once (its rows for each segmenter are the same numbers).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import PAGE_WIDTH, city_color, configure, panel_width


@register_chart("explanation area")
def explanation_area(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    data = frame.sort_values([c for c in ("model", "segmenter", "city", "threshold") if c in frame])
    data = data.drop_duplicates(["model", "city", "threshold"])
    columns = min(4, data["model"].nunique())
    chart = (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("threshold:Q", title="Threshold t", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("mean_area:Q", title="Area", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=city_color(data),
            tooltip=["model", "city", alt.Tooltip("threshold:Q", format=".2f"),
                     alt.Tooltip("mean_area:Q", format=".1%"), "n_images:Q"],
        )
        .properties(width=panel_width(width, columns, label_space=60), height=130)
        .facet(facet=alt.Facet("model:N", title=None), columns=columns)
        .properties(title=alt.Title("Explanation area against the threshold", subtitle=[
            "Mean share of the image inside the explanation (mask >= t), per model and city."]))
    )
    return configure(chart)
