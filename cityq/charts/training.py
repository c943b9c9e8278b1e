"""Training curves: loss and accuracy per epoch, train and validation, one panel per model."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import PAGE_WIDTH, configure, panel_width

SPLIT_COLORS = alt.Scale(domain=["train", "val"], range=["#4c78a8", "#f58518"])


def _panels(frame: pd.DataFrame, measure: str, title: str, scale: alt.Scale, width: int) -> alt.FacetChart:
    columns = min(4, frame["model"].nunique())
    return (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(size=16))
        .encode(
            x=alt.X("epoch:Q", title="Epoch", axis=alt.Axis(tickMinStep=1, format="d")),
            y=alt.Y(f"{measure}:Q", title=title, scale=scale),
            color=alt.Color("split:N", title="Split", scale=SPLIT_COLORS, legend=alt.Legend(orient="top")),
            tooltip=["model", "epoch", "split", alt.Tooltip(f"{measure}:Q", format=".4f")],
        )
        .properties(width=panel_width(width, columns, label_space=60), height=110)
        .facet(facet=alt.Facet("model:N", title=None), columns=columns)
    )


@register_chart("training curves")
def training_curves(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    loss = _panels(frame, "loss", "Loss", alt.Scale(zero=True), width)
    accuracy = _panels(frame, "accuracy", "Accuracy", alt.Scale(domain=[0, 1]), width)
    chart = alt.vconcat(loss, accuracy).properties(title=alt.Title("Training curves", subtitle=[
        "Cross-entropy loss (top) and accuracy (bottom) per epoch on the train and validation splits."]))
    return configure(chart)
