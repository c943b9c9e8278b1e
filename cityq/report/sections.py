"""What the report shows, in order: the findings (headline tables), then one section per named
query with its chart and/or table.

Every per-object result shows one segmenter at a time: the headline table of top objects has
one table per segmenter (the dataset's own labels first), and the detail charts use the
default segmenter (`charts.registry.chart_params`), naming it in their heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import pandas as pd


def top_objects_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per model, one column per city: its top objects in rank order, each with its lift
    and the lift's 95% bootstrap lower bound: `signboard (1.32, 1.10)`. Rows of several
    segmenters get one row per model and segmenter (a `segmenter` column): their objects are
    different answers and never share a cell. The report shows one segmenter per table."""
    keys = ["segmenter", "model"] if "segmenter" in frame and frame["segmenter"].nunique() > 1 else ["model"]
    rows = []
    for (*key, city), group in frame.sort_values([*keys, "city", "rank"]).groupby([*keys, "city"]):
        top = ", ".join(f"{o} ({lift:.2f}, {low:.2f})"
                        for o, lift, low in zip(group["object"], group["lift"], group["lift_low"]))
        rows.append({**dict(zip(keys, key)), "city": city, "top": top})
    cells = pd.DataFrame(rows, columns=[*keys, "city", "top"])
    table = cells.pivot(index=keys, columns="city", values="top").reset_index()
    table.columns.name = None
    return table.fillna("")


def arch_vs_seed_sentence(frame: pd.DataFrame) -> str:
    """The paper's Table 2 conclusion in words, from `ar arch vs seed` rows: the relabelling p
    with how many relabellings it rests on and the smallest p the design allows, and whether
    the conclusion holds with both CAMs at a common resolution."""
    by = frame.set_index("comparison")
    if not {"architecture", "seed"} <= set(by.index):
        return "Not enough models to compare architectures with seeds (needs two seeds of one architecture)."
    arch, seed = by.loc["architecture"], by.loc["seed"]
    tested = frame.dropna(subset=["p_value"])
    verdict = "more" if arch["mean_ar"] > seed["mean_ar"] else "no more"
    p_text = ""
    if len(tested):
        row = tested.iloc[0]
        how = f"all {int(row['n_relabellings']):,}" if row["exact"] else f"{int(row['n_relabellings']):,} random"
        p_text = (f" (architecture labels permuted over the models, {how} relabellings: p = {row['p_value']:.3g}, "
                  f"the smallest p this design allows being {row['min_p']:.3g})")
    sentence = (f"Explanations of different architectures differ {verdict} than those of one architecture "
                f"trained with different seeds: mean AR {arch['mean_ar']:.3f} over {int(arch['n_pairs'])} pairs vs "
                f"{seed['mean_ar']:.3f} over {int(seed['n_pairs'])}{p_text}.")
    if pd.notna(arch.get("mean_ar_common")) and pd.notna(seed.get("mean_ar_common")):
        p_common = tested["p_value_common"].dropna()
        sentence += (f" With both CAMs at a common resolution (the coarser grid of each pair): "
                     f"{arch['mean_ar_common']:.3f} vs {seed['mean_ar_common']:.3f}"
                     + (f", p = {p_common.iloc[0]:.3g}." if len(p_common) else "."))
    return sentence


def reliance_sentence(frame: pd.DataFrame) -> str:
    """How far Grad-CAM's ranking of objects (by lift) follows what removing them costs the
    models (net reliance), from `rpc vs reliance` rows."""
    rho = frame["spearman"].dropna()
    if rho.empty:
        return "Too few objects per model and city to correlate lift with reliance (needs three)."
    above = int((frame["spearman_low"] > 0).sum()) if "spearman_low" in frame else 0
    return (f"Over {len(rho)} model and city pairs, the Spearman correlation between lift and net reliance "
            f"ranges from {rho.min():.2f} to {rho.max():.2f} (median {rho.median():.2f}); its 95% interval lies "
            f"above zero for {above} of them.")


@dataclass(frozen=True)
class Section:
    query: str  # a named query
    title: str
    params: dict = field(default_factory=dict)  # bound as in `cityq query NAME -p k=v`
    chart: bool = True  # its registered chart
    table: bool = False  # its rows as a table (the key tables)
    table_columns: tuple[str, ...] = ()  # a subset to show; () = all
    table_view: Optional[Callable[[pd.DataFrame], pd.DataFrame]] = None  # reshapes rows for reading
    per_segmenter: bool = False  # one table per ingested segmenter (the query's segmenter parameter)
    sentence: Optional[Callable[[pd.DataFrame], str]] = None  # the finding in words, above the table


# The columns of `ar arch vs seed` a headline table shows (the report's and serve's home page).
ARCH_VS_SEED_COLUMNS = ("comparison", "mean_ar", "sd_ar", "n_pairs", "p_value", "min_p", "n_relabellings",
                        "mean_ar_common", "p_value_common")

# The findings: what the study found, first on the page.
FINDINGS: tuple[Section, ...] = (
    Section("top objects", "The objects each model relies on most (top 5 by lift per city, in at least 5 of its "
            "images; in brackets: lift, its 95% bootstrap lower bound)", chart=False,
            table=True, table_view=top_objects_table, per_segmenter=True),
    Section("ar arch vs seed", "Do architectures differ more than seeds? (Table 2)", chart=False, table=True,
            table_columns=ARCH_VS_SEED_COLUMNS, sentence=arch_vs_seed_sentence),
    Section("rpc vs reliance", "Is Grad-CAM right? Its top objects beside what removing them costs the model",
            chart=False, table=True, per_segmenter=True, sentence=reliance_sentence,
            table_columns=("model", "method", "city", "n_objects", "spearman", "spearman_low", "spearman_high",
                           "top_lift", "top_reliance")),
    Section("accuracy", "How well the models tell the cities apart", chart=False, table=True,
            table_columns=("model", "arch", "seed", "n_images", "accuracy")),
)

# The details: every chart, with how it was made.
REPORT_SECTIONS: tuple[Section, ...] = (
    Section("top objects", "Top objects by lift (whiskers: 95% bootstrap interval)"),
    Section("rpc by city", "Fig 5: R_pc per object, city and model"),
    Section("lift vs reliance", "Lift against reliance by removal, per object"),
    Section("rpc sweep", "Lift against the explanation threshold"),
    Section("ar by model pair", "Table 2: AR between every pair of models", table=True,
            table_columns=("model_a", "model_b", "ar", "ci_low", "ci_high", "ar_common", "n_images", "unit")),
    Section("ar arch vs seed", "Architectures vs seeds, at the masks' own and at a common CAM resolution"),
    Section("embedding", "Fig 3: t-SNE of the Grad-CAM masks"),
    Section("accuracy", "Classification accuracy"),
    Section("accuracy by city", "Accuracy per city"),
    Section("training curves", "Training curves"),
    Section("explanation area", "How large the explanations are"),
    Section("objects", "The object filter"),
)
