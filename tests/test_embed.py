"""t-SNE of the masks: the numeric core, the fast t-SNE against openTSNE's defaults,
`embed_model` on a tiny ingested store, the two embedding queries (k-NN separation checked
against sklearn), bad input, the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cityq.errors import CityqError
from cityq.pipeline import embed as embed_module
from cityq.pipeline.embed import EmbedOptions, embed_arrays, embed_model
from cityq.store.embeddings import write_embedding

CITIES = ("oslo", "tokyo", "zurich")
CAM_HW = (4, 4)


def clustered_cams(n: int, seed: int = 0, noise: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """CAM-like maps (N,h,w) in [0,1]: each city's peak sits in its own corner, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CITIES)
    yy, xx = np.mgrid[0:CAM_HW[0], 0:CAM_HW[1]]
    peaks = [(0, 0), (3, 3), (0, 3)]
    cams = np.empty((n, *CAM_HW), dtype=np.float32)
    for i, city in enumerate(labels):
        py, px = peaks[city]
        blob = np.exp(-((yy - py) ** 2 + (xx - px) ** 2) / 2.0) + noise * rng.normal(size=CAM_HW)
        blob = blob - blob.min()
        cams[i] = blob / (blob.max() + 1e-7)
    return cams, labels


def build_ingested_store(root: Path, models=("m-a", "m-b"), n_images: int = 36, size: int = 32):
    """A real store on disk with images, models and finished ingests whose native CAMs sit in
    Zarr exactly where `cityq ingest` puts them (mask_store.create_array); no CNN is run."""
    from cityq.store import Store
    from cityq.store.mask_arrays import create_array

    store = Store.create(root / "store")
    data = root / "images"
    now = datetime.now()
    cams, labels = clustered_cams(n_images)
    rows = []
    for i, city_index in enumerate(labels):
        city = CITIES[city_index]
        (data / city).mkdir(parents=True, exist_ok=True)
        colour = np.array([[60, 120, 200], [200, 80, 60], [90, 180, 90]][city_index], dtype=np.uint8)
        pixels = np.broadcast_to(colour, (size, size, 3)).copy()
        pixels[::4] = 240  # stripes, so darkening is visible
        Image.fromarray(pixels).save(data / city / f"{i:03d}.png")
        rows.append({"image_id": i + 1, "dataset": "tiny", "city": city, "path": f"{city}/{i:03d}.png",
                     "width": size, "height": size, "sha256": f"sha{i}", "place_id": str(i),
                     "split": "test", "labels_path": None, "added_at": now})
    store.con.execute(
        "INSERT INTO datasets VALUES ('tiny', $root, $cities, 0, NULL, NULL, current_timestamp)",
        {"root": str(data.resolve()), "cities": list(CITIES)})
    store.insert_df("images", pd.DataFrame(rows))
    store.con.execute("INSERT INTO segmentations VALUES (1, 'labels', 'tiny', $s, $s, 'seg/1', current_timestamp)",
                      {"s": size})
    for k, model in enumerate(models):
        store.con.execute(
            "INSERT INTO models (model, arch, seed, dataset, cities, img_size, source, checkpoint, created_at) "
            "VALUES ($m, 'simple', $k, 'tiny', $cities, $s, 'trained', 'checkpoints/x.pt', current_timestamp)",
            {"m": model, "k": k, "cities": list(CITIES), "s": size})
        ingest_id = k + 1
        zarr_path = f"masks/{model}"
        store.con.execute(
            "INSERT INTO ingests (ingest_id, model, split, target, segmentation_id, thresholds, height, width, "
            "cam_height, cam_width, block_size, n_images, zarr_path, status, config, created_at) VALUES "
            "($id, $m, 'test', 'true', 1, [0.25, 0.5, 0.75], $s, $s, $h, $w, $n, $n, $z, 'done', $c, "
            "current_timestamp)",
            {
                "id": ingest_id,
                "m": model,
                "s": size,
                "h": CAM_HW[0],
                "w": CAM_HW[1],
                "n": n_images,
                "z": zarr_path,
                "c": json.dumps({"max_image_id": n_images}),
            },
        )
        model_cams = cams if k == 0 else cams[:, ::-1, :].copy()  # another model looks elsewhere
        create_array(store, zarr_path, n_images, CAM_HW, n_images)[:] = model_cams
        store.insert_df(
            "mask_images",
            pd.DataFrame(
                {
                    "ingest_id": ingest_id,
                    "image_id": np.arange(1, n_images + 1),
                    "zarr_index": np.arange(n_images),
                    "target_index": labels,
                    "pred_index": labels,
                    "area_pixels": [[1, 1, 1]] * n_images,
                    "mask_sum": 1.0,
                }
            ),
        )
    return store, labels


def knn_loo_accuracy(points: np.ndarray, labels: np.ndarray, k: int) -> float:
    from sklearn.model_selection import LeaveOneOut, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    predicted = cross_val_predict(KNeighborsClassifier(n_neighbors=k), points, labels, cv=LeaveOneOut())
    return float((predicted == labels).mean())


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    store, labels = build_ingested_store(tmp_path_factory.mktemp("embed"))
    yield store, labels
    store.close()


# -- the numeric core ----------------------------------------------------------------------


@pytest.mark.parametrize("method", ["sklearn", "opentsne", "opentsne-fast"])
def test_embed_arrays_separates_clusters_and_is_deterministic(method):
    if method.startswith("opentsne"):
        pytest.importorskip("openTSNE")
    cams, labels = clustered_cams(45)
    xy, coords = embed_arrays(cams, pca=50, perplexity=5, method=method, seed=3, n_jobs=1)
    assert xy.shape == (45, 2) and np.isfinite(xy).all()
    assert coords.shape == (45, 16)  # min(50, N-1, h*w)
    assert knn_loo_accuracy(xy, labels, 5) >= 0.9
    again, _ = embed_arrays(cams, pca=50, perplexity=5, method=method, seed=3, n_jobs=1)
    np.testing.assert_allclose(xy, again)


def test_pca_components_are_capped():
    assert embed_module.pca_components(50, 10, 196) == 9
    assert embed_module.pca_components(50, 1000, 16) == 16
    assert embed_module.pca_components(8, 1000, 196) == 8


def test_too_few_images_for_the_perplexity_says_what_to_do():
    cams, _ = clustered_cams(30)
    with pytest.raises(CityqError, match=r"perplexity 30 needs more than 90: pass --perplexity 9 or less"):
        embed_arrays(cams, perplexity=30)


def test_identical_masks_are_refused():
    with pytest.raises(CityqError, match="identical"):
        embed_arrays(np.zeros((20, 4, 4), dtype=np.float32), perplexity=3)


@pytest.mark.parametrize("method", ["opentsne", "opentsne-fast"])
def test_opentsne_missing_names_the_pip_command(monkeypatch, method):
    import builtins

    real_import = builtins.__import__

    def no_opentsne(name, *args, **kwargs):
        if name.startswith("openTSNE"):
            raise ImportError("No module named 'openTSNE'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_opentsne)
    cams, _ = clustered_cams(30)
    with pytest.raises(CityqError, match=f"--method {method} needs the openTSNE package: pip install openTSNE"):
        embed_arrays(cams, perplexity=5, method=method)


# -- the fast t-SNE against openTSNE's defaults ---------------------------------------------


def clusters_behind_noise(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """8 overlapping Gaussian clusters in 10-D plus 2 dimensions of larger pure noise, so the
    PCA initialisation barely separates them and the map's accuracy is t-SNE's own work."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 8
    centres = rng.normal(scale=1.3, size=(8, 10))
    points = np.hstack([centres[labels] + rng.normal(size=(n, 10)), rng.normal(scale=4.0, size=(n, 2))])
    return points, labels


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    """Leave-one-out k-NN accuracy by brute force (a tie goes to the lowest label)."""
    d2 = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    votes = labels[np.argsort(d2, axis=1, kind="stable")[:, :k]]
    counts = np.stack([(votes == c).sum(1) for c in range(labels.max() + 1)], axis=1)
    return float((counts.argmax(1) == labels).mean())


@pytest.fixture(scope="module")
def fast_and_exact():
    """1,000 points: Annoy neighbours (openTSNE's exact search below 1,000), FFT gradients forced
    (openTSNE takes Barnes-Hut below 10,000) and a grid cap of 20 intervals, under the map's
    extent here, so all three approximations of opentsne-fast are at work."""
    pytest.importorskip("openTSNE")
    import openTSNE

    from cityq.pipeline.tsne import FastTSNEConfig, tsne_fast_run, tsne_opentsne_phases

    points, labels = clusters_behind_noise(1000)
    config = FastTSNEConfig(gradient="fft", max_intervals=20)
    fast = tsne_fast_run(points, 30.0, 0, 2, config)
    return {
        "points": points, "labels": labels, "config": config, "fast": fast,
        "again": tsne_fast_run(points, 30.0, 0, 2, config),
        "other_seed": tsne_fast_run(points, 30.0, 1, 2, config),
        "exact_phases": tsne_opentsne_phases(points, 30.0, 0, 2),
        "fit": np.asarray(openTSNE.TSNE(n_components=2, perplexity=30.0, initialization="pca",
                                        random_state=0, n_jobs=2).fit(points)),
    }


def test_opentsne_timed_by_phase_is_openTSNE_fit(fast_and_exact):
    """The baseline that bench_tsne times phase by phase is the map `TSNE.fit` gives."""
    xy, seconds = fast_and_exact["exact_phases"]
    np.testing.assert_array_equal(xy, fast_and_exact["fit"])
    assert len(seconds) == 3 and all(s > 0 for s in seconds)


def test_fast_tsne_is_deterministic_for_a_seed(fast_and_exact):
    fast, again = fast_and_exact["fast"], fast_and_exact["again"]
    assert fast.xy.shape == (1000, 2) and np.isfinite(fast.xy).all()
    np.testing.assert_array_equal(fast.xy, again.xy)
    assert fast.iterations == again.iterations
    # openTSNE sums the KL divergence over threads, in whatever order they finish: the same to
    # rounding (a run gave 1.3826018605340753 against 1.382601860534109).
    assert fast.kl_divergence == pytest.approx(again.kl_divergence, rel=1e-9)
    assert not np.allclose(fast.xy, fast_and_exact["other_seed"].xy)


def test_fast_tsne_separates_as_well_as_the_exact_method(fast_and_exact):
    from sklearn.decomposition import PCA

    points, labels, fast, config = (fast_and_exact[k] for k in ("points", "labels", "fast", "config"))
    # The approximations were at work: the grid was capped and the KL test stopped early.
    assert fast.capped and fast.largest_grid == config.max_intervals
    assert fast.converged and fast.iterations < config.max_iterations
    assert fast.exaggerated_iterations == config.exaggerated_iterations
    exact = knn_accuracy(fast_and_exact["exact_phases"][0], labels)
    assert knn_accuracy(PCA(2).fit_transform(points), labels) < 0.3  # where both start
    assert exact >= 0.75  # t-SNE finds the clusters (the 12-D points score about 0.85)
    assert abs(knn_accuracy(fast.xy, labels) - exact) <= 0.04


# -- the store -----------------------------------------------------------------------------


def test_embed_model_writes_rows_and_replaces_them(ingested):
    store, labels = ingested
    summary = embed_model(store, EmbedOptions("m-a", perplexity=5, seed=0, progress=False, n_jobs=1))
    assert (summary.n_images, summary.cam_shape, summary.pca_components) == (36, CAM_HW, 16)
    assert 0.99 <= summary.explained_variance <= 1.0 + 1e-6
    frame = store.query("embedding", model="m-a")
    assert len(frame) == 36 and set(frame["method"]) == {"opentsne-fast"}  # the default
    assert sorted(frame.columns[:6]) == sorted(["model", "city", "image_id", "x", "y", "method"])
    embed_model(store, EmbedOptions("m-a", perplexity=6, seed=1, progress=False, n_jobs=1))  # replaces
    counts = store.sql("SELECT (SELECT count(*) FROM embeddings) AS e, (SELECT count(*) FROM embedding_runs) AS r")
    assert (counts["e"][0], counts["r"][0]) == (36, 1)
    config = json.loads(store.sql("SELECT config FROM embedding_runs")["config"][0])
    assert config["perplexity"] == 6 and config["input"] == "native Grad-CAM 4x4, flattened"
    run = store.sql("SELECT status, subject FROM runs WHERE stage = 'embed' ORDER BY run_id DESC LIMIT 1")
    assert (run["status"][0], run["subject"][0]) == ("done", "m-a")


def test_embed_model_bad_input(ingested):
    store, _ = ingested
    with pytest.raises(CityqError, match="run `cityq ingest --model nope` first"):
        embed_model(store, EmbedOptions("nope", progress=False))
    with pytest.raises(CityqError, match="36 images; t-SNE with perplexity 30 needs more than 90"):
        embed_model(store, EmbedOptions("m-b", perplexity=30, progress=False))
    failed = store.sql("SELECT status FROM runs WHERE stage = 'embed' AND subject = 'm-b'")
    assert failed["status"].tolist() == ["failed"]


def test_separation_query_matches_sklearn_knn(memory_store):
    rng = np.random.default_rng(1)
    n = 90
    cities = np.array(CITIES)[rng.integers(0, 3, n)]
    memory_store.insert_df(
        "images",
        pd.DataFrame(
            {
                "image_id": np.arange(1, n + 1),
                "dataset": "d",
                "city": cities,
                "path": [f"{i}.png" for i in range(n)],
                "width": 8,
                "height": 8,
                "sha256": "s",
                "place_id": [str(i) for i in range(n)],
                "split": "test",
                "added_at": datetime.now(),
            }
        ),
    )
    memory_store.con.execute(
        "INSERT INTO ingests (ingest_id, model, split, target, segmentation_id, thresholds, height, width, "
        "cam_height, cam_width, block_size, n_images, zarr_path, status, created_at) VALUES "
        "(4, 'm', 'test', 'true', 1, [0.5], 8, 8, 4, 4, 90, 90, 'z', 'done', current_timestamp)"
    )
    # An ingest belongs to a model and a segmentation (what `finished_ingests` joins).
    memory_store.con.execute(
        "INSERT INTO models (model, arch, dataset, cities, img_size, source, checkpoint, created_at) VALUES "
        "('m', 'simple', 'd', ['oslo', 'tokyo', 'zurich'], 8, 'imported', 'm.pt', current_timestamp)"
    )
    memory_store.con.execute(
        "INSERT INTO segmentations VALUES (1, 'labels', 'd', 8, 8, 'segmentations/1', current_timestamp)"
    )
    xy = rng.normal(size=(n, 2)) + (cities == "tokyo")[:, None] * 1.2
    pca = (rng.normal(size=(n, 12)) + (cities == "oslo")[:, None] * 0.8).astype(np.float32)
    write_embedding(memory_store, 4, "sklearn", np.arange(1, n + 1), xy, pca, {}, 0.0)
    for k in (1, 4, 7):  # an even k exercises vote ties (to the alphabetically first city)
        frame = memory_store.query("embedding separation", k=k).set_index("space")
        assert frame.loc["tsne", "accuracy"] == pytest.approx(knn_loo_accuracy(xy, cities, k))
        assert frame.loc["pca", "accuracy"] == pytest.approx(knn_loo_accuracy(pca.astype(np.float64), cities, k))
        assert frame.loc["tsne", "n_images"] == n
    shares = pd.Series(cities).value_counts(normalize=True)
    assert frame.loc["pca", "chance"] == pytest.approx(shares.max())


def test_cli_embed_then_separation(tmp_path, cli):
    store, _ = build_ingested_store(tmp_path, models=("m-b",))
    path = store.path
    store.close()  # the CLI opens the store itself
    result = cli(["embed", "--model", "m-b", "--perplexity", "5", "--store", path])
    assert result.exit_code == 0, result.output
    assert "embedded 36 images of m-b" in result.output
    result = cli(["query", "embedding separation", "-p", "model=m-b", "--format", "json", "--store", path])
    rows = json.loads(result.stdout)
    assert {r["space"] for r in rows} == {"tsne", "pca"} and all(r["accuracy"] >= 0.9 for r in rows)
    result = cli(["embed", "--model", "nope", "--store", path])
    assert result.exit_code == 1 and "cityq ingest --model nope" in result.output


def test_cli_embed_fast_method(tmp_path, cli):
    pytest.importorskip("openTSNE")
    store, _ = build_ingested_store(tmp_path, models=("m-b",))
    path = store.path
    store.close()
    result = cli(["embed", "--model", "m-b", "--perplexity", "5", "--method", "opentsne-fast", "--store", path])
    assert result.exit_code == 0, result.output
    assert "embedded 36 images of m-b (opentsne-fast" in result.output
    result = cli(["query", "embedding separation", "-p", "model=m-b", "-p", "method=opentsne-fast",
                  "--format", "json", "--store", path])
    assert [r["accuracy"] >= 0.9 for r in json.loads(result.stdout)] == [True, True]
