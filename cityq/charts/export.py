"""Writing a chart to .html (self-contained: the Vega JS inlined, no network), .png or .svg."""

from __future__ import annotations

import json
from pathlib import Path

import altair as alt

from cityq.charts.bundle import script_safe, vega_bundle
from cityq.errors import CityqError

_HTML = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<script>{bundle}</script></head>
<body><div id="chart"></div>
<script>
vegaEmbed('#chart', {spec}, {{mode: 'vega-lite'}}).catch((e) => console.error(e));
</script></body></html>
"""


def _write_html(chart: alt.TopLevelMixin, path: Path) -> None:
    spec = chart.to_dict()
    title = spec.get("title", "cityq chart")
    title = title.get("text", "cityq chart") if isinstance(title, dict) else title
    import html

    path.write_text(
        _HTML.format(
            title=html.escape(str(title)),
            bundle=script_safe(vega_bundle()),
            spec=script_safe(json.dumps(spec), is_json=True),
        ),
        encoding="utf-8",
    )


# vl-convert renders png and svg offline; png at 2x so it stays sharp in a paper.
_WRITERS = {
    ".html": _write_html,
    ".png": lambda chart, path: chart.save(str(path), format="png", scale_factor=2),
    ".svg": lambda chart, path: chart.save(str(path), format="svg"),
}


def save_chart(chart: alt.TopLevelMixin, path: str | Path) -> Path:
    path = Path(path)
    writer = _WRITERS.get(path.suffix.lower())
    if writer is None:
        raise CityqError(
            f"cannot write a chart as {path.suffix or 'a file without extension'}: use .html, .png or .svg"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    writer(chart, path)
    return path
