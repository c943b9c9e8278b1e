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


def relabelling_summary(frame: pd.DataFrame) -> list[str]:
    """The test's result in words: p with how many relabellings it rests on and the smallest p
    the design allows, at both resolutions; and what is missing, if anything."""
    rows = frame.dropna(subset=["p_value"])
    if rows.empty:
        return ["no pairs of one architecture (or of two): no test"]
    row = rows.iloc[0]
    n = f"all {int(row.n_relabellings):,}" if row.exact else f"{int(row.n_relabellings):,} random"
    lines = [f"architecture > seed, architecture labels permuted over the models ({n} relabellings): "
             f"p = {row.p_value:.3g} (smallest possible {row.min_p:.3g})"]
    if pd.notna(row.p_value_common):
        lines.append(f"at a common CAM resolution: p = {row.p_value_common:.3g}")
    missing = int((frame.n_pairs - frame.n_pairs_common).sum())
    if missing:
        lines.append(f"AR at a common resolution missing for {missing} pairs: run `cityq ingest` of their models "
                     "again (`cityq check` lists them)")
    return lines


@register_chart("ar arch vs seed")
def ar_arch_vs_seed(frame: pd.DataFrame, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    native = frame.assign(resolution="native CAMs", ar=frame.mean_ar, sd=frame.sd_ar)
    common = frame.assign(resolution="common resolution", ar=frame.mean_ar_common, sd=frame.sd_ar_common)
    data = pd.concat([native, common], ignore_index=True).dropna(subset=["ar"])
    data = data.assign(low=data.ar - data.sd.fillna(0), high=data.ar + data.sd.fillna(0))
    order = ["native CAMs", "common resolution"]
    base = alt.Chart(data).encode(y=alt.Y("comparison:N", title=None, sort=["architecture", "seed"]),
                                  yOffset=alt.YOffset("resolution:N", sort=order))
    bars = base.mark_bar().encode(
        # The rules and counts reach past the bars; a few round ticks keep the labels apart.
        x=alt.X("ar:Q", title="Mean AR over model pairs (± 1 sd)", axis=alt.Axis(tickCount=8)),
        color=alt.Color("resolution:N", title="AR of", sort=order,
                        scale=alt.Scale(domain=order, range=["#4c78a8", "#9ecae9"])),
        tooltip=[
            "comparison",
            "resolution",
            alt.Tooltip("ar:Q", format=".4f"),
            alt.Tooltip("sd:Q", format=".4f"),
            "n_pairs:Q",
            alt.Tooltip("p_value:Q", format=".4g"),
            alt.Tooltip("p_value_common:Q", format=".4g"),
            alt.Tooltip("min_p:Q", format=".4g"),
            "n_relabellings:Q",
        ],
    )
    spread = base.mark_rule().encode(x="low:Q", x2="high:Q")
    counts = base.mark_text(align="left", dx=4, fontSize=10).encode(x="high:Q", text=alt.Text("n_pairs:Q", format="d"))
    chart = alt.layer(bars, spread, counts).properties(
        width=min(600, width - 200),
        height=110,
        title=alt.Title(
            "Different architectures vs different seeds",
            subtitle=[*relabelling_summary(frame), "label: number of model pairs"],
        ),
    )
    return configure(chart)
