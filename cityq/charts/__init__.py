"""Altair charts for the named queries, registered by query name.

    chart = store.chart("rpc by city", threshold=0.3)     # or, from rows you already have:
    chart = render_chart("rpc by city", store.query("rpc by city"))
    save_chart(chart, "rpc.html")   # or .png / .svg / .pdf

Importing this package is cheap (`cityq query --list` asks `catalog.has_chart`); Altair and the
chart modules load when a chart is first drawn.
"""

from __future__ import annotations

_API = {
    "chart_names": "cityq.charts.registry",
    "has_chart": "cityq.charts.registry",
    "register_chart": "cityq.charts.registry",
    "render_chart": "cityq.charts.registry",
    "chart_of": "cityq.charts.registry",
    "save_chart": "cityq.charts.export",
}


def __getattr__(name):
    if name in _API:
        import importlib

        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(name)


__all__ = sorted(_API)
