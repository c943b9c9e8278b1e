"""The object filter: each object's mean pixels per image, the bar, and which objects pass."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import FACET_WIDTH, ROW_STEP, configure


@register_chart("objects")
def objects(frame: pd.DataFrame) -> alt.TopLevelMixin:
    # N depends on the segmentation, not the model: one model's rows show the filter.
    first = sorted(frame["model"].unique())[0]
    data = frame[frame["model"] == first]
    bar = float(data["min_mean_pixels"].iloc[0])
    n_rows = int(data.groupby("city").size().max())
    scale = alt.Scale(domain=[True, False], range=["#4c78a8", "#bab0ac"])
    base = alt.Chart().encode(
        y=alt.Y("object:N", sort=alt.EncodingSortField("mean_pixels", op="max", order="descending"), title=None))
    bars = base.mark_bar().encode(
        x=alt.X("mean_pixels:Q", title="Mean pixels per image (zeros incl.)", scale=alt.Scale(type="log"), stack=None,
                  axis=alt.Axis(tickCount=4, format="~s")),
        color=alt.Color("passes:N", title="Passes the filter", scale=scale, legend=alt.Legend(orient="top")),
        tooltip=["city", "object", alt.Tooltip("mean_pixels:Q", format=",.1f"), "n_images_with:Q", "n_images:Q",
                 "passes:N"],
    )
    rule = base.mark_rule(color="#e45756", strokeDash=[4, 2]).encode(x=alt.X("min_mean_pixels:Q", stack=None))
    chart = (
        alt.layer(bars, rule, data=data)
        .properties(width=FACET_WIDTH, height=ROW_STEP * n_rows)
        .facet(column=alt.Column("city:N", title="City"))
        .resolve_scale(y="independent")
        .properties(title=alt.Title("The object filter", subtitle=[
            f"Mean pixels of each object over all the city's images (model {first}); "
            f"red line: min_mean_pixels = {bar:g}"]))
    )
    return configure(chart)
