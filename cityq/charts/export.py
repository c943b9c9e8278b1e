"""Writing a chart to .html (self-contained: the Vega JS inlined, no network), .png, .svg or .pdf."""

from __future__ import annotations

import html
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


def _write_html(chart: alt.TopLevelMixin, path: Path, scale: float) -> None:
    spec = chart.to_dict()
    title = spec.get("title", "cityq chart")
    title = title.get("text", "cityq chart") if isinstance(title, dict) else title
    path.write_text(
        _HTML.format(
            title=html.escape(str(title)),
            bundle=script_safe(vega_bundle()),
            spec=script_safe(json.dumps(spec), is_json=True),
        ),
        encoding="utf-8",
    )


# vl-convert renders png, svg and pdf offline; png at `scale` (2 by default: sharp in a paper).
_WRITERS = {
    ".html": _write_html,
    ".png": lambda chart, path, scale: chart.save(str(path), format="png", scale_factor=scale),
    ".svg": lambda chart, path, scale: chart.save(str(path), format="svg"),
    ".pdf": lambda chart, path, scale: chart.save(str(path), format="pdf"),
}


def check_chart_path(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in _WRITERS:
        raise CityqError(
            f"cannot write a chart as {path.suffix or 'a file without extension'}: use .html, .png, .svg or .pdf"
        )
    return path


def save_chart(chart: alt.TopLevelMixin, path: str | Path, scale: float = 2.0) -> Path:
    path = check_chart_path(path)
    if scale <= 0:
        raise CityqError(f"--scale must be positive, not {scale:g}")
    path.parent.mkdir(parents=True, exist_ok=True)
    _WRITERS[path.suffix.lower()](chart, path, scale)
    return path
