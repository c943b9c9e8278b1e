"""Assembling the report page: the Vega JS bundle inlined once, one spec per chart, no network.

The page reads top to bottom as a reader wants it: the findings (the headline tables and what
they say), a table of contents, then the details (every chart, with how it was made), the
figures, what the store holds and how everything was made. Every section runs its named query
through the store (the same call as `cityq query`), so the page shows what the CLI would.
Charts are drawn at the page's content width. Errors in the page's JavaScript are collected
into a visible box (and the console), so a broken chart never fails silently.
"""

from __future__ import annotations

import base64
import html
import json
import platform
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from cityq.charts.bundle import script_safe
from cityq.errors import CityqError
from cityq.report.sections import FINDINGS, REPORT_SECTIONS, Section

CONTENT_WIDTH = 1100  # px: the page's column (max-width 1200 px less margins); charts fill it

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1200px; padding: 0 24px; color: #222; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin-bottom: 4px; }
table.rows { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
table.rows th, table.rows td { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }
table.rows th { background: #f4f4f4; }
table.findings td, table.findings th { text-align: left; font-size: 13px; }
table.findings td:first-child { font-weight: 600; }
.how { font-size: 12px; color: #555; } code, pre { font-size: 12px; background: #f6f6f6; }
pre { padding: 6px; white-space: pre-wrap; max-height: 240px; overflow: auto; }
.note { color: #8a6d3b; font-size: 13px; } .sentence { font-size: 14px; }
nav.toc { font-size: 13px; background: #fafafa; border: 1px solid #eee; padding: 6px 16px; }
nav.toc ol { margin: 4px 0; } .chart { width: 100%; overflow-x: auto; }
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


@dataclass
class ReportResult:
    path: Path
    n_charts: int = 0
    problems: list[str] = field(default_factory=list)  # recorded data that could not be shown (`cityq
    # report` exits non-zero on these: e.g. masks the store records but cannot read)


@dataclass
class _Page:
    """What the sections add up to while the page is built."""

    specs: list = field(default_factory=list)  # (div id, Vega-Lite spec)
    toc: list = field(default_factory=list)  # (level, anchor, title)
    problems: list = field(default_factory=list)

    def anchor(self, title: str, level: int) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:48] or "section"
        anchor = f"{slug}-{len(self.toc)}"
        self.toc.append((level, anchor, title))
        return anchor


def write_report(store, path: str | Path, sections: tuple[Section, ...] = REPORT_SECTIONS) -> Path:
    """Write the report of `store` to `path` (one HTML file that works offline); returns the path."""
    return build_report(store, path, sections).path


def build_report(store, path: str | Path, sections: tuple[Section, ...] = REPORT_SECTIONS,
                 findings: tuple[Section, ...] = FINDINGS) -> ReportResult:
    """Write the report and say what it could not show (`ReportResult.problems`)."""
    from cityq.charts.bundle import vega_bundle
    from cityq.store.summary import segmenters_ingested

    page = _Page()
    segmenters = segmenters_ingested(store)
    top = ['<h2 id="findings">Findings</h2>']
    page.toc.append((1, "findings", "Findings"))
    for section in findings:
        top.append(_finding(store, section, segmenters, page))
    details = ['<h2 id="details">Details</h2>']
    page.toc.append((1, "details", "Details"))
    if len(segmenters) > 1:
        details.append(f'<p class="note">Per-object charts show the segmenter {_e(segmenters[0])}; the store also '
                       f'has ingests counted with {_e(", ".join(segmenters[1:]))} (<code>cityq chart NAME -p '
                       f'segmenter={_e(segmenters[1])}</code>).</p>')
    for section in sections:
        details.append(_detail(store, section, page))
    figures = _figures(store, page)
    body = "\n".join(top + details) + figures + _summary(store, page) + _provenance(store, page)
    text = _html(store, page, body, vega_bundle())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return ReportResult(path, len(page.specs), page.problems)


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _table(frame: pd.DataFrame, css: str = "rows") -> str:
    return frame.to_html(index=False, classes=css, border=0, float_format=lambda v: f"{v:.4g}", na_rep="")


def _known(name: str) -> bool:
    from cityq.queries.registry import list_queries

    return name in {q.name for q in list_queries()}


def _run(store, section: Section, params: dict):
    try:
        return store.query(section.query, **params), None
    except CityqError as exc:
        return None, str(exc)


def _finding(store, section: Section, segmenters: list[str], page: _Page) -> str:
    if not _known(section.query):
        return ""
    anchor = page.anchor(section.title, 2)
    out = [f'<h3 id="{anchor}">{_e(section.title)}</h3>']
    runs = [({**section.params, "segmenter": s}, f"segmenter {s}") for s in segmenters] \
        if section.per_segmenter and segmenters else [(section.params, "")]
    for params, label in runs:
        frame, error = _run(store, section, params)
        if label:
            own = " (the dataset&rsquo;s own labels)" if label.endswith(" labels") else ""
            out.append(f"<p><b>{_e(label)}</b>{own}</p>")
        if error is not None:
            out.append(f'<p class="note">Not available: {_e(error)}</p>')
            continue
        if frame.empty:
            out.append(f'<p class="note">No rows yet: the store has no data for <code>{_e(section.query)}</code>.</p>')
            continue
        if section.sentence is not None:
            out.append(f'<p class="sentence">{_e(section.sentence(frame))}</p>')
        shown = section.table_view(frame) if section.table_view else _columns(frame, section)
        out.append(_table(shown, "rows findings" if section.table_view else "rows"))
    return "\n".join(out)


def _columns(frame: pd.DataFrame, section: Section) -> pd.DataFrame:
    columns = [c for c in section.table_columns if c in frame.columns] or list(frame.columns)
    return frame[columns]


def _detail(store, section: Section, page: _Page) -> str:
    from cityq.charts import has_chart, render_chart
    from cityq.charts.registry import chart_params
    from cityq.queries.registry import find_query

    if not _known(section.query):
        return ""  # e.g. 'embedding' before the embeddings module exists
    query = find_query(section.query)
    params = chart_params(store, query, section.params) if section.chart else dict(section.params)
    title = section.title + (f" (segmenter {params['segmenter']})" if params.get("segmenter") else "")
    anchor = page.anchor(title, 2)
    body = [f'<h3 id="{anchor}">{_e(title)}</h3>']
    frame, error = _run(store, section, params)
    if error is not None:
        body.append(f'<p class="note">Not available: {_e(error)}</p>')
        return "\n".join(body)
    if frame.empty:
        body.append(f'<p class="note">No rows: the store has no data for <code>{_e(query.name)}</code> yet.</p>')
    else:
        if section.chart and has_chart(section.query):
            div = f"chart-{len(page.specs)}"
            page.specs.append((div, render_chart(section.query, frame, width=CONTENT_WIDTH).to_dict()))
            body.append(f'<div id="{div}" class="chart"></div>')
        if section.table:
            body.append(_table(section.table_view(frame) if section.table_view else _columns(frame, section)))
    body.append(_how(query, params, len(frame)))
    return "\n".join(body)


def _how(query, params: dict, n_rows: int) -> str:
    shown = {p.name: params.get(p.name, p.default) for p in query.params}

    def literal(v):
        return f"'{v}'" if isinstance(v, str) else str(v)

    call = f"SELECT * FROM {query.macro}(" + ", ".join(f"{k} := {literal(v)}" for k, v in params.items()) + ")"
    cli = f'cityq query "{query.name}"' + "".join(f" -p {k}={v}" for k, v in params.items())
    return (
        f'<details class="how"><summary>How this was made ({n_rows} rows)</summary>'
        f"<p>{_e(query.description)}</p>"
        f"<p>Parameters: {_e(', '.join(f'{k}={v}' for k, v in shown.items()) or 'none')}</p>"
        f"<p><code>{_e(cli)}</code> &nbsp;or in SQL: <code>{_e(call)}</code></p>"
        f"<pre>{_e(query.body)}</pre></details>"
    )


def _figures(store, page: _Page) -> str:
    """Fig 4 and Fig 6 as PNG data URIs. Masks the store records but cannot read are a problem
    (`cityq report` fails on it); a store without figures' data simply has none."""
    try:
        from cityq.figures import report_figures
    except ImportError:
        return ""
    anchor = page.anchor("Figures", 1)
    out = [f'<h2 id="{anchor}">Figures</h2>']
    try:
        figures = report_figures(store)
    except Exception as exc:  # unreadable masks or images: say so on the page and to the caller
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        page.problems.append(f"the image figures (Fig 4, Fig 6) could not be drawn: {first}")
        out.append(f'<p class="note">Not drawn: {_e(first)}</p>')
        return "\n".join(out)
    if not figures:
        out.append('<p class="note">No ingested masks yet: no image figures.</p>')
    for title, png in figures:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        out.append(f'<h3>{_e(title)}</h3><img class="figure" alt="{_e(title)}" src="{uri}">')
    return "\n".join(out)


def _summary(store, page: _Page) -> str:
    from cityq.store.summary import summarise

    anchor = page.anchor("What the store holds", 1)
    out = [f'<h2 id="{anchor}">What the store holds</h2>']
    for title, relation in summarise(store).items():
        frame = relation.df()
        out.append(f"<h3>{_e(title)}</h3>" + (_table(frame) if not frame.empty else '<p class="note">none</p>'))
    return "\n".join(out)


def _provenance(store, page: _Page) -> str:
    from cityq.store.summary import provenance

    anchor = page.anchor("How it was made", 1)
    return f'<h2 id="{anchor}">How it was made</h2>' + "".join(
        f"<h3>{_e(title)}</h3>" + _table(relation.df()) for title, relation in provenance(store).items())


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


def _toc(page: _Page) -> str:
    items, open_sub = [], False
    for level, anchor, title in page.toc:
        if level == 1:
            if open_sub:
                items.append("</ol></li>")
                open_sub = False
            items.append(f'<li><a href="#{anchor}">{_e(title)}</a>')
            following = page.toc[page.toc.index((level, anchor, title)) + 1:]
            if following and following[0][0] == 2:
                items.append("<ol>")
                open_sub = True
            else:
                items.append("</li>")
        else:
            items.append(f'<li><a href="#{anchor}">{_e(title)}</a></li>')
    if open_sub:
        items.append("</ol></li>")
    return '<nav class="toc"><b>Contents</b><ol>' + "".join(items) + "</ol></nav>"


def _html(store, page: _Page, body: str, bundle: str) -> str:
    embeds = script_safe(json.dumps([[div, spec] for div, spec in page.specs]), is_json=True)
    findings, rest = body.split('<h2 id="details">', 1)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>cityq report</title>
<style>{_STYLE}</style>
<script>{_ERROR_TRAP}</script>
<script>{script_safe(bundle)}</script>
</head><body>
<h1>cityq report</h1>
<p class="how">Store {_e(store.path)} &middot; written {datetime.now():%Y-%m-%d %H:%M} &middot; {_versions()}</p>
<div id="errors"></div>
{findings}
{_toc(page)}
<h2 id="details">{rest}
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
