"""Lift against the threshold: one line per object, panels by city and model.

Each line is named at its right end (colours alone cannot tell a dozen objects apart), and a
dashed line marks lift = 1.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import PAGE_WIDTH, configure, lift_one_rule, one_segmenter_note, panel_width, with_panels

TOP_OBJECTS = 5  # lines per panel: the objects with the largest mean lift over the grid


def _end_labels(data: pd.DataFrame, gap_share: float = 0.07) -> pd.DataFrame:
    """`end_label` (the object's name on its last point) and `label_y`, nudged apart within each
    panel so that names of lines ending close together do not print over each other."""
    last = data.groupby(["panel", "city", "object"])["threshold"].transform("max")
    data = data.assign(end_label=data["object"].where(data["threshold"] == last, ""), label_y=data["lift"])
    span = float(data["lift"].max() - min(0.0, data["lift"].min())) or 1.0
    gap = gap_share * span  # about one line of 9 px text on a 150 px panel
    ends = data[data["end_label"] != ""].sort_values("lift")
    for _, group in ends.groupby(["panel", "city"]):
        placed: list[float] = []
        for index, value in group["lift"].items():
            y = value if not placed else max(value, placed[-1] + gap)
            placed.append(y)
            data.loc[index, "label_y"] = y
    return data


@register_chart("rpc sweep")
def rpc_sweep(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    frame = with_panels(frame)
    mean_lift = frame.groupby(["panel", "city", "object"], as_index=False)["lift"].mean()
    top = mean_lift.sort_values(["lift", "object"], ascending=[False, True]).groupby(["panel", "city"]).head(
        TOP_OBJECTS)
    data = frame.merge(top[["panel", "city", "object"]], on=["panel", "city", "object"])
    data = _end_labels(data)
    objects = sorted(data["object"].unique())
    colour = alt.Color("object:N", title="Object", scale=alt.Scale(domain=objects, scheme="tableau20"), legend=None)
    base = alt.Chart().encode(
        x=alt.X("threshold:Q", title="Explanation threshold t (mask >= t)", scale=alt.Scale(domain=[0, 1.25]),
                axis=alt.Axis(values=[0, 0.2, 0.4, 0.6, 0.8, 1.0])),
        y=alt.Y("lift:Q", title="Lift"),
        color=colour,
    )
    lines = base.mark_line(point=alt.OverlayMarkDef(size=10)).encode(
        tooltip=["model", "segmenter", "city", "object", alt.Tooltip("threshold:Q", format=".2f"),
                 alt.Tooltip("rpc:Q", format=".3f"), alt.Tooltip("lift:Q", format=".2f")])
    names = base.mark_text(align="left", dx=4, fontSize=9).encode(y="label_y:Q", text="end_label:N")
    n_cities = data["city"].nunique()
    chart = (
        alt.layer(lift_one_rule("y"), lines, names, data=data)
        .properties(width=panel_width(width, n_cities, label_space=200), height=150)
        .facet(
            row=alt.Row("panel:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left", labelLimit=160)),
            column=alt.Column("city:N", title=None),
        )
        .properties(
            title=alt.Title(
                "Lift against the threshold",
                subtitle=[
                    f"The {TOP_OBJECTS} objects with the largest mean lift per model and city, each named at its "
                    "line's end; lift = R_pc / what a random mask of each image's own explanation area gives.",
                    "Red dashed line: lift = 1 (no better than chance). " + one_segmenter_note(data),
                ],
            )
        )
    )
    return configure(chart)
