"""Classification accuracy per model, and per model and city."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import PAGE_WIDTH, ROW_STEP, city_color, configure

PERCENT = alt.Axis(format="%")


@register_chart("accuracy")
def accuracy(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    chart = (
        alt.Chart(frame)
        .mark_bar(color="#4c78a8")
        .encode(
            y=alt.Y("model:N", title="Model", sort=alt.EncodingSortField("accuracy", order="descending")),
            x=alt.X("accuracy:Q", title="Accuracy (share of images)", scale=alt.Scale(domain=[0, 1]), axis=PERCENT),
            tooltip=["model", alt.Tooltip("accuracy:Q", format=".1%"), "n_images:Q"],
        )
        .properties(width=min(600, width - 220), height=ROW_STEP * 1.6 * len(frame),
                    title="Classification accuracy per model")
    )
    return configure(chart)


@register_chart("accuracy by city")
def accuracy_by_city(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    n_cities = frame["city"].nunique()
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("city:N", title=None),
            x=alt.X("accuracy:Q", title="Accuracy on the city's images (recall)", scale=alt.Scale(domain=[0, 1]),
                    axis=PERCENT),
            color=city_color(frame),
            row=alt.Row("model:N", title="Model", header=alt.Header(labelAngle=0, labelAlign="left")),
            tooltip=["model", "city", alt.Tooltip("accuracy:Q", format=".1%"), "n_images:Q"],
        )
        .properties(width=min(600, width - 220), height=ROW_STEP * n_cities,
                    title="Classification accuracy per model and city")
    )
    return configure(chart)
