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
    """{(model, city, object): (rpc, lift, n_images, mean_pixels)} by plain numpy."""
    hw = SIZE * SIZE
    out = {}
    for ingest_id, model in zip(raw["ingests"].ingest_id, raw["ingests"].model):
        masks = raw["masks"][raw["masks"].ingest_id == ingest_id]
        mask_city = np.array([raw["city"][i] for i in masks.image_id])
        area = np.stack(masks.area_pixels.to_numpy())[:, t_index] / hw
        counts = raw["counts"][raw["counts"].ingest_id == ingest_id]
        count_city = np.array([raw["city"][i] for i in counts.image_id])
        m = np.stack(counts.m_pixels.to_numpy())[:, t_index].astype(np.float64)
        n = counts.n_pixels.to_numpy().astype(np.float64)
        for city in np.unique(mask_city):
            n_images = int((mask_city == city).sum())
            mean_area = area[mask_city == city].mean()
            for obj in np.unique(counts.object_id[count_city == city]):
                sel = (count_city == city) & (counts.object_id.to_numpy() == obj)
                mean_pixels = n[sel].sum() / n_images  # zeros included: divide by all images
                if mean_pixels <= min_mean_pixels:
                    continue
                rpc = m[sel].sum() / n[sel].sum()
                out[(model, city, raw["names"][obj])] = (rpc, rpc / mean_area, n_images, mean_pixels)
    return out


def as_dict(frame: pd.DataFrame, columns: list[str]) -> dict:
    return {(r.model, r.city, r.object): tuple(getattr(r, c) for c in columns) for r in frame.itertuples()}


@pytest.mark.parametrize("threshold", [0.5, 0.15, 0.95])
def test_rpc_by_city_matches_numpy(store, raw, threshold):
    t_index = int(np.flatnonzero(np.isclose(raw["grid"], threshold))[0])
    expected = numpy_rpc(raw, t_index, 100 * SIZE * SIZE / 224**2)
    got = as_dict(store.query("rpc by city", threshold=threshold), ["rpc", "lift", "n_images", "mean_pixels"])
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


def test_threshold_off_the_grid_is_refused(store):
    with pytest.raises(CityqError, match="not on the stored grid"):
        store.query("rpc by city", threshold=0.33)


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


def test_ar_arch_vs_seed_matches_exact_permutation_test(store, raw):
    arch = dict(zip(raw["models"].model, raw["models"].arch))
    pairs = {k: v.mean() for k, v in numpy_pair_ar(raw).items()}
    is_arch = np.array([arch[a] != arch[b] for a, b in pairs])
    values = np.array(list(pairs.values()))
    observed = values[is_arch].mean() - values[~is_arch].mean()
    diffs = []
    for chosen in itertools.combinations(range(len(values)), int(is_arch.sum())):
        mask = np.zeros(len(values), bool)
        mask[list(chosen)] = True
        diffs.append(values[mask].mean() - values[~mask].mean())
    exact_p = np.mean(np.asarray(diffs) >= observed - 1e-12)
    got = store.query("ar arch vs seed", n_perm=20000).set_index("comparison")
    assert got.loc["architecture", "mean_ar"] == pytest.approx(values[is_arch].mean())
    assert got.loc["seed", "mean_ar"] == pytest.approx(values[~is_arch].mean())
    assert got.loc["architecture", "n_pairs"] == 4 and got.loc["seed", "n_pairs"] == 2
    assert got.loc["seed", "p_value"] == pytest.approx(exact_p, abs=0.015)
    assert got.loc["architecture", "mean_ar"] > got.loc["seed", "mean_ar"]


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
                 "ar arch vs seed", "accuracy", "accuracy by city", "explanation area", "model ingests",
                 "image predictions"):
        assert len(store.query(name)) > 0, name
