"""Table 2 of the paper: AR between model pairs as a heat map, and architecture vs seed."""

from __future__ import annotations

import altair as alt
import pandas as pd

from cityq.charts.registry import register_chart
from cityq.charts.theme import PAGE_WIDTH, configure

CELL = 34  # px per heat-map cell


@register_chart("ar by model pair")
def ar_by_model_pair(frame: pd.DataFrame) -> alt.TopLevelMixin:
    # Both triangles, so each model reads along one row.
    mirrored = frame.rename(columns={"model_a": "model_b", "model_b": "model_a"})
    data = pd.concat([frame, mirrored], ignore_index=True)[
        ["model_a", "model_b", "ar", "ci_low", "ci_high", "n_images"]
    ]
    models = sorted(set(data.model_a))
    base = alt.Chart(data).encode(
        x=alt.X("model_b:N", title="Model", sort=models, axis=alt.Axis(labelAngle=-40)),
        y=alt.Y("model_a:N", title="Model", sort=models),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("ar:Q", title="AR", scale=alt.Scale(scheme="blues", zero=True)),
        tooltip=[
            "model_a",
            "model_b",
            alt.Tooltip("ar:Q", format=".4f"),
            alt.Tooltip("ci_low:Q", format=".4f"),
            alt.Tooltip("ci_high:Q", format=".4f"),
            "n_images:Q",
        ],
    )
    labels = base.mark_text(fontSize=8).encode(
        text=alt.Text("ar:Q", format=".3f"),
        color=alt.condition(f"datum.ar > {data.ar.max() * 0.6:.6f}", alt.value("white"), alt.value("black")),
    )
    side = CELL * len(models)
    chart = alt.layer(cells, labels).properties(
        width=side,
        height=side,
        title=alt.Title(
            "Activation residual between models (AR)",
            subtitle=["Mean over images of sum|mask_a - mask_b| / (H*W); 0 = identical explanations."],
        ),
    )
    return configure(chart)


@register_chart("ar arch vs seed")
def ar_arch_vs_seed(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    p_value = frame["p_value"].dropna()
    p_text = (
        f"permutation test, architecture > seed: p = {p_value.iloc[0]:.4g}"
        if len(p_value)
        else "no seed pairs: no test"
    )
    data = frame.assign(low=frame.mean_ar - frame.sd_ar.fillna(0), high=frame.mean_ar + frame.sd_ar.fillna(0))
    base = alt.Chart(data).encode(y=alt.Y("comparison:N", title=None, sort=["architecture", "seed"]))
    bars = base.mark_bar(color="#4c78a8").encode(
        x=alt.X("mean_ar:Q", title="Mean AR over model pairs (± 1 sd)"),
        tooltip=[
            "comparison",
            alt.Tooltip("mean_ar:Q", format=".4f"),
            alt.Tooltip("sd_ar:Q", format=".4f"),
            "n_pairs:Q",
            alt.Tooltip("p_value:Q", format=".4g"),
        ],
    )
    spread = base.mark_rule().encode(x="low:Q", x2="high:Q")
    counts = base.mark_text(align="left", dx=4, fontSize=10).encode(x="high:Q", text=alt.Text("n_pairs:Q", format="d"))
    chart = alt.layer(bars, spread, counts).properties(
        width=min(600, width - 200),
        height=70,
        title=alt.Title(
            "Different architectures vs different seeds", subtitle=[p_text, "label: number of model pairs"]
        ),
    )
    return configure(chart)
