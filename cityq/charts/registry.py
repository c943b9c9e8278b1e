"""Charts keyed by named-query name: `@register_chart("rpc by city")` and `render_chart(name, df)`.

A chart function takes the query's rows (a DataFrame) and, if it declares it, `width`: the
width in pixels the whole chart may use (a page's column, a report's content width), which
faceted charts share among their panels.
"""

from __future__ import annotations

import importlib
import inspect
import json
import warnings
from pathlib import Path
from typing import Any, Callable

import altair as alt
import pandas as pd

from cityq.charts.catalog import CHART_MODULES
from cityq.charts.theme import PAGE_WIDTH
from cityq.errors import CityqError
from cityq.queries.registry import normalise

ChartFn = Callable[..., alt.TopLevelMixin]
_CHARTS: dict[str, tuple[str, ChartFn]] = {}
_loaded = False


def register_chart(query_name: str) -> Callable[[ChartFn], ChartFn]:
    """Register the chart of a named query's result (one chart per query)."""

    def wrap(fn: ChartFn) -> ChartFn:
        key = normalise(query_name)
        if key in _CHARTS:
            warnings.warn(f"chart for {query_name!r} registered twice; the later one wins", stacklevel=2)
        _CHARTS[key] = (query_name, fn)
        return fn

    return wrap


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in CHART_MODULES:
            importlib.import_module(f"cityq.charts.{module}")


def chart_names() -> list[str]:
    """Query names that have a chart, in registration order."""
    _load()
    return [name for name, _ in _CHARTS.values()]


def has_chart(query_name: str) -> bool:
    _load()
    return normalise(query_name) in _CHARTS


def render_chart(query_name: str, frame: pd.DataFrame, width: int = PAGE_WIDTH,
                 spec_file: str = "") -> alt.TopLevelMixin:
    """The chart of a named query's result `frame` (as returned by `store.query(query_name)`);
    `spec_file`: a user query's own Vega-Lite chart, filled with the rows."""
    _load()
    if frame.empty:
        raise CityqError(
            f"query {query_name!r} returned no rows, so there is nothing to chart; "
            "check its parameters (`cityq query --list`) and what the store holds (`cityq info`)"
        )
    if spec_file:
        return _user_chart(spec_file, frame)
    entry = _CHARTS.get(normalise(query_name))
    if entry is None:
        known = ", ".join(repr(n) for n in chart_names())
        raise CityqError(f"no chart for query {query_name!r}; charts exist for: {known}")
    fn = entry[1]
    if "width" in inspect.signature(fn).parameters:
        return fn(frame, width=width)
    return fn(frame)


def _user_chart(spec_file: str, frame: pd.DataFrame) -> alt.TopLevelMixin:
    try:
        spec = json.loads(Path(spec_file).read_text())
    except (OSError, ValueError) as exc:
        raise CityqError(f"cannot read the chart spec {spec_file}: {exc}") from exc
    spec.pop("data", None)
    spec["data"] = {"values": json.loads(frame.to_json(orient="records", date_format="iso"))}
    spec.setdefault("$schema", alt.SCHEMA_URL)
    kinds = {"mark": alt.Chart, "layer": alt.LayerChart, "facet": alt.FacetChart, "vconcat": alt.VConcatChart,
             "hconcat": alt.HConcatChart, "concat": alt.ConcatChart, "repeat": alt.RepeatChart}
    kind = next((cls for key, cls in kinds.items() if key in spec), None)
    if kind is None:
        raise CityqError(f"{spec_file} is not a Vega-Lite chart: it has none of {', '.join(kinds)}")
    try:
        return kind.from_dict(spec, validate=False)
    except Exception as exc:  # a malformed spec: say which file
        raise CityqError(f"{spec_file} is not a Vega-Lite spec Altair can read: {exc}") from exc


def chart_params(store, query, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters a chart runs its query with: one segmenter per chart unless the user
    chose (`segmenter=null` asks for all, one panel each), by default the dataset's own labels
    (else the segmenter most ingests used)."""
    params = dict(params)
    if query.param("segmenter") is not None and "segmenter" not in params:
        from cityq.store.summary import default_segmenter

        chosen = default_segmenter(store)
        if chosen is not None:
            params["segmenter"] = chosen
    return params


def chart_of(store, name: str, params: dict[str, Any] | None = None, width: int = PAGE_WIDTH) -> alt.TopLevelMixin:
    """Run a named query on `store` and draw its chart (what `cityq chart` and `store.chart` do)."""
    from cityq.queries.registry import find_query

    query = find_query(name, store.user_queries)
    if not query.chart_file and not has_chart(query.name):
        raise CityqError(f"query {query.name!r} has no chart; charts exist for: {', '.join(chart_names())}")
    frame = store.query(query.name, **chart_params(store, query, params or {}))
    return render_chart(query.name, frame, width=width, spec_file=query.chart_file)
