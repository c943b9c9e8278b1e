"""Assembling the report page: the Vega JS bundle inlined once, one spec per chart, no network.

Every section runs its named query through the store (the same call as `cityq query`), so the
page shows what the CLI would; a section whose query has no rows says so instead of a chart.
Errors in the page's JavaScript are collected into a visible box (and the console), so a broken
chart never fails silently.
"""

from __future__ import annotations

import base64
import html
import json
import platform
from datetime import datetime
from pathlib import Path

import pandas as pd

from cityq.charts.bundle import script_safe
from cityq.errors import CityqError
from cityq.report.sections import REPORT_SECTIONS, Section

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; }
table.rows { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
table.rows th, table.rows td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }
table.rows th { background: #f4f4f4; }
.how { font-size: 12px; color: #555; } code, pre { font-size: 12px; background: #f6f6f6; }
pre { padding: 6px; white-space: pre-wrap; max-height: 240px; overflow: auto; }
.note { color: #8a6d3b; font-size: 13px; }
#errors { color: #a00; white-space: pre-wrap; }
img.figure { max-width: 100%; border: 1px solid #eee; }
"""

# Runs before any chart: every error (console.error, uncaught, a failed embed) lands in #errors.
_ERROR_TRAP = """
window.cityqErrors = [];
(function () {
  const show = (msg) => { window.cityqErrors.push(msg);
    const box = document.getElementById('errors'); if (box) box.textContent += msg + '\\n'; };
  const original = console.error.bind(console);
  console.error = (...args) => { show(args.map(String).join(' ')); original(...args); };
  window.addEventListener('error', (e) => show('error: ' + e.message));
  window.addEventListener('unhandledrejection', (e) => show('error: ' + e.reason));
})();
"""


def write_report(store, path: str | Path, sections: tuple[Section, ...] = REPORT_SECTIONS) -> Path:
    """Write the report of `store` to `path` (one HTML file that works offline); returns the path."""
    from cityq.charts import has_chart, render_chart
    from cityq.charts.bundle import vega_bundle
    from cityq.queries.registry import find_query, list_queries

    known = {q.name for q in list_queries()}
    parts: list[str] = []
    specs: list[tuple[str, dict]] = []
    for index, section in enumerate(sections):
        if section.query not in known:
            continue  # e.g. 'embedding' before the embeddings module exists
        query = find_query(section.query)
        body = [f"<h2>{_e(section.title)}</h2>"]
        try:
            frame = store.query(section.query, **section.params)
        except CityqError as exc:
            body.append(f'<p class="note">Not available: {_e(str(exc))}</p>')
            parts.append("\n".join(body))
            continue
        if frame.empty:
            body.append(f'<p class="note">No rows: the store has no data for `{_e(query.name)}` yet.</p>')
        else:
            if section.chart and has_chart(section.query):
                div = f"chart-{index}"
                specs.append((div, render_chart(section.query, frame).to_dict()))
                body.append(f'<div id="{div}" class="chart"></div>')
            if section.table:
                columns = [c for c in section.table_columns if c in frame.columns] or list(frame.columns)
                shown = section.table_view(frame) if section.table_view else frame[columns]
                body.append(_table(shown))
        body.append(_how(query, section.params, len(frame)))
        parts.append("\n".join(body))
    figures = _figures(store)
    page = _page(store, parts, figures, specs, vega_bundle())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, classes="rows", border=0, float_format=lambda v: f"{v:.4g}", na_rep="")


def _how(query, params: dict, n_rows: int) -> str:
    shown = {p.name: params.get(p.name, p.default) for p in query.params}
    call = f"SELECT * FROM {query.macro}(" + ", ".join(f"{k} := {v}" for k, v in params.items()) + ")"
    cli = f'cityq query "{query.name}"' + "".join(f" -p {k}={v}" for k, v in params.items())
    return (
        f'<details class="how"><summary>How this was made ({n_rows} rows)</summary>'
        f"<p>{_e(query.description)}</p>"
        f"<p>Parameters: {_e(', '.join(f'{k}={v}' for k, v in shown.items()) or 'none')}</p>"
        f"<p><code>{_e(cli)}</code> &nbsp;or in SQL: <code>{_e(call)}</code></p>"
        f"<pre>{_e(query.body)}</pre></details>"
    )


def _figures(store) -> list[tuple[str, str | None, str | None]]:
    """(title, PNG data URI or None, note) from cityq.figures when that module is installed."""
    try:
        from cityq.figures import report_figures
    except ImportError:
        return []
    try:
        figures = report_figures(store)
    except Exception as exc:  # a store without masks (synthetic counts) has no image figures
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [("Image figures (Fig 4, Fig 6)", None, f"not drawn: {first}")]
    return [(title, "data:image/png;base64," + base64.b64encode(png).decode("ascii"), None) for title, png in figures]


def _summary(store) -> str:
    try:
        from cityq.store.summary import summarise

        sections = summarise(store)
    except ImportError:
        sections = {}
    out = []
    for title, frame in sections.items():
        out.append(f"<h3>{_e(title)}</h3>" + (_table(frame) if not frame.empty else '<p class="note">none</p>'))
    return "\n".join(out)


def _provenance(store) -> str:
    from cityq.store.summary import provenance

    return "".join(f"<h3>{_e(title)}</h3>" + _table(frame) for title, frame in provenance(store).items())


def _versions() -> str:
    import altair
    import duckdb
    import vl_convert

    from cityq.store import code_version

    versions = {
        "cityq": code_version(), "python": platform.python_version(), "duckdb": duckdb.__version__,
        "altair": altair.__version__, "vega-lite": altair.SCHEMA_VERSION, "vl-convert": vl_convert.__version__,
    }
    return ", ".join(f"{k} {_e(v)}" for k, v in versions.items())


def _script_json(value) -> str:
    return script_safe(json.dumps(value), is_json=True)


def _page(store, parts, figures, specs, bundle: str) -> str:
    figure_html = []
    for title, uri, note in figures:
        figure_html.append(f"<h3>{_e(title)}</h3>")
        figure_html.append(
            f'<img class="figure" alt="{_e(title)}" src="{uri}">' if uri else f'<p class="note">{_e(note)}</p>')
    embeds = _script_json([[div, spec] for div, spec in specs])
    body = "".join(parts)
    safe_bundle = script_safe(bundle)
    figures_block = "<h2>Figures</h2>" + "".join(figure_html) if figure_html else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>cityq report</title>
<style>{_STYLE}</style>
<script>{_ERROR_TRAP}</script>
<script>{safe_bundle}</script>
</head><body>
<h1>cityq report</h1>
<p class="how">Store {_e(store.path)} &middot; written {datetime.now():%Y-%m-%d %H:%M} &middot; {_versions()}</p>
<div id="errors"></div>
<h2>What the store holds</h2>
{_summary(store)}
{body}
{figures_block}
<h2>How it was made</h2>
{_provenance(store)}
<script>
const cityqCharts = {embeds};
Promise.all(cityqCharts.map(([div, spec]) =>
    vegaEmbed('#' + div, spec, {{mode: 'vega-lite', actions: false, renderer: 'svg'}})))
  .then(() => {{ document.body.dataset.charts = String(cityqCharts.length);
                 console.log('cityq report: ' + cityqCharts.length + ' charts rendered'); }})
  .catch((e) => console.error('chart failed: ' + e));
</script>
</body></html>
"""
