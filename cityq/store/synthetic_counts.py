"""Synthetic count rows written straight into a store: no images, no CNN, no Zarr.

For tests and benchmarks of the query layer. It fills every table the named queries read
(images, models, segmentations, pixel_counts, ingests, mask_images, object_counts,
residuals, residual_pairs, predictions) with rows that obey the schema's contract:

- per image, the objects present partition the image: their N sum to H*W exactly;
- M_p,i(t) <= N_p,i and never increases with t; the explanation's area at t is sum_p M_p,i(t);
- every model is ingested once, on all images (split 'test', target 'true'), with one grid;
- with `views_per_place` > 1, the views of a place share one scene (objects and pixel counts),
  as Tokyo 24/7's 12 views of a spot do, so their counts are correlated;
- the planted answer: each city has a few objects that every model attends to more, and
  models of one architecture agree more than models of different architectures (so the
  architecture AR exceeds the seed AR, as in the paper).

Everything is numpy, vectorised per model; rows go in through Arrow (`Store.insert_df`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pyarrow as pa

from cityq.thresholds import DEFAULT_GRID, parse_grid

# Objects every city shares (ADE20K indices): wall, building, sky, tree, road, windowpane,
# grass, sidewalk, person, door, plant, car, water, house, railing, column, path, stairs,
# bridge, bench, bus, light, truck, awning, streetlight, pole, van, bicycle, traffic light, ...
COMMON_OBJECTS = (0, 1, 2, 4, 6, 8, 9, 11, 12, 14, 17, 20, 21, 25, 38, 42, 52, 53, 61, 69,
                  80, 82, 83, 86, 87, 93, 102, 127, 136, 138)
# Planted per city: signboard + fence (tokyo), skyscraper + earth (pittsburgh), then others.
PLANTED = ((43, 32), (48, 13), (84, 66), (60, 104), (100, 123))
CITY_NAMES = ("tokyo", "pittsburgh", "paris", "rome", "oslo")


@dataclass(frozen=True)
class SyntheticCountsConfig:
    n_images: int = 200  # images of the test split (all are ingested by every model)
    archs: tuple[str, ...] = ("vgg11", "resnet18", "simple", "simpler")
    seeds: tuple[int, ...] = (0, 1)  # models = archs x seeds
    cities: tuple[str, ...] = ("tokyo", "pittsburgh")
    objects_per_image: int = 20  # including the city's planted objects
    size: int = 224  # square image side (H = W)
    thresholds: tuple[float, ...] = parse_grid(DEFAULT_GRID)  # the ingest's default grid
    dataset: str = "synthetic-counts"
    segmenter: str = "labels"
    seed: int = 0
    with_residuals: bool = True
    views_per_place: int = 1  # >1: images come in places of this many views of one scene (Tokyo 24/7: 12)
    extra: dict = field(default_factory=dict)  # recorded in the run's config


def write_synthetic_counts(store, config: SyntheticCountsConfig = SyntheticCountsConfig()) -> dict:
    """Fill `store` with synthetic rows; returns {'models': [...], 'ingest_ids': [...], 'n_rows': {...}}."""
    if len(config.cities) > len(PLANTED):
        raise ValueError(f"at most {len(PLANTED)} synthetic cities")
    rng = np.random.default_rng(config.seed)
    now = datetime.now()
    hw = config.size * config.size
    n_rows: dict[str, int] = {}
    with store.run("synthetic counts", subject=config.dataset, config=_config_dict(config)):
        with store.transaction():
            image_ids, city_index = _write_images(store, config, rng, now)
            scene = _scene(config, rng, len(image_ids), city_index, hw)
            segmentation_id = _write_segmentation(store, config, now, image_ids, scene)
            models = _write_models(store, config, now)
            ingest_ids, attention = [], []
            for m, (model, arch, seed) in enumerate(models):
                ingest_id, att, rows = _write_ingest(
                    store, config, rng, now, model, arch, seed, segmentation_id, image_ids, city_index, scene, hw, m
                )
                ingest_ids.append(ingest_id)
                attention.append(att)
                n_rows["object_counts"] = n_rows.get("object_counts", 0) + rows
            if config.with_residuals:
                n_rows["residuals"] = _write_residuals(store, rng, now, image_ids, scene, ingest_ids, attention, hw,
                                                       [arch for _, arch, _ in models])
    return {"models": [m[0] for m in models], "ingest_ids": ingest_ids, "n_rows": n_rows}


def _config_dict(config: SyntheticCountsConfig) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.__dict__.items()}


def _write_images(store, config, rng, now):
    con = store.con
    start = con.execute("SELECT coalesce(max(image_id), 0) + 1 FROM images").fetchone()[0]
    n = config.n_images
    image_ids = np.arange(start, start + n, dtype=np.int32)
    city_index = (np.arange(n) % len(config.cities)).astype(np.int16)
    cities = np.asarray(config.cities, dtype=object)[city_index]
    names = np.char.add(np.char.add(cities.astype(str), "/img"), image_ids.astype(str))
    store.insert_df(
        "images",
        pa.table({
            "image_id": image_ids,
            "dataset": pa.array([config.dataset] * n),
            "city": pa.array(cities.tolist()),
            "path": pa.array(np.char.add(names, ".png").tolist()),
            "width": np.full(n, config.size, np.int32),
            "height": np.full(n, config.size, np.int32),
            "sha256": pa.array(np.char.zfill(image_ids.astype(str), 64).tolist()),
            "place_id": pa.array(_place_ids(config, image_ids, city_index).tolist()),
            "split": pa.array(["test"] * n),
            "labels_path": pa.nulls(n, pa.string()),
            "added_at": pa.array([now] * n, pa.timestamp("us")),
        }),
    )
    store.con.execute(
        "INSERT INTO datasets VALUES ($d, '/synthetic-counts', $c, $s, NULL, $cfg, $now) ON CONFLICT DO NOTHING",
        {"d": config.dataset, "c": sorted(config.cities), "s": config.seed, "cfg": '{"synthetic": true}', "now": now},
    )
    return image_ids, city_index


def _place_of(config, n: int) -> np.ndarray:
    """Position of the first view of each image's place (images alternate between cities)."""
    cities = len(config.cities)
    i = np.arange(n)
    per_place = max(config.views_per_place, 1)
    return i % cities + cities * per_place * ((i // cities) // per_place)


def _place_ids(config, image_ids, city_index) -> np.ndarray:
    if config.views_per_place <= 1:
        return image_ids.astype(str)
    first = image_ids[_place_of(config, len(image_ids))]
    return np.char.add(np.asarray(config.cities)[city_index].astype(str), np.char.add("-place", first.astype(str)))


@dataclass
class _Scene:
    """Which objects each image holds and how many pixels: flat rows, image-major."""

    row_image: np.ndarray  # image position (0..n-1) of each row
    object_id: np.ndarray  # int16
    n_pixels: np.ndarray  # int64; per image they sum to H*W
    planted: np.ndarray  # bool: the row's object is planted in the image's city
    noise: np.ndarray  # per-row attention noise shared by all models (the image content)


def _scene(config, rng, n, city_index, hw) -> _Scene:
    k = config.objects_per_image
    n_planted = len(PLANTED[0])
    n_common = k - n_planted
    # Each image draws its common objects from the shared pool (the same for all cities).
    pool = np.asarray(COMMON_OBJECTS, dtype=np.int16)
    order = np.argsort(rng.random((n, len(pool))), axis=1)[:, :n_common]
    common = pool[order]
    planted = np.asarray(PLANTED, dtype=np.int16)[city_index]
    objects = np.concatenate([planted, common], axis=1)
    # Pixel shares: a few large stuff regions and many small things; exact partition of H*W.
    weights = rng.gamma(0.6, 1.0, size=(n, k)) + 1e-3
    shares = np.floor(weights / weights.sum(axis=1, keepdims=True) * hw).astype(np.int64)
    shares = np.maximum(shares, 1)
    shares[:, -1] += hw - shares.sum(axis=1)
    bad = shares[:, -1] < 1  # the maximum(1) can overdraw: take it back from the largest
    if bad.any():
        for i in np.flatnonzero(bad):
            j = int(np.argmax(shares[i, :-1]))
            shares[i, j] += shares[i, -1] - 1
            shares[i, -1] = 1
    is_planted = np.zeros((n, k), dtype=bool)
    is_planted[:, :n_planted] = True
    noise = rng.normal(0, 0.12, size=(n, k))
    # The views of a place show its first view's scene (a no-op with one view per place).
    first = _place_of(config, n)
    objects, shares, noise = objects[first], shares[first], noise[first]
    return _Scene(
        row_image=np.repeat(np.arange(n), k),
        object_id=objects.reshape(-1),
        n_pixels=shares.reshape(-1),
        planted=is_planted.reshape(-1),
        noise=noise.reshape(-1),
    )


def _write_segmentation(store, config, now, image_ids, scene) -> int:
    con = store.con
    con.execute(
        "INSERT INTO segmenters VALUES ($s, 'labels', NULL, '{}', NULL, $now) ON CONFLICT DO NOTHING",
        {"s": config.segmenter, "now": now},
    )
    segmentation_id = con.execute(
        "INSERT INTO segmentations (segmenter, dataset, height, width, zarr_path, created_at) "
        "VALUES ($s, $d, $h, $h, 'synthetic', $now) RETURNING segmentation_id",
        {"s": config.segmenter, "d": config.dataset, "h": config.size, "now": now},
    ).fetchone()[0]
    n = len(image_ids)
    store.insert_df("segmented_images", pa.table({
        "segmentation_id": np.full(n, segmentation_id, np.int32),
        "image_id": image_ids,
        "zarr_index": np.arange(n, dtype=np.int32),
    }))
    store.insert_df("pixel_counts", pa.table({
        "segmentation_id": np.full(len(scene.object_id), segmentation_id, np.int32),
        "image_id": image_ids[scene.row_image],
        "object_id": scene.object_id,
        "n_pixels": scene.n_pixels.astype(np.int32),
    }))
    return segmentation_id


def _write_models(store, config, now):
    models = [(f"{a}-s{s}", a, s) for a in config.archs for s in config.seeds]
    for model, arch, seed in models:
        store.con.execute(
            "INSERT INTO models (model, arch, seed, dataset, cities, img_size, source, config, metrics, "
            "test_accuracy, checkpoint, code_version, created_at) VALUES ($m, $a, $s, $d, $c, $h, 'imported', "
            "$cfg, NULL, NULL, $ck, NULL, $now)",
            {"m": model, "a": arch, "s": seed, "d": config.dataset, "c": sorted(config.cities),
             "h": config.size, "cfg": '{"synthetic_counts": true}', "ck": f"checkpoints/{model}.pt", "now": now},
        )
    return models


def _attention(config, rng_model, arch_shift, scene, m) -> np.ndarray:
    """Per row, how strongly the model looks at the object, in [0.02, 0.98]."""
    base = np.where(scene.planted, 0.85, 0.3)
    return np.clip(base + arch_shift[scene.object_id] + scene.noise + rng_model.normal(0, 0.05, len(base)), 0.02, 0.98)


def _write_ingest(store, config, rng, now, model, arch, seed, segmentation_id, image_ids, city_index, scene, hw, m):
    con = store.con
    thresholds = np.asarray(config.thresholds, dtype=np.float64)
    n = len(image_ids)
    ingest_id = con.execute(
        "INSERT INTO ingests (model, split, target, segmentation_id, thresholds, height, width, cam_height, "
        "cam_width, block_size, n_images, zarr_path, status, config, created_at, finished_at) VALUES "
        "($m, 'test', 'true', $seg, $t, $h, $h, 7, 7, $n, $n, 'synthetic', 'done', '{}', $now, $now) "
        "RETURNING ingest_id",
        {"m": model, "seg": segmentation_id, "t": thresholds.tolist(), "h": config.size, "n": n, "now": now},
    ).fetchone()[0]
    # Architecture-level preferences are shared by seeds; the seed adds a smaller wobble.
    arch_rng = np.random.default_rng([config.seed, sum(map(ord, arch))])
    arch_shift = arch_rng.normal(0, 0.1, 150)
    model_rng = np.random.default_rng([config.seed, sum(map(ord, arch)), seed + 1])
    att = _attention(config, model_rng, arch_shift + model_rng.normal(0, 0.03, 150), scene, m)
    # Fraction of the object's pixels with mask >= t: (1 - t) ** gamma, falling in t.
    gamma = 3.0 * (1.0 - att) + 0.3
    frac = (1.0 - thresholds[None, :]) ** gamma[:, None]
    m_pixels = np.floor(scene.n_pixels[:, None] * frac).astype(np.int32)
    soft = scene.n_pixels / (gamma + 1.0)
    k = len(thresholds)
    n_rows = len(scene.object_id)
    store.insert_df("object_counts", pa.table({
        "ingest_id": pa.array(np.full(n_rows, ingest_id, np.int32)),
        "image_id": image_ids[scene.row_image],
        "object_id": scene.object_id,
        "n_pixels": scene.n_pixels.astype(np.int32),
        "soft_sum": soft,
        "m_pixels": pa.ListArray.from_arrays(pa.array(np.arange(0, n_rows * k + 1, k, dtype=np.int32)),
                                             pa.array(m_pixels.reshape(-1))),
    }))
    # The explanation's area is the sum of its objects' M: the objects partition the image.
    area = np.zeros((n, k), dtype=np.int64)
    np.add.at(area, scene.row_image, m_pixels)
    mask_sum = np.bincount(scene.row_image, weights=soft, minlength=n)
    n_cities = len(config.cities)
    accuracy = {"vgg11": 0.85, "resnet18": 0.9, "simple": 0.7, "simpler": 0.6}.get(arch, 0.75)
    correct = model_rng.random(n) < accuracy
    pred = np.where(correct, city_index, (city_index + 1 + model_rng.integers(0, max(n_cities - 1, 1), n)) % n_cities)
    store.insert_df("mask_images", pa.table({
        "ingest_id": pa.array(np.full(n, ingest_id, np.int32)),
        "image_id": image_ids,
        "zarr_index": np.arange(n, dtype=np.int32),
        "target_index": city_index,
        "pred_index": pred.astype(np.int16),
        "area_pixels": pa.ListArray.from_arrays(pa.array(np.arange(0, n * k + 1, k, dtype=np.int32)),
                                                pa.array(area.reshape(-1).astype(np.int32))),
        "mask_sum": mask_sum,
    }))
    probs = np.full((n, n_cities), 0.2 / max(n_cities - 1, 1), dtype=np.float32)
    probs[np.arange(n), pred] = 0.8 if n_cities > 1 else 1.0
    store.insert_df("predictions", pa.table({
        "model": pa.array([model] * n),
        "image_id": image_ids,
        "true_index": city_index,
        "pred_index": pred.astype(np.int16),
        "probs": pa.ListArray.from_arrays(pa.array(np.arange(0, n * n_cities + 1, n_cities, dtype=np.int32)),
                                          pa.array(probs.reshape(-1))),
    }))
    con.execute("UPDATE models SET test_accuracy = $a WHERE model = $m", {"a": float(correct.mean()), "m": model})
    con.execute("INSERT INTO mask_blocks VALUES ($i, 0, $n, $now)", {"i": ingest_id, "n": n, "now": now})
    return ingest_id, att, n_rows


def _write_residuals(store, rng, now, image_ids, scene, ingest_ids, attention, hw, archs) -> int:
    """AR per image: the pixel-weighted attention difference, a stand-in for sum|m1 - m2| / HW.
    AR at a common resolution: the same for a pair of one architecture (same CAM grid), a share
    of 70-95% of it for a pair of two (part of their difference was resolution)."""
    n = len(image_ids)
    total = 0
    for (a, att_a, arch_a), (b, att_b, arch_b) in itertools.combinations(zip(ingest_ids, attention, archs), 2):
        diff = np.bincount(scene.row_image, weights=scene.n_pixels * np.abs(att_a - att_b), minlength=n) / hw
        ar = np.clip(diff, 0.0, 1.0)
        ar_common = ar if arch_a == arch_b else ar * rng.uniform(0.7, 0.95)
        store.insert_df("residuals", pa.table({
            "ingest_a": pa.array(np.full(n, min(a, b), np.int32)),
            "ingest_b": pa.array(np.full(n, max(a, b), np.int32)),
            "image_id": image_ids,
            "ar": ar,
            "ar_common": ar_common,
        }))
        store.con.execute(
            "INSERT INTO residual_pairs (ingest_a, ingest_b, n_images, mean_ar, mean_ar_common, computed_at) "
            "VALUES ($a, $b, $n, $m, $mc, $now)",
            {"a": min(a, b), "b": max(a, b), "n": n, "m": float(ar.mean()), "mc": float(ar_common.mean()),
             "now": now},
        )
        total += n
    return total
