"""Lift against reliance: what Grad-CAM says each model uses beside what removing it costs.

One panel per model (and per removal method or segmenter when the rows hold several: two
segmenters' objects are different answers and never share a panel); a dashed line at lift = 1.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import PAGE_WIDTH, city_color, configure, lift_one_rule, one_segmenter_note, panel_width


def _panels(frame: pd.DataFrame) -> pd.DataFrame:
    data = frame.copy()
    data["panel"] = data["model"]
    for column in ("method", "segmenter"):
        if column in data and data[column].nunique() > 1:
            data["panel"] = data["panel"] + " · " + data[column]
    return data


@register_chart("lift vs reliance")
def lift_vs_reliance(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    data = _panels(frame)
    base = alt.Chart().encode(
        # symlog: lift spans orders of magnitude, and an object no explanation covers has lift 0.
        x=alt.X("lift:Q", title="Lift (Grad-CAM)", scale=alt.Scale(type="symlog")),
        y=alt.Y("net:Q", title="Net reliance"),
    )
    points = base.mark_circle(size=45, opacity=0.85).encode(
        color=city_color(data),
        tooltip=["model", "method", "segmenter", "city", "object", alt.Tooltip("lift:Q", format=".2f"),
                 alt.Tooltip("net:Q", format=".4f"), alt.Tooltip("drop:Q", format=".4f"),
                 alt.Tooltip("control_drop:Q", format=".4f"), alt.Tooltip("flip_share:Q", format=".2f"),
                 "n_removed:Q"],
    )
    labels = base.mark_text(align="left", dx=4, dy=-3, fontSize=8, color="#333").encode(text="object:N")
    zero = alt.Chart().mark_rule(color="#999", strokeDash=[3, 3]).encode(y=alt.datum(0))
    chart = (
        alt.layer(zero, lift_one_rule("x"), points, labels, data=data)
        .properties(width=panel_width(width, 1, label_space=200), height=220)
        .facet(row=alt.Row("panel:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left",
                                                                    labelLimit=160)))
        .resolve_scale(x="independent", y="independent")
        .properties(title=alt.Title(
            "Does Grad-CAM point at what the model uses?",
            subtitle=["Each point: one object in one city. x: lift (R_pc over that of a random mask of the same "
                      "area); red dashed line: lift = 1 (no better than chance).",
                      "y: net reliance, the mean drop in the model's probability of the true city when the "
                      "object is removed, less the control's (the same shape removed elsewhere).",
                      "Faithful explanations rise to the right. " + one_segmenter_note(data)]))
    )
    return configure(chart)
