"""Every registered chart renders from its query's rows and exports to html, png and svg."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from cityq.charts import chart_names, render_chart, save_chart
from cityq.errors import CityqError
from cityq.store import Store
from cityq.store.synthetic_counts import SyntheticCountsConfig, write_synthetic_counts


@pytest.fixture(scope="module")
def store(counts_store):
    return counts_store


def _with_rows(store):
    from cityq.queries.registry import list_queries

    known = {q.name for q in list_queries()}
    return [name for name in chart_names() if name in known and len(store.query(name))]


def test_catalogue_queries_have_charts(store):
    for name in ("rpc by city", "rpc by city ci", "rpc sweep", "top objects", "ar by model pair",
                 "ar arch vs seed", "accuracy", "accuracy by city", "explanation area", "objects"):
        assert name in chart_names()


@pytest.mark.parametrize("name", ["rpc by city", "rpc by city ci", "rpc sweep", "top objects", "ar by model pair",
                                  "ar arch vs seed", "accuracy", "accuracy by city", "explanation area", "objects"])
def test_chart_spec_has_a_title_and_the_query_rows(store, name):
    frame = store.query(name)
    spec = render_chart(name, frame).to_dict()
    assert spec.get("title"), name
    text = json.dumps(spec)
    assert '"datasets"' in text  # the rows travel inside the spec: no data URL, no network


def test_object_panels_sort_objects_by_rpc(store):
    """Each panel's objects sort by R_pc, not alphabetically (a stacked layer would undo it)."""
    import vl_convert

    spec = render_chart("rpc by city", store.query("rpc by city")).to_dict()
    vega = json.dumps(vl_convert.vegalite_to_vega(spec))
    domain = re.search(r'"name": "child_y".{0,200}', vega).group(0)
    assert '"sort": {"op": "max", "field": "rpc", "order": "descending"}' in domain


def test_one_colour_per_city_across_charts(store):
    colours = []
    for name in ("rpc by city", "accuracy by city", "explanation area"):
        spec = render_chart(name, store.query(name)).to_dict()
        colours.append(json.dumps(spec).count('"domain": ["pittsburgh", "tokyo"]'))
    assert all(c >= 1 for c in colours)


@pytest.mark.parametrize("suffix", [".html", ".png", ".svg"])
def test_save_chart_formats(store, tmp_path, suffix):
    chart = render_chart("ar by model pair", store.query("ar by model pair"))
    path = save_chart(chart, tmp_path / f"ar{suffix}")
    data = path.read_bytes()
    assert len(data) > 1000
    if suffix == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    if suffix == ".svg":
        assert b"<svg" in data[:500]
    if suffix == ".html":
        text = data.decode()
        assert "vegaEmbed" in text and "window.vegaEmbed" in text  # the library itself is inlined
        assert not re.search(r'<script[^>]+src=["\']https?://', text)  # nothing fetched at load time


def test_unknown_format_and_empty_rows_say_what_to_do(store, tmp_path):
    chart = render_chart("accuracy", store.query("accuracy"))
    with pytest.raises(CityqError, match=r"\.html, \.png or \.svg"):
        save_chart(chart, tmp_path / "a.pdf")
    with pytest.raises(CityqError, match="no rows"):
        render_chart("accuracy", pd.DataFrame(columns=["model", "accuracy", "n_images"]))
    with pytest.raises(CityqError, match="no chart"):
        render_chart("no such query", store.query("accuracy"))


def test_embedding_chart_when_rows_exist():
    frame = pd.DataFrame({"model": ["m"] * 4, "city": ["a", "a", "b", "b"], "image_id": [1, 2, 3, 4],
                          "x": [0.0, 1.0, 2.0, 3.0], "y": [1.0, 0.0, 1.0, 0.0], "method": ["sklearn"] * 4})
    spec = render_chart("embedding", frame).to_dict()
    assert "t-SNE" in json.dumps(spec)


def test_chart_cli_writes_html_png_svg(tmp_path):
    from typer.testing import CliRunner

    from cityq.cli import app

    store_dir = tmp_path / "store"
    with Store.create(store_dir) as s:
        write_synthetic_counts(s, SyntheticCountsConfig(n_images=20, archs=("vgg11",), seeds=(0, 1), size=64))
    runner = CliRunner()
    for suffix in (".html", ".png", ".svg"):
        out = tmp_path / f"fig5{suffix}"
        result = runner.invoke(app, ["chart", "rpc by city", "-o", str(out), "--store", str(store_dir),
                                     "-p", "threshold=0.3"])
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000
    bad = runner.invoke(app, ["chart", "rpc by city", "-o", str(tmp_path / "x.png"), "--store", str(store_dir),
                              "-p", "threshold=0.33"])
    assert bad.exit_code != 0 and "not on the stored grid" in bad.output


def test_script_safe_keeps_regex_literals_and_closes_no_script():
    from cityq.charts.bundle import script_safe

    assert script_safe('a = /</g; b = "</script>"') == 'a = /</g; b = "<\\/script>"'
    assert script_safe('{"t": "</b>"}', is_json=True) == '{"t": "<\\/b>"}'
