"""Altair charts for the named queries, registered by query name.

    df = store.query("rpc by city")
    chart = render_chart("rpc by city", df)
    save_chart(chart, "rpc.html")   # or .png / .svg
"""

# Importing the modules registers their charts.
from cityq.charts import accuracy, ar, area, embedding, objects, rpc, sweep  # noqa: E402,F401
from cityq.charts.export import save_chart
from cityq.charts.registry import chart_names, has_chart, register_chart, render_chart

__all__ = ["chart_names", "has_chart", "register_chart", "render_chart", "save_chart"]
