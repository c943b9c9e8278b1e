"""What the report shows, in order: one entry per named query, with its chart and/or table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

import pandas as pd


def top_objects_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One line per model and city: its top objects in rank order, with their lift."""
    rows = frame.sort_values(["model", "city", "rank"]).groupby(["model", "city"], sort=False)
    return pd.DataFrame(
        [{"model": model, "city": city,
          "top objects (lift)": ", ".join(f"{o} ({lift:.2f})" for o, lift in zip(group.object, group.lift))}
         for (model, city), group in rows]
    )


@dataclass(frozen=True)
class Section:
    query: str  # a named query
    title: str
    params: dict = field(default_factory=dict)  # bound as in `cityq query NAME -p k=v`
    chart: bool = True  # its registered chart
    table: bool = False  # its rows as a table (the key tables)
    table_columns: tuple[str, ...] = ()  # a subset to show; () = all
    table_view: Optional[Callable[[pd.DataFrame], pd.DataFrame]] = None  # reshapes rows for reading


REPORT_SECTIONS: tuple[Section, ...] = (
    Section("top objects", "The objects each model relies on most (top 5 by lift)", table=True,
            table_view=top_objects_table),
    Section("rpc by city", "Fig 5: R_pc per object, city and model"),
    Section("rpc sweep", "R_pc and lift against the explanation threshold"),
    Section("ar by model pair", "Table 2: AR between every pair of models", table=True,
            table_columns=("model_a", "model_b", "ar", "ci_low", "ci_high", "n_images")),
    Section("ar arch vs seed", "Do architectures differ more than seeds?", table=True,
            table_columns=("comparison", "mean_ar", "sd_ar", "n_pairs", "p_value")),
    Section("embedding", "Fig 3: t-SNE of the Grad-CAM masks"),
    Section("accuracy", "Classification accuracy", table=True),
    Section("accuracy by city", "Accuracy per city"),
    Section("explanation area", "How large the explanations are"),
    Section("objects", "The object filter"),
)
