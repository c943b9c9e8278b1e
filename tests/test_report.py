"""The one-file HTML report: its content, and that it renders in a real headless Chromium."""

from __future__ import annotations

import html
import io
import os
import re
import shutil
import subprocess

import pytest
from contracts import one_line_error

from cityq.report import REPORT_SECTIONS, build_report, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# CI sets this (.ci/run installs chromium): there the browser test must run, not be skipped.
REQUIRE_BROWSER = os.environ.get("CITYQ_REQUIRE_BROWSER") == "1"


@pytest.fixture(scope="module")
def store(counts_store):
    return counts_store


@pytest.fixture(scope="module")
def page(store, tmp_path_factory):
    path = write_report(store, tmp_path_factory.mktemp("report") / "report.html")
    return path, path.read_text()


@pytest.fixture(scope="module")
def two_page(two_segmenter_store, tmp_path_factory):
    result = build_report(two_segmenter_store, tmp_path_factory.mktemp("report2") / "report.html")
    return result, result.path.read_text()


def _n_charts(text: str) -> int:
    return len(re.findall(r'<div id="chart-\d+" class="chart">', text))


def test_report_holds_summary_charts_tables_and_provenance(page):
    path, text = page
    assert _n_charts(text) >= 9  # every section with rows and a chart (no embeddings in this store)
    for heading in ("Findings", "Contents", "What the store holds", "Table 2: AR between every pair of models",
                    "How it was made", "Stage runs", "synthetic counts"):
        assert heading in text
    assert "signboard (" in text  # the headline table: objects with their lift
    assert "95% bootstrap lower bound" in text and "min_p" in text and "n_relabellings" in text


def test_findings_show_the_lifts_lower_bound_and_what_p_rests_on(store, page):
    """Each headline cell is `object (lift, lower bound)` as `top objects` computes them, and the
    Table 2 sentence gives p with the number of relabellings, the smallest possible p and the
    result at a common CAM resolution."""
    from cityq.report.sections import arch_vs_seed_sentence, top_objects_table

    _, text = page
    top = store.query("top objects")
    row = top[(top["segmenter"] == "labels") & (top["rank"] == 1)].iloc[0]
    cell = f"{row['object']} ({row['lift']:.2f}, {row['lift_low']:.2f})"
    assert cell in top_objects_table(top[top["segmenter"] == "labels"])[row["city"]].str.cat()
    assert cell in text
    versus = store.query("ar arch vs seed")
    tested = versus.dropna(subset=["p_value"]).iloc[0]
    sentence = arch_vs_seed_sentence(versus)
    assert f"all {int(tested['n_relabellings']):,} relabellings: p = {tested['p_value']:.3g}" in sentence
    assert f"the smallest p this design allows being {tested['min_p']:.3g}" in sentence
    assert "at a common resolution" in sentence and f"{tested['mean_ar_common']:.3f}" in sentence
    assert html.escape(sentence) in text
    assert "SELECT * FROM rpc_by_city(" in text  # how each chart was made
    assert "duckdb" in text and "vega-lite" in text  # versions
    assert not re.search(r'<script[^>]+src=', text)  # everything inline: works offline


def test_report_embeds_figures_from_the_figures_module(store, tmp_path, monkeypatch):
    from PIL import Image

    import cityq.figures

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    monkeypatch.setattr(cityq.figures, "report_figures", lambda s: [("Fig 6: masks", buffer.getvalue())])
    text = write_report(store, tmp_path / "r.html").read_text()
    assert "Fig 6: masks" in text and 'src="data:image/png;base64,' in text


def test_report_sections_are_named_queries():
    from cityq.queries.registry import list_queries

    known = {q.name for q in list_queries()}
    assert all(s.query in known or s.query == "embedding" for s in REPORT_SECTIONS)


def _chromium(args: list[str], profile, timeout=120) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=60000"]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.skipif(CHROMIUM is None and not REQUIRE_BROWSER,
                    reason="chromium is not installed (apt-get install chromium; CI installs it)")
def test_report_renders_in_headless_chromium(two_page, tmp_path):
    assert CHROMIUM is not None, "CITYQ_REQUIRE_BROWSER=1 but no chromium on PATH"
    result, text = two_page
    path = result.path
    url = path.resolve().as_uri()
    dom = _chromium(["--dump-dom", url], tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    # The page counts charts once every vegaEmbed resolved, and collects any JS error in #errors.
    assert f'data-charts="{_n_charts(text)}"' in dom.stdout, dom.stderr[-3000:]
    errors = re.search(r'<div id="errors">(.*?)</div>', dom.stdout, re.S).group(1)
    assert errors.strip() == ""
    assert not re.search(r"CONSOLE.*(Uncaught|Error)", dom.stderr)
    assert dom.stdout.count('class="marks"') >= _n_charts(text)  # one rendered SVG per chart

    shot = tmp_path / "report.png"
    result = _chromium([f"--screenshot={shot}", "--window-size=1280,2600", url], tmp_path / "profile-shot")
    assert result.returncode == 0 and shot.exists(), result.stderr[-2000:]
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    for colour in ((76, 120, 168), (245, 133, 24)):  # the first two city colours: bars were drawn
        near = (np.abs(pixels - colour).sum(axis=1) < 30).sum()
        assert near > 2000, f"screenshot shows too little of colour {colour}: {near} pixels"


# -- issue 19.1: findings first, one segmenter per table, the page's width --------------------

def _findings_tables(text: str) -> list[list[str]]:
    """The cells of each headline table of top objects (class 'findings')."""
    tables = re.findall(r'<table[^>]*class="[^"]*findings[^"]*".*?</table>', text, re.S)
    return [re.findall(r"<td>(.*?)</td>", t, re.S) for t in tables]


def test_the_headline_table_shows_one_segmenter_each_without_repeats(two_page):
    _, text = two_page
    tables = _findings_tables(text)
    assert len(tables) == 2  # labels and small-seg
    for cells in tables:
        for cell in cells:
            objects = re.findall(r"([a-z][a-z ,;]*?) \(\d+\.\d+\)", cell)
            objects = [o.strip(", ") for o in objects]
            assert len(objects) == len(set(objects)), cell  # no object twice for one model and city
            lifts = [float(v) for v in re.findall(r"\((\d+\.\d+)\)", cell)]
            assert lifts == sorted(lifts, reverse=True), cell  # in rank order
    labels, small = (" ".join(cells) for cells in tables)
    assert "skyscraper" in labels and "skyscraper" not in small  # small-seg never finds the planted objects


def test_findings_come_first_then_contents_then_details(two_page):
    _, text = two_page
    order = [text.index(marker) for marker in (
        'id="findings"', "Do architectures differ more than seeds", "How well the models tell the cities apart",
        '<nav class="toc">', 'id="details"', '<h2 id="what-the-store-holds', '<h2 id="how-it-was-made')]
    assert order == sorted(order)
    assert re.search(r"mean AR 0\.\d+ over \d+ pairs vs 0\.\d+ over \d+.*p = ", text)  # the finding in words
    anchors = set(re.findall(r'id="([^"]+)"', text))
    links = re.findall(r'<a href="#([^"]+)"', text)
    assert links and set(links) <= anchors


def test_report_charts_use_the_pages_width(two_page):
    import json

    from cityq.report.page import CONTENT_WIDTH

    _, text = two_page
    specs = json.loads(re.search(r"const cityqCharts = (\[.*?\]);\n", text, re.S).group(1).replace("<\\/", "</"))
    by_title = {}
    for _, spec in specs:
        title = spec.get("title", {})
        by_title[title.get("text", "") if isinstance(title, dict) else title] = spec
    rpc = next(s for t, s in by_title.items() if t.startswith("Which objects"))
    columns = 2  # cities
    assert rpc["spec"]["width"] * columns > 0.6 * CONTENT_WIDTH
    assert "segmenter labels" in text  # the detail charts say which segmenter they show


def test_report_exits_non_zero_when_masks_cannot_be_read(cli, tiny_ingested, copy_store, tmp_path):
    store = copy_store(tiny_ingested)
    ok = cli(["report", "-o", tmp_path / "ok.html", "--store", store])
    assert ok.exit_code == 0, ok.output
    for folder in (store / "arrays.zarr" / "masks").iterdir():
        if folder.is_dir():
            shutil.rmtree(folder)  # the masks are gone; DuckDB still records them
    out = tmp_path / "broken.html"
    result = cli(["report", "-o", out, "--store", store])
    one_line_error(result, "could not be drawn", "cityq check")
    assert out.exists() and "Not drawn" in out.read_text()  # the page is still written, and says so
