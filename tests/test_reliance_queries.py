"""`reliance by city`, `lift vs reliance`, `rpc vs reliance` against pandas, scipy and a numpy bootstrap.

The store holds synthetic count rows (no CNN) and synthetic reliance rows drawn for every
(image, object) the counts have, with an object's true reliance tied to its lift, and places
of three views each (so the bootstrap must resample places, not images).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from cityq.store import Store
from cityq.store.synthetic_counts import SyntheticCountsConfig, write_synthetic_counts

VIEWS = 3


@pytest.fixture(scope="module")
def store():
    store = Store(":memory:")
    write_synthetic_counts(store, SyntheticCountsConfig(n_images=240, archs=("vgg11", "simple"), seeds=(0,), size=64,
                                                        objects_per_image=8, with_residuals=False))
    # Views of one place: images (1, 3, 5), (2, 4, 6), ... share a place within their city.
    store.con.execute("UPDATE images SET place_id = ((image_id - 1) // (2 * $v))::VARCHAR", {"v": VIEWS})
    lift = store.query("rpc by city")
    rng = np.random.default_rng(7)
    counts = store.fetch_df("SELECT g.model, g.segmentation_id, oc.image_id, oc.object_id, oc.n_pixels, i.city, "
                            "m.cities FROM object_counts oc JOIN ingests g USING (ingest_id) "
                            "JOIN images i USING (image_id) JOIN models m ON m.model = g.model")
    # True reliance: higher for objects Grad-CAM lifts more, plus noise per image.
    truth = lift.assign(effect=lambda f: 0.1 * np.log(f["lift"].clip(lower=1e-3)) + rng.normal(0, 0.01, len(f)))
    counts = counts.merge(truth[["model", "city", "object_id", "effect"]], on=["model", "city", "object_id"],
                          how="left")
    counts["effect"] = counts["effect"].fillna(0.0)
    n = len(counts)
    # Views of a place look alike: most of the noise of a removal is the place's, shared by its views.
    place = counts.merge(store.fetch_df("SELECT image_id, place_id FROM images"), on="image_id")["place_id"]
    shared = {key: v for key, v in zip(sorted(set(zip(place, counts["object_id"]))),
                                       rng.normal(0, 0.06, len(set(zip(place, counts["object_id"])))))}
    place_noise = np.array([shared[key] for key in zip(place, counts["object_id"])])
    p_before = rng.uniform(0.5, 0.99, n)
    p_after = np.clip(p_before - counts["effect"].to_numpy() - place_noise - rng.normal(0, 0.01, n), 0, 1)
    p_control = np.clip(p_before - rng.normal(0.005, 0.03, n), 0, 1)
    target = np.array([list(c).index(city) for c, city in zip(counts["cities"], counts["city"])])

    def flip(p):  # two classes: below 0.5 the other one is predicted
        return np.where(p < 0.5, 1 - target, target)

    rows = pd.DataFrame({
        "model": counts["model"], "method": "redraw", "segmentation_id": counts["segmentation_id"].astype("int32"),
        "image_id": counts["image_id"].astype("int32"), "object_id": counts["object_id"].astype("int16"),
        "pixels": counts["n_pixels"].astype("int32"), "control_overlap": np.float32(0),
        "target_index": target.astype("int16"), "p_before": p_before.astype("float32"),
        "p_after": p_after.astype("float32"), "p_control": p_control.astype("float32"),
        "pred_before": flip(p_before).astype("int16"), "pred_after": flip(p_after).astype("int16"),
        "pred_control": flip(p_control).astype("int16"), "written_at": pd.Timestamp.now()})
    store.insert_df("reliance", rows)
    yield store
    store.close()


def _raw(store):
    return store.fetch_df("SELECT r.*, i.city, i.place_id, o.name AS object FROM reliance r "
                          "JOIN images i USING (image_id) JOIN objects o USING (object_id)")


def test_reliance_by_city_matches_pandas(store):
    raw = _raw(store)
    raw["drop"] = raw["p_before"].astype(float) - raw["p_after"]
    raw["control_drop"] = raw["p_before"].astype(float) - raw["p_control"]
    raw["flip"] = raw["pred_after"] != raw["pred_before"]
    expected = raw.groupby(["model", "city", "object"]).agg(
        n_images=("drop", "size"), mean_pixels=("pixels", "mean"), drop=("drop", "mean"),
        control_drop=("control_drop", "mean"), flip_share=("flip", "mean")).sort_index()
    got = store.query("reliance by city", n_boot=0).set_index(["model", "city", "object"]).sort_index()
    assert list(got.index) == list(expected.index)
    for column in ("n_images", "mean_pixels", "drop", "control_drop", "flip_share"):
        assert np.allclose(got[column], expected[column], atol=1e-6), column
    assert np.allclose(got["net"], expected["drop"] - expected["control_drop"], atol=1e-6)
    assert got["net_low"].isna().all()  # no resamples, no interval


def _bootstrap(values_by_row, unit_of_row, n_units, rng, reps=2000):
    """Percentile interval of a weighted mean under multinomial resampling of the units."""
    sums = np.bincount(unit_of_row, values_by_row, n_units)
    counts = np.bincount(unit_of_row, minlength=n_units)
    draws = rng.multinomial(n_units, np.full(n_units, 1 / n_units), size=reps)
    return np.quantile(draws @ sums / (draws @ counts), [0.025, 0.975])


def test_reliance_by_city_interval_is_a_bootstrap_over_places(store):
    got = store.query("reliance by city", model="vgg11-s0", n_boot=400)
    assert ((got["net_low"] <= got["net"] + 1e-9) & (got["net"] <= got["net_high"] + 1e-9)).all()
    raw = _raw(store)
    raw = raw[raw["model"] == "vgg11-s0"]
    raw["net"] = raw["p_control"].astype(float) - raw["p_after"]
    rng = np.random.default_rng(0)
    for row in got.sort_values("n_images").iloc[-4:].itertuples():
        one = raw[(raw["city"] == row.city) & (raw["object"] == row.object)]
        places, by_place = np.unique(one["place_id"], return_inverse=True)
        low, high = _bootstrap(one["net"].to_numpy(), by_place, len(places), rng)
        assert row.net_high - row.net_low == pytest.approx(high - low, rel=0.35), row.object
        # Views share their noise: resampling images would understate the spread.
        low_i, high_i = _bootstrap(one["net"].to_numpy(), np.arange(len(one)), len(one), rng)
        assert high_i - low_i < 0.8 * (row.net_high - row.net_low)


def test_reliance_by_city_is_deterministic_per_seed(store):
    got = store.query("reliance by city", model="vgg11-s0", n_boot=50)
    pd.testing.assert_frame_equal(got, store.query("reliance by city", model="vgg11-s0", n_boot=50))
    other_seed = store.query("reliance by city", model="vgg11-s0", n_boot=50, seed=1)
    assert not np.allclose(got["net_low"], other_seed["net_low"])


def test_lift_vs_reliance_joins_rpc_by_city(store):
    both = store.query("lift vs reliance")
    rpc = store.query("rpc by city").set_index(["model", "city", "object"])
    rel = store.query("reliance by city", n_boot=0).set_index(["model", "city", "object"])
    keys = list(zip(both["model"], both["city"], both["object"]))
    assert len(keys) == len(set(keys)) == len(rpc.index.intersection(rel.index))
    assert np.allclose(both["lift"], rpc.loc[keys, "lift"])
    assert np.allclose(both["net"], rel.loc[keys, "net"])


def test_rpc_vs_reliance_is_spearman_with_the_top_three_of_each(store):
    both = store.query("lift vs reliance")
    got = store.query("rpc vs reliance", n_boot=0)
    assert len(got) == both.groupby(["model", "city"]).ngroups
    for row in got.itertuples():
        one = both[(both["model"] == row.model) & (both["city"] == row.city)]
        assert row.n_objects == len(one) >= 3
        assert row.spearman == pytest.approx(spearmanr(one["lift"], one["net"]).statistic, abs=1e-9)
        by_lift = one.sort_values(["lift", "object"], ascending=[False, True])["object"][:3].tolist()
        by_net = one.sort_values(["net", "object"], ascending=[False, True])["object"][:3].tolist()
        assert row.top_lift.split(", ") == by_lift and row.top_reliance.split(", ") == by_net
    assert (got["spearman"] > 0.3).all()  # reliance was made to follow lift


def test_rpc_vs_reliance_interval_against_a_numpy_place_bootstrap(store):
    got = store.query("rpc vs reliance", model="vgg11-s0", n_boot=300)
    objects = store.query("lift vs reliance", model="vgg11-s0")
    masks = store.fetch_df("SELECT mi.image_id, mi.area_pixels[list_position(g.thresholds, 0.5)] "
                           "/ (g.height * g.width) AS area, i.city, i.place_id FROM mask_images mi "
                           "JOIN ingests g USING (ingest_id) "
                           "JOIN images i USING (image_id) WHERE g.model = 'vgg11-s0'")
    counts = store.fetch_df("SELECT oc.image_id, oc.object_id, oc.n_pixels, "
                            "oc.m_pixels[list_position(g.thresholds, 0.5)] AS m FROM object_counts oc "
                            "JOIN ingests g USING (ingest_id) WHERE g.model = 'vgg11-s0'")
    raw = _raw(store)
    raw = raw[raw["model"] == "vgg11-s0"]
    raw["net"] = raw["p_control"].astype(float) - raw["p_after"]
    rng = np.random.default_rng(1)
    for row in got.itertuples():
        wanted = objects[objects["city"] == row.city]["object_id"].tolist()
        city = masks[masks["city"] == row.city].reset_index(drop=True)
        places, place_of_image = np.unique(city["place_id"], return_inverse=True)
        position = {image: k for k, image in enumerate(city["image_id"])}
        weights = rng.multinomial(len(places), np.full(len(places), 1 / len(places)), size=600)[:, place_of_image]
        lifts, nets = [], []
        for obj in wanted:
            c = counts[counts["object_id"] == obj]
            c = c[c["image_id"].isin(position)]
            cw = weights[:, c["image_id"].map(position).to_numpy()]
            area = city["area"].to_numpy()[c["image_id"].map(position).to_numpy()]
            lifts.append(cw @ c["m"].to_numpy() / (cw @ (area * c["n_pixels"].to_numpy())))  # N-weighted baseline
            r = raw[(raw["object_id"] == obj) & (raw["city"] == row.city)]
            rw = weights[:, r["image_id"].map(position).to_numpy()]
            nets.append(rw @ r["net"].to_numpy() / rw.sum(axis=1))
        lifts, nets = np.array(lifts).T, np.array(nets).T  # (reps, objects)
        rhos = [spearmanr(a, b).statistic for a, b in zip(lifts, nets)]
        low, high = np.quantile(rhos, [0.025, 0.975])
        assert row.spearman_low <= row.spearman <= row.spearman_high
        assert row.spearman_high - row.spearman_low == pytest.approx(high - low, rel=0.4), row.city


# -- the chart and the report (main's conventions: one segmenter per view, lift = 1 drawn) ----

def _parts(spec: dict):
    yield spec
    for key in ("layer", "hconcat", "vconcat", "concat"):
        for part in spec.get(key, []):
            yield from _parts(part)
    if isinstance(spec.get("spec"), dict):
        yield from _parts(spec["spec"])


def _chart_rows(spec: dict) -> pd.DataFrame:
    return pd.concat([pd.DataFrame(rows) for rows in spec["datasets"].values()], ignore_index=True)


def test_lift_vs_reliance_chart_draws_lift_one_and_keeps_segmenters_apart(store):
    from cityq.charts import render_chart

    frame = store.query("lift vs reliance")
    other = frame.assign(segmenter="small-seg", net=frame["net"] * 0.5)
    spec = render_chart("lift vs reliance", pd.concat([frame, other], ignore_index=True)).to_dict()
    parts = list(_parts(spec))
    assert any(p.get("encoding", {}).get("x", {}).get("field") == "lift" for p in parts)
    from cityq.charts.theme import LIFT_ONE

    ones = [p for p in parts if p.get("encoding", {}).get("x", {}).get("datum") == 1]
    assert ones and ones[0]["mark"]["color"] == LIFT_ONE  # lift = 1, drawn as in every lift chart
    rows = _chart_rows(spec)
    assert spec["facet"]["row"]["field"] == "panel"
    assert rows.groupby("panel")["segmenter"].nunique().max() == 1  # never two segmenters in one panel
    assert rows["panel"].nunique() == 2 * frame["model"].nunique()


def test_lift_vs_reliance_chart_fills_its_width_and_defaults_to_one_segmenter(store):
    from cityq.charts import chart_of, render_chart

    frame = store.query("lift vs reliance")
    narrow = render_chart("lift vs reliance", frame, width=600).to_dict()
    wide = render_chart("lift vs reliance", frame, width=1200).to_dict()
    assert wide["spec"]["width"] > 1.8 * narrow["spec"]["width"]
    rows = _chart_rows(chart_of(store, "lift vs reliance").to_dict())
    assert rows["segmenter"].nunique() == 1


def test_the_report_answers_whether_grad_cam_is_right_among_the_findings(store, tmp_path):
    from cityq.report import write_report

    text = write_report(store, tmp_path / "report.html").read_text()
    finding = text.index("Is Grad-CAM right?")
    assert finding < text.index('id="details"')  # a finding, before the details
    rho = store.query("rpc vs reliance")["spearman"]
    assert f"ranges from {rho.min():.2f} to {rho.max():.2f} (median {rho.median():.2f})" in text
    assert "Lift against reliance by removal" in text and "SELECT * FROM lift_vs_reliance(" in text


def test_an_unknown_removal_method_is_an_error_not_an_empty_answer(store):
    from cityq.errors import CityqError

    assert len(store.query("reliance by city", method="redraw", n_boot=0))
    assert store.query("reliance by city", method="impute", n_boot=0).empty  # known, not measured: no rows
    for name in ("reliance by city", "lift vs reliance", "rpc vs reliance"):
        with pytest.raises(CityqError, match="unknown removal method 'redraws'; methods: redraw, impute"):
            store.query(name, method="redraws")
    empty = Store(":memory:")
    with pytest.raises(CityqError, match="unknown removal method"):  # also where no row could be filtered
        empty.query("reliance by city", method="blurr")
    empty.close()
