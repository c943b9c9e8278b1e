"""Charts keyed by named-query name: `@register_chart("rpc by city")` and `render_chart(name, df)`."""

from __future__ import annotations

import warnings
from typing import Callable

import altair as alt
import pandas as pd

from cityq.errors import CityqError
from cityq.queries.registry import normalise

ChartFn = Callable[[pd.DataFrame], alt.TopLevelMixin]
_CHARTS: dict[str, tuple[str, ChartFn]] = {}


def register_chart(query_name: str) -> Callable[[ChartFn], ChartFn]:
    """Register the chart of a named query's result (one chart per query)."""

    def wrap(fn: ChartFn) -> ChartFn:
        key = normalise(query_name)
        if key in _CHARTS:
            warnings.warn(f"chart for {query_name!r} registered twice; the later one wins", stacklevel=2)
        _CHARTS[key] = (query_name, fn)
        return fn

    return wrap


def chart_names() -> list[str]:
    """Query names that have a chart, in registration order."""
    return [name for name, _ in _CHARTS.values()]


def has_chart(query_name: str) -> bool:
    return normalise(query_name) in _CHARTS


def render_chart(query_name: str, frame: pd.DataFrame) -> alt.TopLevelMixin:
    """The chart of a named query's result `frame` (as returned by `store.query(query_name)`)."""
    entry = _CHARTS.get(normalise(query_name))
    if entry is None:
        known = ", ".join(repr(n) for n in chart_names())
        raise CityqError(f"no chart for query {query_name!r}; charts exist for: {known}")
    if frame.empty:
        raise CityqError(
            f"query {query_name!r} returned no rows, so there is nothing to chart; "
            "check its parameters (`cityq query --list`) and what the store holds (`cityq info`)"
        )
    return entry[1](frame)
