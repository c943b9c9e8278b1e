"""The object filter: each object's mean pixels per image, the bar, and which objects pass.

N depends on the segmentation, not on the model, so one model's rows show the filter; a frame
with several segmenters gets one row of panels per segmenter (their objects differ).
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import PAGE_WIDTH, ROW_STEP, configure, panel_width

# Log axis labels: 0.1, 1, 10, 100, 1k, 10k (d3's "~s" would write 0.1 as "100m").
_DECADES = [0.01, 0.1, 1, 10, 100, 1000, 10_000, 100_000, 1_000_000]
_LOG_LABELS = "datum.value < 1 ? format(datum.value, '.1~f') : format(datum.value, '~s')"


@register_chart("objects")
def objects(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    first = sorted(frame["model"].unique())[0]
    data = frame[frame["model"] == first].copy()
    if "segmenter" not in data:
        data["segmenter"] = ""
    data["status"] = data["passes"].map({True: "kept", False: "filtered out"})
    bars = sorted(data["min_mean_pixels"].unique())
    n_rows = int(data.groupby(["segmenter", "city"]).size().max())
    low = max(min(float(data["mean_pixels"].min()), min(bars)) / 2, 1e-2)
    high = max(float(data["mean_pixels"].max()), max(bars)) * 2
    x = alt.X("mean_pixels:Q", title="Mean pixels per image (zeros included), log scale",
              scale=alt.Scale(type="log", domain=[low, high]),
              axis=alt.Axis(labelExpr=_LOG_LABELS, values=[v for v in _DECADES if low <= v <= high]))
    points = alt.Chart().mark_point(filled=True, size=45).encode(
        y=alt.Y("object:N", sort=alt.EncodingSortField("mean_pixels", op="max", order="descending"), title=None),
        x=x,
        color=alt.Color("status:N", title=None, scale=alt.Scale(domain=["kept", "filtered out"],
                                                                range=["#4c78a8", "#bab0ac"]),
                        legend=alt.Legend(orient="top")),
        tooltip=["segmenter", "city", "object", alt.Tooltip("mean_pixels:Q", format=",.1f"), "n_images_with:Q",
                 "n_images:Q", "status:N"],
    )
    # One line across each panel: no y encoding, one row per panel after the aggregate.
    bar_rule = alt.Chart().mark_rule(color="#e45756", strokeDash=[4, 2], strokeWidth=1.5).encode(
        x=alt.X("mean(min_mean_pixels):Q"))
    several = data["segmenter"].nunique() > 1  # then one row of panels per segmenter
    facet = {"column": alt.Column("city:N", title=None)}
    if several:
        facet["row"] = alt.Row("segmenter:N", title="Segmenter", header=alt.Header(labelAngle=0, labelAlign="left"))
    chart = (
        alt.layer(bar_rule, points, data=data)
        .properties(width=panel_width(width, data["city"].nunique(), label_space=220 if several else 120),
                    height=ROW_STEP * n_rows)
        .facet(**facet)
        .resolve_scale(y="independent")
        .properties(title=alt.Title("The object filter", subtitle=[
            f"Mean pixels of each object over all the city's images (model {first}); "
            f"red line: min_mean_pixels = {', '.join(f'{b:.3g}' for b in bars)}; objects left of it are "
            "left out of R_pc and lift."]))
    )
    return configure(chart)
