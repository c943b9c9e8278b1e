"""The one-file HTML report: its content, and that it renders in a real headless Chromium."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import pytest

from cityq.report import REPORT_SECTIONS, write_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def store(counts_store):
    return counts_store


@pytest.fixture(scope="module")
def page(store, tmp_path_factory):
    path = write_report(store, tmp_path_factory.mktemp("report") / "report.html")
    return path, path.read_text()


def _n_charts(text: str) -> int:
    return len(re.findall(r'<div id="chart-\d+" class="chart">', text))


def test_report_holds_summary_charts_tables_and_provenance(page):
    path, text = page
    assert _n_charts(text) >= 9  # every section with rows and a chart (no embeddings in this store)
    for heading in ("What the store holds", "Table 2: AR between every pair of models", "How it was made",
                    "Stage runs", "synthetic counts"):
        assert heading in text
    assert "top objects (lift)" in text and "signboard" in text
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


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(page, tmp_path):
    path, text = page
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
