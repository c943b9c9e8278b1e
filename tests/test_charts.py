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
    with pytest.raises(CityqError, match=r"\.html, \.png, \.svg or \.pdf"):
        save_chart(chart, tmp_path / "a.gif")
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


# -- issue 19.2: charts that do not mislead ---------------------------------------------------

SEGMENTED = ("rpc by city", "rpc by city ci", "rpc sweep", "top objects", "explanation area", "objects")


def _spec_parts(spec: dict):
    """Every view of a spec (layers, concatenations, facet specs), depth first."""
    yield spec
    for key in ("layer", "vconcat", "hconcat", "concat"):
        for part in spec.get(key, []):
            yield from _spec_parts(part)
    if "spec" in spec:
        yield from _spec_parts(spec["spec"])


def _facet_fields(spec: dict) -> list[str]:
    fields = []
    for part in _spec_parts(spec):
        facet = part.get("facet", {})
        if isinstance(facet, dict):
            for key in ("row", "column", "field"):
                value = facet.get(key, facet if key == "field" else None)
                if isinstance(value, dict) and "field" in value:
                    fields.append(value["field"])
                elif key == "field" and isinstance(value, str):
                    fields.append(value)
        for channel in ("row", "column", "facet"):
            encoded = part.get("encoding", {}).get(channel)
            if encoded and "field" in encoded:
                fields.append(encoded["field"])
    return sorted(set(fields))


def _rows(spec: dict) -> pd.DataFrame:
    datasets = spec.get("datasets", {})
    return pd.concat([pd.DataFrame(rows) for rows in datasets.values()], ignore_index=True)


@pytest.mark.parametrize("name", SEGMENTED)
def test_every_view_shows_one_segmenter(two_segmenter_store, name):
    frame = two_segmenter_store.query(name)
    assert frame["segmenter"].nunique() == 2
    spec = render_chart(name, frame).to_dict()
    rows = _rows(spec)
    fields = _facet_fields(spec)
    assert fields, f"{name}: no panels"
    per_view = rows.groupby(fields)["segmenter"].nunique()
    assert per_view.max() == 1, f"{name}: a panel mixes segmenters ({fields})"


@pytest.mark.parametrize("name", SEGMENTED)
def test_charts_default_to_the_datasets_own_labels(two_segmenter_store, name):
    from cityq.charts import chart_of

    rows = _rows(chart_of(two_segmenter_store, name).to_dict())
    assert set(rows["segmenter"]) == {"labels"}
    mine = _rows(chart_of(two_segmenter_store, name, {"segmenter": ["small-seg"]}).to_dict())
    assert set(mine["segmenter"]) == {"small-seg"}


@pytest.mark.parametrize("name", ["rpc by city", "rpc by city ci", "rpc sweep", "top objects"])
def test_a_lift_of_one_is_drawn_wherever_lift_is(store, name):
    spec = render_chart(name, store.query(name)).to_dict()
    parts = list(_spec_parts(spec))
    on_axis = [c for p in parts for c, e in p.get("encoding", {}).items()
               if c in ("x", "y") and e.get("field") == "lift"]
    if on_axis:  # lift is an axis: a rule at datum 1 across it
        assert any(p.get("encoding", {}).get(on_axis[0], {}).get("datum") == 1 for p in parts), name
    else:  # lift is a label on R_pc bars: a tick where R_pc / lift, i.e. lift = 1
        assert any(p.get("encoding", {}).get("x", {}).get("field") == "random_rpc" for p in parts), name
        rows = _rows(spec).dropna(subset=["random_rpc"])
        assert ((rows["rpc"] / rows["random_rpc"] - rows["lift"]).abs() < 1e-9).all()


def test_the_object_filter_is_one_line_per_panel_and_each_object_once(two_segmenter_store):
    frame = two_segmenter_store.query("objects")
    spec = render_chart("objects", frame).to_dict()
    rows = _rows(spec)
    assert not rows.duplicated(["segmenter", "city", "object"]).any()  # no label drawn twice
    rules = [p for p in _spec_parts(spec) if (p.get("mark") or {}).get("type") == "rule"
             or p.get("mark") == "rule"]
    assert rules and all("y" not in r.get("encoding", {}) for r in rules)  # across the panel, not per bar
    text = json.dumps(spec)
    assert "~s" not in text or "datum.value < 1" in text  # 0.1 is not written as 100m


def test_sweep_lines_are_named_at_their_ends(store):
    from cityq.charts.sweep import TOP_OBJECTS

    spec = render_chart("rpc sweep", store.query("rpc sweep")).to_dict()
    rows = _rows(spec)
    named = rows[rows["end_label"] != ""]
    per_line = named.groupby(["panel", "city", "object"]).size()
    assert (per_line == 1).all()
    assert (rows.groupby(["panel", "city"])["object"].nunique() <= TOP_OBJECTS).all()
    assert (named["end_label"] == named["object"]).all()
    assert named.groupby(["panel", "city"])["threshold"].nunique().eq(1).all()  # all at the right end


def test_explanation_area_draws_each_model_once_with_short_titles(two_segmenter_store):
    spec = render_chart("explanation area", two_segmenter_store.query("explanation area")).to_dict()
    rows = _rows(spec)
    assert not rows.duplicated(["model", "city", "threshold"]).any()
    titles = [p["encoding"]["y"].get("title", "") for p in _spec_parts(spec) if "y" in p.get("encoding", {})]
    assert titles and all(len(t) <= 12 for t in titles)  # row titles do not run into each other


def test_charts_fill_the_width_they_are_given(store):
    narrow = render_chart("rpc by city", store.query("rpc by city"), width=600).to_dict()
    wide = render_chart("rpc by city", store.query("rpc by city"), width=1200).to_dict()
    assert wide["spec"]["width"] > 1.8 * narrow["spec"]["width"]


def test_pdf_scale_and_training_curves(store, tmp_path, counts_store):
    chart = render_chart("accuracy", store.query("accuracy"))
    pdf = save_chart(chart, tmp_path / "a.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    small, large = save_chart(chart, tmp_path / "s.png", scale=1), save_chart(chart, tmp_path / "l.png", scale=3)
    from PIL import Image

    assert Image.open(large).width >= 2.9 * Image.open(small).width
    frame = pd.DataFrame({"model": ["m"] * 4, "arch": ["vgg11"] * 4, "seed": [0] * 4, "epoch": [1, 1, 2, 2],
                          "split": ["train", "val"] * 2, "loss": [0.7, 0.8, 0.5, 0.6],
                          "accuracy": [0.5, 0.4, 0.7, 0.6], "lr": [1e-4] * 4, "seconds": [1.0] * 4})
    assert "Training curves" in json.dumps(render_chart("training curves", frame).to_dict())


def test_the_chart_catalogue_matches_the_registered_charts():
    from cityq.charts.catalog import CHARTED

    assert sorted(CHARTED) == sorted(chart_names())


def test_store_chart_and_chart_list(two_segmenter_store, cli):
    chart = two_segmenter_store.chart("top objects", k=2)
    assert set(_rows(chart.to_dict())["segmenter"]) == {"labels"}
    listed = cli(["chart", "--list"]).stdout.split("\n")
    assert "rpc by city" in listed and "training curves" in listed


def test_top_objects_draw_the_lifts_bootstrap_interval(store):
    """A whisker from lift_low to lift_high on each bar: the lower bound a reader needs to judge
    a lift, with the rows' own values."""
    frame = store.query("top objects")
    spec = render_chart("top objects", frame).to_dict()
    parts = list(_spec_parts(spec))
    assert any(p.get("encoding", {}).get("x", {}).get("field") == "lift_low"
               and p.get("encoding", {}).get("x2", {}).get("field") == "lift_high" for p in parts)
    rows = _rows(spec)
    assert (rows["lift_low"] <= rows["lift"]).all() and (rows["lift"] <= rows["lift_high"]).all()


def test_arch_vs_seed_chart_shows_both_resolutions_and_what_p_rests_on(store):
    frame = store.query("ar arch vs seed")
    spec = render_chart("ar arch vs seed", frame).to_dict()
    rows = _rows(spec)
    assert set(rows["resolution"]) == {"native CAMs", "common resolution"}
    common = rows[rows["resolution"] == "common resolution"].set_index("comparison")["ar"]
    assert common.to_dict() == pytest.approx(frame.set_index("comparison")["mean_ar_common"].to_dict())
    subtitle = " ".join(spec["title"]["subtitle"])
    tested = frame.dropna(subset=["p_value"]).iloc[0]
    assert f"all {int(tested['n_relabellings']):,} relabellings" in subtitle
    assert f"p = {tested['p_value']:.3g} (smallest possible {tested['min_p']:.3g})" in subtitle
    assert "at a common CAM resolution: p =" in subtitle
