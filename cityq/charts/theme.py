"""Shared look: sizes that fit a paper column (~3.3 in) and a screen, one colour per city."""

from __future__ import annotations

import altair as alt
import pandas as pd

FACET_WIDTH = 170  # px per facet panel: two or three panels fit a 600 px screen column
PAGE_WIDTH = 900  # px: what a whole chart may use by default (the report passes its own column width)
ROW_STEP = 13  # px per category row (objects, models)
MAX_OBJECTS = 12  # per panel in object charts: more is unreadable at column width
# Tableau 10 minus red/green pairs hard to tell apart; cities take colours in sorted order.
CITY_PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#eeca3b", "#9d755d"]


def city_color(frame: pd.DataFrame, field: str = "city", legend: bool = True) -> alt.Color:
    """The same city always gets the same colour within a chart (sorted domain)."""
    cities = sorted(frame[field].dropna().unique().tolist())
    scale = alt.Scale(domain=cities, range=[CITY_PALETTE[i % len(CITY_PALETTE)] for i in range(len(cities))])
    return alt.Color(f"{field}:N", title="City", scale=scale, legend=alt.Legend(orient="top") if legend else None)


def configure(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    return (
        chart.configure_axis(labelFontSize=10, titleFontSize=11)
        .configure_header(labelFontSize=11, titleFontSize=11)
        .configure_title(fontSize=13, anchor="start")
        .configure_legend(labelFontSize=10, titleFontSize=11)
        .configure_view(stroke=None)
    )


def top_by(frame: pd.DataFrame, groups: list[str], column: str, n: int = MAX_OBJECTS) -> pd.DataFrame:
    """The n rows with the largest `column` within each group."""
    return frame.sort_values(column, ascending=False).groupby(groups, sort=False).head(n)


def with_panels(frame: pd.DataFrame) -> pd.DataFrame:
    """A `panel` column naming what a facet row shows: the model, and the segmenter when the
    frame holds counts by several (one model ingested with two segmenters would otherwise
    draw two sets of bars on top of each other)."""
    data = frame.copy()
    if "segmenter" in data and data["segmenter"].nunique() > 1:
        data["panel"] = data["model"] + " · " + data["segmenter"]
    else:
        data["panel"] = data["model"]
    return data


def panel_width(total: int, columns: int, label_space: int = 140) -> int:
    """The width of one facet panel when `columns` panels share `total` pixels (less room for
    the row labels and the axis), never narrower than a readable 120 px."""
    return max(120, int((total - label_space) / max(columns, 1)) - 12)


LIFT_ONE = "#d62728"  # the lift = 1 reference (what a random mask of the same area gives)


def lift_one_rule(channel: str = "x") -> alt.Chart:
    """A full-length dashed rule at lift = 1, for a layer whose `channel` axis is lift."""
    encoding = {channel: alt.datum(1)}
    return alt.Chart().mark_rule(color=LIFT_ONE, strokeDash=[4, 3], strokeWidth=1.2).encode(**encoding)


def one_segmenter_note(frame: pd.DataFrame) -> str:
    """The subtitle line naming the segmenter(s) the counts come from."""
    if "segmenter" not in frame:
        return ""
    found = sorted(frame["segmenter"].dropna().unique())
    if len(found) == 1:
        return f"Objects from the segmenter {found[0]!r}."
    return f"One panel per model and segmenter ({', '.join(found)})."
