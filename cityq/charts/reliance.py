"""Lift against reliance: what Grad-CAM says each model uses beside what removing it costs."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import FACET_WIDTH, city_color, configure


@register_chart("lift vs reliance")
def lift_vs_reliance(frame: pd.DataFrame) -> alt.TopLevelMixin:
    data = frame.copy()
    # One panel per model, and per removal method when the frame holds several.
    several = data["method"].nunique() > 1 or ("segmenter" in data and data["segmenter"].nunique() > 1)
    data["panel"] = data["model"] + (" · " + data["method"] + " · " + data["segmenter"] if several else "")
    base = alt.Chart().encode(
        # symlog: lift spans orders of magnitude, and an object no explanation covers has lift 0.
        x=alt.X("lift:Q", title="Lift (Grad-CAM)", scale=alt.Scale(type="symlog")),
        y=alt.Y("net:Q", title="Net reliance (drop in p_true − control's)"),
    )
    points = base.mark_circle(size=45, opacity=0.85).encode(
        color=city_color(data),
        tooltip=["model", "method", "city", "object", alt.Tooltip("lift:Q", format=".2f"),
                 alt.Tooltip("net:Q", format=".4f"), alt.Tooltip("drop:Q", format=".4f"),
                 alt.Tooltip("control_drop:Q", format=".4f"), alt.Tooltip("flip_share:Q", format=".2f"),
                 "n_removed:Q"],
    )
    labels = base.mark_text(align="left", dx=4, dy=-3, fontSize=8, color="#333").encode(text="object:N")
    zero = alt.Chart().mark_rule(color="#999", strokeDash=[3, 3]).encode(y=alt.datum(0))
    chance = alt.Chart().mark_rule(color="#999", strokeDash=[3, 3]).encode(x=alt.datum(1))
    chart = (
        alt.layer(zero, chance, points, labels, data=data)
        .properties(width=FACET_WIDTH * 1.6, height=FACET_WIDTH * 1.2)
        .facet(row=alt.Row("panel:N", title="Model", header=alt.Header(labelAngle=0, labelAlign="left")))
        .resolve_scale(x="independent", y="independent")
        .properties(title=alt.Title(
            "Does Grad-CAM point at what the model uses?",
            subtitle=["Each point: one object in one city. x: lift (R_pc / mean explanation area; 1 = chance).",
                      "y: mean drop in the model's probability of the true city when the object is removed,",
                      "net of the control (the same shape removed elsewhere).",
                      "Faithful explanations rise to the right."]))
    )
    return configure(chart)
