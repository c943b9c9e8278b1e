"""Which named queries have a chart, known without importing Altair (for `cityq query --list`).
tests/test_charts.py checks this list against the charts the modules register."""

from __future__ import annotations

CHART_MODULES = ("accuracy", "ar", "area", "embedding", "objects", "reliance", "rpc", "sweep", "training")

CHARTED = (
    "accuracy", "accuracy by city", "ar by model pair", "ar arch vs seed", "explanation area", "embedding",
    "objects", "rpc by city", "rpc by city ci", "top objects", "rpc sweep", "training curves", "lift vs reliance",
)


def has_chart(query_name: str) -> bool:
    from cityq.queries.registry import normalise

    return normalise(query_name) in {normalise(n) for n in CHARTED}
