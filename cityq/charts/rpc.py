"""Fig 5 of the paper: R_pc per object, faceted by city (columns) and model (rows), lift marked."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import (
    LIFT_ONE,
    MAX_OBJECTS,
    PAGE_WIDTH,
    ROW_STEP,
    city_color,
    configure,
    lift_one_rule,
    one_segmenter_note,
    panel_width,
    top_by,
    with_panels,
)

_ROW_HEADER = alt.Header(labelAngle=0, labelAlign="left", labelLimit=160)


def _object_bars(frame: pd.DataFrame, title: str, with_ci: bool, width: int) -> alt.TopLevelMixin:
    data = top_by(with_panels(frame), ["panel", "city"], "rpc").copy()
    data["lift_label"] = data["lift"].map(lambda v: "" if pd.isna(v) else f"×{v:.1f}")
    # The R_pc a random mask of the same area would give: lift = 1 lies there (R_pc / lift).
    data["random_rpc"] = data["rpc"] / data["lift"].where(data["lift"] > 0)
    threshold = data["threshold"].iloc[0]
    n_rows = int(data.groupby(["panel", "city"]).size().max())
    n_cities = data["city"].nunique()
    # stack=None matters: a stacked bar layer gets its own data source, and Vega-Lite then drops
    # the per-panel sort of the objects.
    base = alt.Chart().encode(y=alt.Y("object:N", sort=alt.EncodingSortField("rpc", op="max", order="descending"),
                                      title=None))
    bars = base.mark_bar().encode(
        x=alt.X("rpc:Q", title=f"R_pc at t = {threshold:g}", scale=alt.Scale(domain=[0, 1]), stack=None),
        color=city_color(data),
        opacity=alt.condition("datum.lift > 1", alt.value(1.0), alt.value(0.45)),
        tooltip=["model", "segmenter", "city", "object", alt.Tooltip("rpc:Q", format=".3f"),
                 alt.Tooltip("lift:Q", format=".2f"), alt.Tooltip("random_rpc:Q", format=".3f", title="lift = 1 at"),
                 "n_images:Q", alt.Tooltip("mean_pixels:Q", format=",.0f")],
    )
    layers = [bars]
    if with_ci:
        layers.append(base.mark_rule(color="black").encode(x="rpc_low:Q", x2="rpc_high:Q"))
    # Where lift = 1: what a random mask of each image's own explanation area gives (chance_rpc).
    layers.append(base.mark_tick(color=LIFT_ONE, thickness=2, size=ROW_STEP - 2).encode(
        x=alt.X("random_rpc:Q", stack=None)))
    layers.append(base.mark_text(align="left", dx=3, fontSize=9, color="#333").encode(
        x=alt.X("rpc_high:Q" if with_ci else "rpc:Q", stack=None), text="lift_label:N"))
    chart = (
        alt.layer(*layers, data=data)
        .properties(width=panel_width(width, n_cities, label_space=260), height=ROW_STEP * n_rows)
        .facet(row=alt.Row("panel:N", title=None, header=_ROW_HEADER), column=alt.Column("city:N", title=None))
        .resolve_scale(y="independent")
        .properties(
            title=alt.Title(
                title,
                subtitle=[
                    f"Top {MAX_OBJECTS} objects by R_pc (share of the object's pixels inside the explanation) "
                    "per model and city, among those passing the object filter. " + one_segmenter_note(data),
                    "Label: lift = R_pc / what a random mask of each image's own explanation area gives; "
                    "red tick: where lift = 1; "
                    "faded bars: lift <= 1.",
                ],
            )
        )
    )
    return configure(chart)


@register_chart("rpc by city")
def rpc_by_city(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    return _object_bars(frame, "Which objects the explanations cover (R_pc per object)", False, width)


@register_chart("rpc by city ci")
def rpc_by_city_ci(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    return _object_bars(frame, "R_pc per object with 95% bootstrap intervals over images", True, width)


@register_chart("top objects")
def top_objects(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    data = with_panels(frame)
    n_rows = int(data.groupby(["panel", "city"]).size().max())
    base = alt.Chart().encode(y=alt.Y("object:N", sort=alt.EncodingSortField("lift", order="descending"),
                                      title=None))
    bars = base.mark_bar().encode(
        x=alt.X("lift:Q", title="Lift", stack=None),
        color=city_color(data),
        tooltip=["model", "segmenter", "city", "rank", "object", alt.Tooltip("rpc:Q", format=".3f"),
                 alt.Tooltip("lift:Q", format=".2f"), alt.Tooltip("lift_low:Q", format=".2f"),
                 alt.Tooltip("lift_high:Q", format=".2f"), "n_images_with:Q"],
    )
    # The lift's bootstrap interval: a bar whose whisker reaches 1 is no evidence.
    whiskers = base.mark_rule(color="black").encode(x="lift_low:Q", x2="lift_high:Q")
    labels = base.mark_text(align="left", dx=3, fontSize=9, color="#333").encode(
        x=alt.X("lift_high:Q", stack=None), text=alt.Text("lift:Q", format=".2f"))
    chart = (
        alt.layer(bars, whiskers, lift_one_rule("x"), labels, data=data)
        .properties(width=panel_width(width, data["city"].nunique(), label_space=260),
                    height=ROW_STEP * max(n_rows, 3))
        .facet(row=alt.Row("panel:N", title=None, header=_ROW_HEADER), column=alt.Column("city:N", title=None))
        .resolve_scale(y="independent")
        .properties(
            title=alt.Title(
                f"Top {n_rows} objects by lift per model and city (t = {frame['threshold'].iloc[0]:g})",
                subtitle=["Lift = R_pc / what a random mask of each image's own explanation area gives; "
                          "whisker: its 95% bootstrap interval; red line: lift = 1 (no better than chance).",
                          "Objects in fewer images than the minimum support are left out. " + one_segmenter_note(data)],
            )
        )
    )
    return configure(chart)
