"""Fig 5 of the paper: R_pc per object, faceted by city (columns) and model (rows), lift marked."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import FACET_WIDTH, MAX_OBJECTS, ROW_STEP, city_color, configure, top_by, with_panels


def _object_bars(frame: pd.DataFrame, title: str, with_ci: bool) -> alt.TopLevelMixin:
    data = top_by(with_panels(frame), ["panel", "city"], "rpc").copy()
    data["lift_label"] = data["lift"].map(lambda v: "" if pd.isna(v) else f"×{v:.1f}")
    threshold = data["threshold"].iloc[0]
    n_rows = int(data.groupby(["panel", "city"]).size().max())
    # stack=None matters: a stacked bar layer gets its own data source, and Vega-Lite then drops
    # the per-panel sort of the objects.
    base = alt.Chart().encode(y=alt.Y("object:N", sort=alt.EncodingSortField("rpc", op="max", order="descending"),
                                      title=None))
    bars = base.mark_bar().encode(
        x=alt.X("rpc:Q", title=f"R_pc at t = {threshold:g}", scale=alt.Scale(domain=[0, 1]), stack=None),
        color=city_color(data),
        opacity=alt.condition("datum.lift > 1", alt.value(1.0), alt.value(0.45)),
        tooltip=["model", "city", "object", alt.Tooltip("rpc:Q", format=".3f"), alt.Tooltip("lift:Q", format=".2f"),
                 "n_images:Q", alt.Tooltip("mean_pixels:Q", format=",.0f")],
    )
    layers = [bars]
    if with_ci:
        layers.append(base.mark_rule(color="black").encode(x="rpc_low:Q", x2="rpc_high:Q"))
    # Lift: the object's R_pc over that of a random mask of the same area, as a label.
    layers.append(base.mark_text(align="left", dx=3, fontSize=9, color="#333").encode(
        x=alt.X("rpc_high:Q" if with_ci else "rpc:Q", stack=None), text="lift_label:N"))
    chart = (
        alt.layer(*layers, data=data)
        .properties(width=FACET_WIDTH, height=ROW_STEP * n_rows)
        .facet(
            row=alt.Row("panel:N", title="Model", header=alt.Header(labelAngle=0, labelAlign="left")),
            column=alt.Column("city:N", title="City"),
        )
        .resolve_scale(y="independent")
        .properties(
            title=alt.Title(
                title,
                subtitle=[
                    f"Top {MAX_OBJECTS} objects by R_pc (share of the object's pixels inside the explanation) "
                    "per model and city, among those passing the object filter.",
                    "Label: lift = R_pc / mean explanation area (1 = a random mask of that size); "
                    "faded bars: lift <= 1.",
                ],
            )
        )
    )
    return configure(chart)


@register_chart("rpc by city")
def rpc_by_city(frame: pd.DataFrame) -> alt.TopLevelMixin:
    return _object_bars(frame, "Which objects the explanations cover (R_pc per object)", with_ci=False)


@register_chart("rpc by city ci")
def rpc_by_city_ci(frame: pd.DataFrame) -> alt.TopLevelMixin:
    return _object_bars(frame, "R_pc per object with 95% bootstrap intervals over images", with_ci=True)


@register_chart("top objects")
def top_objects(frame: pd.DataFrame) -> alt.TopLevelMixin:
    data = with_panels(frame)
    n_rows = int(data.groupby(["panel", "city"]).size().max())
    chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("object:N", sort=alt.EncodingSortField("lift", order="descending"), title=None),
            x=alt.X("lift:Q", title="Lift", stack=None),
            color=city_color(data),
            tooltip=[
                "model",
                "city",
                "rank",
                "object",
                alt.Tooltip("rpc:Q", format=".3f"),
                alt.Tooltip("lift:Q", format=".2f"),
            ],
        )
        .properties(width=FACET_WIDTH, height=ROW_STEP * max(n_rows, 3))
        .facet(
            row=alt.Row("panel:N", title="Model", header=alt.Header(labelAngle=0, labelAlign="left")),
            column=alt.Column("city:N", title="City"),
        )
        .resolve_scale(y="independent")
        .properties(
            title=alt.Title(
                f"Top {n_rows} objects by lift per model and city (t = {frame['threshold'].iloc[0]:g})",
                subtitle=["Lift = R_pc / mean explanation area; 1 = what a random mask of that size gives."],
            )
        )
    )
    return configure(chart)
