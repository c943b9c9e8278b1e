"""R_pc and lift against the threshold: one line per object, panels by city and model."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import FACET_WIDTH, configure, with_panels

TOP_OBJECTS = 6  # lines per panel: the objects with the largest mean lift over the grid


@register_chart("rpc sweep")
def rpc_sweep(frame: pd.DataFrame) -> alt.TopLevelMixin:
    frame = with_panels(frame)
    mean_lift = frame.groupby(["panel", "city", "object"], as_index=False)["lift"].mean()
    top = mean_lift.sort_values("lift", ascending=False).groupby(["panel", "city"]).head(TOP_OBJECTS)
    data = frame.merge(top[["panel", "city", "object"]], on=["panel", "city", "object"])
    chart = (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=alt.X("threshold:Q", title="Explanation threshold t (mask >= t)", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("lift:Q", title="Lift"),
            color=alt.Color(
                "object:N",
                title="Object",
                sort=alt.EncodingSortField("lift", order="descending"),
                legend=alt.Legend(orient="right"),
            ),
            tooltip=[
                "model",
                "city",
                "object",
                alt.Tooltip("threshold:Q", format=".2f"),
                alt.Tooltip("rpc:Q", format=".3f"),
                alt.Tooltip("lift:Q", format=".2f"),
            ],
        )
        .properties(width=FACET_WIDTH, height=120)
        .facet(
            row=alt.Row("panel:N", title="Model", header=alt.Header(labelAngle=0, labelAlign="left")),
            column=alt.Column("city:N", title="City"),
        )
        .properties(
            title=alt.Title(
                "Lift against the threshold",
                subtitle=[
                    f"The {TOP_OBJECTS} objects with the largest mean lift per model and city; "
                    "lift = R_pc / mean explanation area (1 = a random mask of that size)."
                ],
            )
        )
    )
    return configure(chart)
