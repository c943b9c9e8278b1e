"""Every named query of the catalogue against an independent numpy computation on a small store."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from cityq.errors import CityqError
from cityq.store import Store
from cityq.store.synthetic_counts import SyntheticCountsConfig, write_synthetic_counts

SIZE = 112  # not 224, so the default object filter must scale: 100 * 112^2 / 224^2 = 25


@pytest.fixture(scope="module")
def store():
    s = Store(":memory:")
    s.con.execute("SET enable_progress_bar = false")
    write_synthetic_counts(s, SyntheticCountsConfig(
        n_images=90, archs=("vgg11", "simple"), seeds=(0, 1), cities=("tokyo", "pittsburgh", "paris"),
        objects_per_image=12, size=SIZE, seed=3,
    ))
    yield s
    s.close()


@pytest.fixture(scope="module")
def raw(store):
    """The stored rows as numpy-friendly frames, plus the grid."""
    con = store.con
    ingests = con.execute("SELECT ingest_id, model, thresholds FROM ingests ORDER BY ingest_id").df()
    images = con.execute("SELECT image_id, city FROM images").df()
    counts = con.execute("SELECT ingest_id, image_id, object_id, n_pixels, m_pixels FROM object_counts").df()
    masks = con.execute("SELECT ingest_id, image_id, area_pixels, mask_sum FROM mask_images").df()
    names = dict(con.execute("SELECT object_id, name FROM objects").fetchall())
    return {
        "ingests": ingests, "city": dict(zip(images.image_id, images.city)), "names": names,
        "counts": counts, "masks": masks, "grid": np.asarray(ingests.thresholds[0]),
        "models": con.execute("SELECT model, arch, seed FROM models").df(),
        "residuals": con.execute("SELECT ingest_a, ingest_b, image_id, ar FROM residuals").df(),
        "predictions": con.execute("SELECT model, image_id, true_index, pred_index FROM predictions").df(),
    }


def numpy_rpc(raw, t_index: int, min_mean_pixels: float) -> dict:
    """{(model, city, object): (rpc, lift, n_images, mean_pixels, mean_area, chance_rpc,
    n_images_with)} by plain numpy. Lift's baseline is what a random mask of each image's own
    explanation area a_i gives: sum_i a_i N_p,i / sum_i N_p,i."""
    hw = SIZE * SIZE
    out = {}
    for ingest_id, model in zip(raw["ingests"].ingest_id, raw["ingests"].model):
        masks = raw["masks"][raw["masks"].ingest_id == ingest_id]
        mask_city = np.array([raw["city"][i] for i in masks.image_id])
        area = np.stack(masks.area_pixels.to_numpy())[:, t_index] / hw
        area_of = dict(zip(masks.image_id, area))
        counts = raw["counts"][raw["counts"].ingest_id == ingest_id]
        count_city = np.array([raw["city"][i] for i in counts.image_id])
        m = np.stack(counts.m_pixels.to_numpy())[:, t_index].astype(np.float64)
        n = counts.n_pixels.to_numpy().astype(np.float64)
        a = np.array([area_of[i] for i in counts.image_id])
        for city in np.unique(mask_city):
            n_images = int((mask_city == city).sum())
            mean_area = area[mask_city == city].mean()
            for obj in np.unique(counts.object_id[count_city == city]):
                sel = (count_city == city) & (counts.object_id.to_numpy() == obj)
                mean_pixels = n[sel].sum() / n_images  # zeros included: divide by all images
                if mean_pixels <= min_mean_pixels:
                    continue
                rpc = m[sel].sum() / n[sel].sum()
                chance = (a[sel] * n[sel]).sum() / n[sel].sum()
                out[(model, city, raw["names"][obj])] = (rpc, rpc / chance, n_images, mean_pixels, mean_area, chance,
                                                         int((n[sel] > 0).sum()))
    return out


def as_dict(frame: pd.DataFrame, columns: list[str]) -> dict:
    return {(r.model, r.city, r.object): tuple(getattr(r, c) for c in columns) for r in frame.itertuples()}


@pytest.mark.parametrize("threshold", [0.5, 0.15, 0.95])
def test_rpc_by_city_matches_numpy(store, raw, threshold):
    t_index = int(np.flatnonzero(np.isclose(raw["grid"], threshold))[0])
    expected = numpy_rpc(raw, t_index, 100 * SIZE * SIZE / 224**2)
    got = as_dict(store.query("rpc by city", threshold=threshold),
                  ["rpc", "lift", "n_images", "mean_pixels", "mean_area", "chance_rpc", "n_images_with"])
    assert got.keys() == expected.keys()
    for key, values in expected.items():
        np.testing.assert_allclose(got[key], values, rtol=1e-9, err_msg=str(key))


def test_object_filter_uses_the_mean_over_all_city_images(store, raw):
    bar = 700.0  # between the objects' means here, so some objects pass and some do not
    expected = numpy_rpc(raw, 9, bar)
    everything = numpy_rpc(raw, 9, -1.0)
    assert 0 < len(expected) < len(everything)
    got = store.query("rpc by city", threshold=0.5, min_mean_pixels=bar)
    assert set(as_dict(got, ["rpc"])) == set(expected)
    objects = store.query("objects", min_mean_pixels=bar)
    assert len(objects) == len(everything)
    for r in objects.itertuples():
        mean_pixels = everything[(r.model, r.city, r.object)][3]
        assert r.mean_pixels == pytest.approx(mean_pixels)
        assert r.passes == (mean_pixels > bar)
    # Objects absent from some images: their mean counts those images as zeros.
    assert (objects.n_images_with < objects.n_images).any()


def test_objects_default_bar_scales_with_image_area(store):
    objects = store.query("objects")
    assert np.allclose(objects.min_mean_pixels, 100 * SIZE * SIZE / 224**2)


def test_lift_divides_by_the_n_weighted_area_not_the_plain_mean(store, raw):
    """Where the explanation's area grows with how much of an object an image holds (here: the
    planted objects draw attention, and the area is the sum of the objects' M), the N-weighted
    baseline and the plain mean of the areas differ, and lift follows the weighted one."""
    expected = numpy_rpc(raw, 9, 100 * SIZE * SIZE / 224**2)
    got = as_dict(store.query("rpc by city", threshold=0.5), ["lift", "chance_rpc", "mean_area", "rpc"])
    old_lift = {key: v[0] / v[4] for key, v in expected.items()}
    gaps = [abs(old_lift[key] / v[1] - 1) for key, v in expected.items()]
    assert np.max(gaps) > 0.2 and np.mean(np.array(gaps) > 0.05) > 0.2  # the two baselines differ
    area = np.stack(raw["masks"].area_pixels.to_numpy())[:, 9]
    for key, (rpc, lift, *_rest) in expected.items():
        assert got[key][0] == pytest.approx(lift, rel=1e-9)
        assert got[key][0] == pytest.approx(got[key][3] / got[key][1], rel=1e-9)
    # The baseline is a weighted mean of areas, so it lies within their range.
    chances = np.array([v[1] for v in got.values()])
    assert chances.min() >= area.min() / SIZE**2 and chances.max() <= area.max() / SIZE**2


def test_threshold_off_the_grid_is_refused(store):
    with pytest.raises(CityqError, match="not on the stored grid"):
        store.query("rpc by city", threshold=0.33)


@pytest.mark.parametrize("sql", [
    "SELECT * FROM rpc_by_city(threshold := 0.52)",
    "SELECT * FROM top_objects(threshold := 0.52)",
    "SELECT * FROM rpc_by_city_ci(threshold := 0.52, n_boot := 10)",
    "SELECT * FROM explanation_area(threshold := 0.52)",
    "SELECT * FROM rpc_by_city(threshold := NULL)",
])
def test_threshold_off_the_grid_is_refused_in_adhoc_sql(store, sql):
    with pytest.raises(CityqError, match="is not on the stored grid"):
        store.sql(sql)


def test_threshold_is_checked_against_each_ingests_own_grid():
    with Store(":memory:") as s:
        write_synthetic_counts(s, SyntheticCountsConfig(n_images=12, archs=("vgg11",), seeds=(0, 1), size=SIZE))
        # vgg11-s1 was ingested on a grid without 0.5: it refuses, vgg11-s0 answers.
        s.con.execute("UPDATE ingests SET thresholds = list_transform(thresholds, lambda v: v + 0.01) "
                      "WHERE model = 'vgg11-s1'")
        assert len(s.sql("SELECT * FROM rpc_by_city(threshold := 0.5, model := 'vgg11-s0')")) > 0
        with pytest.raises(CityqError, match=r"threshold 0.5 is not on the stored grid of an ingest \(0.06, 0.11"):
            s.sql("SELECT * FROM rpc_by_city(threshold := 0.5)")
        with pytest.raises(CityqError, match="not on the stored grid"):
            s.query("rpc by city", threshold=0.5, model="vgg11-s1")


def test_rpc_sweep_matches_numpy_at_every_threshold(store, raw):
    sweep = store.query("rpc sweep")
    assert sorted(sweep.threshold.unique()) == pytest.approx(sorted(raw["grid"]))
    for t_index in (0, 9, 18):
        expected = numpy_rpc(raw, t_index, 100 * SIZE * SIZE / 224**2)
        at = sweep[np.isclose(sweep.threshold, raw["grid"][t_index])]
        got = as_dict(at, ["rpc", "lift"])
        assert got.keys() == expected.keys()
        for key, values in expected.items():
            np.testing.assert_allclose(got[key], values[:2], rtol=1e-9)


def test_top_objects_are_the_k_largest_lifts(store, raw):
    expected = numpy_rpc(raw, 9, 100 * SIZE * SIZE / 224**2)
    top = store.query("top objects", k=3)
    for (model, city), group in top.groupby(["model", "city"]):
        lifts = sorted(((v[1], key[2]) for key, v in expected.items() if key[:2] == (model, city)), reverse=True)
        assert list(group.sort_values("rank").object) == [name for _, name in lifts[:3]]
        assert list(group["rank"].sort_values()) == [1, 2, 3]


def test_planted_objects_lead_top_objects(store):
    top = store.query("top objects", k=2)
    planted = {"tokyo": {"signboard", "fence"}, "pittsburgh": {"skyscraper", "earth"}}
    for (model, city), group in top.groupby(["model", "city"]):
        if city in planted:
            assert group.sort_values("rank").object.iloc[0] in planted[city]


def numpy_pair_ar(raw) -> dict:
    model_of = dict(zip(raw["ingests"].ingest_id, raw["ingests"].model))
    out = {}
    for (a, b), group in raw["residuals"].groupby(["ingest_a", "ingest_b"]):
        pair = tuple(sorted((model_of[a], model_of[b])))
        out[pair] = group.ar.to_numpy()
    return out


def test_ar_by_model_pair_matches_numpy(store, raw):
    expected = numpy_pair_ar(raw)
    got = store.query("ar by model pair", n_boot=300)
    assert len(got) == len(expected) == 6
    rng = np.random.default_rng(0)
    for r in got.itertuples():
        ars = expected[(r.model_a, r.model_b)]
        assert r.ar == pytest.approx(ars.mean())
        assert r.n_images == len(ars)
        assert r.ci_low < r.ar < r.ci_high
        boots = ars[rng.integers(0, len(ars), (2000, len(ars)))].mean(axis=1)
        low, high = np.quantile(boots, [0.025, 0.975])
        assert (r.ci_high - r.ci_low) == pytest.approx(high - low, rel=0.35)
    again = store.query("ar by model pair", n_boot=300)
    pd.testing.assert_frame_equal(got, again)


def test_ar_by_model_pair_subsampled_ci_keeps_its_width(store, raw):
    full = store.query("ar by model pair", n_boot=300).set_index(["model_a", "model_b"])
    sub = store.query("ar by model pair", n_boot=300, boot_size=45).set_index(["model_a", "model_b"])
    width_full = full.ci_high - full.ci_low
    width_sub = sub.ci_high - sub.ci_low
    assert np.allclose(sub.ar, full.ar)
    assert np.median(width_sub / width_full) == pytest.approx(1.0, rel=0.35)


@pytest.fixture(scope="module")
def store_4x2():
    """The paper's design: 4 architectures x 2 seeds (105 distinct relabellings)."""
    s = Store(":memory:")
    write_synthetic_counts(s, SyntheticCountsConfig(n_images=30, objects_per_image=8, size=SIZE, seed=5))
    yield s
    s.close()


def brute_force_relabelling(store, column: str = "ar"):
    """The permutation test by brute force: every permutation of the architecture labels over the
    models (itertools), each mapped to the partition of the models it makes; the statistic is
    mean(pair AR between blocks) - mean(pair AR within blocks), from the per-image rows."""
    residuals = store.con.execute(
        f"SELECT a.model AS ma, b.model AS mb, r.{column} AS ar FROM residuals r "
        "JOIN ingests a ON a.ingest_id = r.ingest_a JOIN ingests b ON b.ingest_id = r.ingest_b").df()
    pair_ar = {tuple(sorted(k)): g.ar.mean() for k, g in residuals.groupby(["ma", "mb"])}
    arch = dict(store.con.execute("SELECT model, arch FROM models").fetchall())
    models = sorted(arch)

    def statistic(group):
        between = [v for (a, b), v in pair_ar.items() if group[a] != group[b]]
        within = [v for (a, b), v in pair_ar.items() if group[a] == group[b]]
        return np.mean(between) - np.mean(within)

    by_partition = {}
    for labels in set(itertools.permutations([arch[m] for m in models])):
        group = dict(zip(models, labels))
        partition = frozenset(frozenset(m for m in models if group[m] == g) for g in set(labels))
        by_partition[partition] = statistic(group)
    diffs = np.array(list(by_partition.values()))
    observed = statistic(arch)
    return {"p": np.mean(diffs >= observed - 1e-12), "min_p": np.mean(diffs >= diffs.max() - 1e-12),
            "n": len(diffs), "observed": observed, "diffs": diffs}


@pytest.mark.parametrize("design,n_distinct", [("2x2", 3), ("4x2", 105)])
def test_ar_arch_vs_seed_is_the_exact_relabelling_test(store, store_4x2, design, n_distinct):
    s = store if design == "2x2" else store_4x2
    expected = brute_force_relabelling(s)
    common = brute_force_relabelling(s, "ar_common")
    assert expected["n"] == n_distinct
    got = s.query("ar arch vs seed").set_index("comparison")
    for row in got.itertuples():
        assert row.exact and row.n_relabellings == n_distinct
        assert row.p_value == pytest.approx(expected["p"], abs=1e-12)
        assert row.min_p == pytest.approx(expected["min_p"], abs=1e-12)
        assert row.p_value_common == pytest.approx(common["p"], abs=1e-12)
    diff = got.loc["architecture", "mean_ar"] - got.loc["seed", "mean_ar"]
    assert diff == pytest.approx(expected["observed"])
    diff_common = got.loc["architecture", "mean_ar_common"] - got.loc["seed", "mean_ar_common"]
    assert diff_common == pytest.approx(common["observed"])
    n_models = 4 if design == "2x2" else 8
    assert got.n_pairs.sum() == got.n_pairs_common.sum() == n_models * (n_models - 1) // 2
    if design == "2x2":
        assert expected["min_p"] == pytest.approx(1 / 3)  # what 2 archs x 2 seeds can show at best


def test_ar_arch_vs_seed_samples_relabellings_when_there_are_too_many(store_4x2):
    expected = brute_force_relabelling(store_4x2)
    got = store_4x2.query("ar arch vs seed", max_exact=100, n_perm=4000).set_index("comparison")
    row = got.loc["seed"]
    assert not row.exact and row.n_relabellings == 4000 and row.min_p == pytest.approx(1 / 4001)
    # Uniform random label permutations weight every partition alike: p near the exact one.
    assert row.p_value == pytest.approx((1 + 4000 * expected["p"]) / 4001, abs=4 * np.sqrt(0.01 / 4000) + 0.002)
    again = store_4x2.query("ar arch vs seed", max_exact=100, n_perm=4000)
    pd.testing.assert_frame_equal(got.reset_index(), again)


@pytest.fixture(scope="module")
def store_views():
    """Tokyo 24/7's layout: 12 views of each place, which share one scene."""
    s = Store(":memory:")
    write_synthetic_counts(s, SyntheticCountsConfig(
        n_images=360, archs=("vgg11", "simple"), seeds=(0,), objects_per_image=8, size=SIZE, seed=7,
        views_per_place=12))
    yield s
    s.close()


def numpy_place_bootstrap(store, model: str, city: str, obj: int, n_boot: int = 2000):
    """Lift's 95% percentile interval by a plain numpy cluster bootstrap: whole places drawn
    with replacement (multinomial), lift = sum M / sum a N over the drawn images."""
    rows = store.con.execute(
        "SELECT im.place_id, mi.image_id, mi.area_pixels[10] / $hw AS area, "
        "coalesce(oc.m_pixels[10], 0) AS m, coalesce(oc.n_pixels, 0) AS n FROM mask_images mi "
        "JOIN ingests g ON g.ingest_id = mi.ingest_id JOIN images im ON im.image_id = mi.image_id "
        "LEFT JOIN object_counts oc ON oc.ingest_id = mi.ingest_id AND oc.image_id = mi.image_id "
        "AND oc.object_id = $obj WHERE g.model = $model AND im.city = $city",
        {"hw": SIZE * SIZE, "obj": obj, "model": model, "city": city}).df()
    places = rows.groupby("place_id").apply(
        lambda g: pd.Series({"m": g.m.sum(), "an": (g.area * g.n).sum()}), include_groups=False)
    rng = np.random.default_rng(0)
    draws = rng.integers(0, len(places), (n_boot, len(places)))
    lifts = places.m.to_numpy()[draws].sum(1) / places.an.to_numpy()[draws].sum(1)
    return np.quantile(lifts, [0.025, 0.975]), len(places)


def test_bootstrap_resamples_places_when_a_dataset_has_several_views_of_one(store, store_views):
    by_place = store_views.query("rpc by city ci", model="vgg11-s0")
    by_image = store_views.query("rpc by city ci", model="vgg11-s0", unit="image")
    assert set(by_place.unit) == {"place"} and set(by_image.unit) == {"image"}
    assert set(by_place.n_units) == {15} and set(by_image.n_units) == {180}  # 180 images per city, 12 per place
    assert set(store.query("rpc by city ci", model="vgg11-s0", n_boot=50).unit) == {"image"}
    merged = by_place.merge(by_image, on=["city", "object"], suffixes=("_place", "_image"))
    ratio = (merged.lift_high_place - merged.lift_low_place) / (merged.lift_high_image - merged.lift_low_image)
    assert np.median(ratio) > 1.8  # 12 correlated views are far fewer than 12 independent draws
    assert np.allclose(merged.lift_place, merged.lift_image) and np.allclose(merged.rpc_place, merged.rpc_image)
    # One object against a numpy bootstrap over places.
    row = by_place[(by_place.city == "tokyo") & (by_place.object == "signboard")].iloc[0]
    (low, high), n_places = numpy_place_bootstrap(store_views, "vgg11-s0", "tokyo", 43)
    assert n_places == row.n_units
    assert row.lift_high - row.lift_low == pytest.approx(high - low, rel=0.35)
    assert row.lift_low < row.lift < row.lift_high


def test_ar_bootstrap_resamples_places_too(store_views):
    by_place = store_views.query("ar by model pair").iloc[0]
    by_image = store_views.query("ar by model pair", unit="image").iloc[0]
    assert (by_place.unit, by_place.n_units, by_image.unit, by_image.n_units) == ("place", 30, "image", 360)
    assert by_place.ar == pytest.approx(by_image.ar)
    assert (by_place.ci_high - by_place.ci_low) > 1.8 * (by_image.ci_high - by_image.ci_low)


def test_resampling_unit_must_be_place_or_image(store):
    with pytest.raises(CityqError, match="unit must be 'place', 'image' or NULL, not 'town'"):
        store.query("ar by model pair", unit="town")


def test_top_objects_rank_by_lift_among_supported_objects_with_a_lower_bound(store, raw):
    expected = numpy_rpc(raw, 9, 100 * SIZE * SIZE / 224**2)
    support = 12  # of 30 images per city: some objects fall below it
    assert any(v[6] < support for v in expected.values()) and any(v[6] >= support for v in expected.values())
    top = store.query("top objects", k=3, min_support=support, n_boot=200)
    ci = store.query("rpc by city ci", n_boot=200).set_index(["model", "city", "object"])
    for (model, city), group in top.groupby(["model", "city"]):
        lifts = sorted(((v[1], key[2]) for key, v in expected.items() if key[:2] == (model, city) and v[6] >= support),
                       reverse=True)
        assert list(group.sort_values("rank").object) == [name for _, name in lifts[:3]]
        for r in group.itertuples():
            assert r.n_images_with >= support
            assert r.lift_low == pytest.approx(ci.loc[(model, city, r.object), "lift_low"])
            assert r.lift_low < r.lift < r.lift_high
    default = store.query("top objects", n_boot=50)
    assert default.n_images_with.min() >= 5


def test_ar_queries_do_not_filter_ar_by_segmenter():
    """A model counted with a second segmenter: its AR rows hang on its first ingest, and asking
    for the second segmenter's models must still find them."""
    with Store(":memory:") as s:
        write_synthetic_counts(s, SyntheticCountsConfig(n_images=20, archs=("vgg11", "simple"), seeds=(0, 1),
                                                        size=SIZE))
        s.con.execute("INSERT INTO segmenters VALUES ('small-seg', 'small', NULL, '{}', NULL, now())")
        s.con.execute("INSERT INTO segmentations (segmenter, dataset, height, width, zarr_path, created_at) "
                      "SELECT 'small-seg', dataset, height, width, 'x', now() FROM segmentations")
        s.con.execute("INSERT INTO ingests (model, split, target, segmentation_id, thresholds, height, width, "
                      "cam_height, cam_width, block_size, n_images, zarr_path, status, config, created_at) "
                      "SELECT model, split, target, (SELECT max(segmentation_id) FROM segmentations), thresholds, "
                      "height, width, cam_height, cam_width, block_size, n_images, zarr_path, 'done', config, now() "
                      "FROM ingests WHERE model IN ('vgg11-s0', 'vgg11-s1', 'simple-s0')")
        everything = s.query("ar by model pair")
        assert len(everything) == 6
        small = s.query("ar by model pair", segmenter="small-seg")
        assert len(small) == 3 and set(small.model_a) | set(small.model_b) == {"vgg11-s0", "vgg11-s1", "simple-s0"}
        merged = small.merge(everything, on=["model_a", "model_b"])
        assert np.allclose(merged.ar_x, merged.ar_y) and np.allclose(merged.ci_low_x, merged.ci_low_y)
        versus = s.query("ar arch vs seed", segmenter="small-seg").set_index("comparison")
        assert versus.n_pairs.to_dict() == {"architecture": 2, "seed": 1}
        assert set(s.query("model ingests", segmenter="small-seg").ingest_id) == {1, 2, 3}
        with pytest.raises(CityqError, match="unknown segmenter"):  # a name the store lacks: an error, never 0 rows
            s.query("ar by model pair", segmenter="no such segmenter")
        assert s.sql("SELECT * FROM ar_by_model_pair(segmenter := 'no such segmenter')").empty


def test_accuracy_matches_numpy(store, raw):
    p = raw["predictions"]
    correct = p.true_index.to_numpy() == p.pred_index.to_numpy()
    got = store.query("accuracy").set_index("model")
    for model in p.model.unique():
        assert got.loc[model, "accuracy"] == pytest.approx(correct[p.model == model].mean())
        assert got.loc[model, "n_images"] == (p.model == model).sum()
    by_city = store.query("accuracy by city")
    cities = np.array([raw["city"][i] for i in p.image_id])
    for r in by_city.itertuples():
        sel = (p.model.to_numpy() == r.model) & (cities == r.city)
        assert r.accuracy == pytest.approx(correct[sel].mean())
        assert r.n_images == sel.sum()
    rows = store.query("image predictions").set_index(["model", "image_id"])
    assert len(rows) == len(p)
    expected = dict(zip(zip(p.model, p.image_id), correct))
    assert {k: bool(v) for k, v in rows["correct"].items()} == expected
    assert (rows["city"] == [raw["city"][i] for _, i in rows.index]).all()


def test_explanation_area_matches_numpy(store, raw):
    got = store.query("explanation area")
    assert len(got) == 4 * 3 * len(raw["grid"])
    model_of = dict(zip(raw["ingests"].ingest_id, raw["ingests"].model))
    masks = raw["masks"]
    areas = np.stack(masks.area_pixels.to_numpy()) / SIZE**2
    cities = np.array([raw["city"][i] for i in masks.image_id])
    models = np.array([model_of[i] for i in masks.ingest_id])
    for r in got.sample(40, random_state=0).itertuples():
        k = int(np.flatnonzero(np.isclose(raw["grid"], r.threshold))[0])
        sel = (models == r.model) & (cities == r.city)
        assert r.mean_area == pytest.approx(areas[sel, k].mean())
        assert r.mean_soft_area == pytest.approx((masks.mask_sum.to_numpy()[sel] / SIZE**2).mean())
    one = store.query("explanation area", threshold=0.5)
    assert len(one) == 12 and np.allclose(one.threshold, 0.5)


def test_rpc_by_city_ci_brackets_the_estimate_like_a_numpy_bootstrap(store, raw):
    got = store.query("rpc by city ci", model="vgg11-s0", n_boot=300)
    point = store.query("rpc by city", model="vgg11-s0")
    assert np.allclose(got.sort_values(["city", "object"]).rpc, point.sort_values(["city", "object"]).rpc)
    assert (got.rpc_low <= got.rpc + 1e-12).all() and (got.rpc <= got.rpc_high + 1e-12).all()
    assert (got.lift_low <= got.lift_high).all()
    # One object, bootstrapped in numpy over the city's images (multinomial resampling).
    row = got[(got.city == "tokyo") & (got.object == "signboard")].iloc[0]
    ingest_id = int(raw["ingests"].ingest_id[raw["ingests"].model == "vgg11-s0"].iloc[0])
    masks = raw["masks"][raw["masks"].ingest_id == ingest_id]
    images = np.array([i for i in masks.image_id if raw["city"][i] == "tokyo"])
    c = raw["counts"]
    c = c[(c.ingest_id == ingest_id) & (c.object_id == 43)].set_index("image_id")
    m = np.array([c.m_pixels[i][9] if i in c.index else 0 for i in images], float)
    n = np.array([c.n_pixels[i] if i in c.index else 0 for i in images], float)
    rng = np.random.default_rng(1)
    idx = rng.integers(0, len(images), (2000, len(images)))
    low, high = np.quantile(m[idx].sum(1) / n[idx].sum(1), [0.025, 0.975])
    assert row.rpc_high - row.rpc_low == pytest.approx(high - low, rel=0.35)


def test_model_ingests_are_the_first_finished_ingest_of_each_model(store, raw):
    done = store.con.execute("SELECT ingest_id, model FROM ingests WHERE status = 'done' AND split = 'test'").df()
    expected = done.groupby("model")["ingest_id"].min()
    got = store.query("model ingests").set_index("model")["ingest_id"]
    assert got.to_dict() == expected.to_dict() and len(got) == raw["ingests"].model.nunique()
    with pytest.raises(CityqError, match="unknown segmenter 'no such segmenter'"):  # an error, not an empty answer
        store.query("model ingests", segmenter="no such segmenter")


def test_every_catalogue_query_returns_rows(store):
    for name in ("rpc by city", "rpc by city ci", "rpc sweep", "objects", "top objects", "ar by model pair",
                 "ar arch vs seed", "ar pairs", "accuracy", "accuracy by city", "explanation area", "model ingests",
                 "image predictions"):
        assert len(store.query(name)) > 0, name


def test_bootstrap_intervals_do_not_hang_on_ingest_numbers(store):
    """An ingest run again gets a new ingest_id; its intervals must not change with it."""
    before = store.query("top objects", k=3, n_boot=200)
    with Store(":memory:") as s:
        write_synthetic_counts(s, SyntheticCountsConfig(
            n_images=90, archs=("vgg11", "simple"), seeds=(0, 1), cities=("tokyo", "pittsburgh", "paris"),
            objects_per_image=12, size=SIZE, seed=3,
        ))
        for table in ("object_counts", "mask_images", "mask_blocks", "residuals", "residual_pairs", "ingests"):
            columns = [c for c in s.con.execute(f"DESCRIBE {table}").df().column_name]
            for key in ("ingest_id", "ingest_a", "ingest_b"):
                if key in columns:
                    s.con.execute(f"UPDATE {table} SET {key} = {key} + 100")
        after = s.query("top objects", k=3, n_boot=200)
    pd.testing.assert_frame_equal(before, after)
