"""Ingest: counts, R_pc and AR equal an independent numpy computation from the stored masks and
label maps; masks are recoverable; reruns, resumption and bad input behave."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from cityq.errors import CityqError
from cityq.pipeline.gradcam import gradcam_masks
from cityq.pipeline.ingest import IngestOptions, ingest_model
from cityq.store import Store

QUIET = dict(device="cpu", progress=False)


def _label_maps(store, image_ids, size):
    """The label maps straight from the PNG files, resized with nearest neighbour (numpy/PIL)."""
    from PIL import Image

    rows = store.fetch_df(
        "SELECT i.image_id, d.root || '/' || i.labels_path AS path FROM images i JOIN datasets d USING (dataset)"
    ).set_index("image_id")["path"]
    maps = []
    for image_id in image_ids:
        with Image.open(rows[int(image_id)]) as im:
            maps.append(np.asarray(im.resize((size, size), Image.NEAREST)))
    return np.stack(maps)


def test_masks_are_the_models_gradcam_and_recoverable(tiny_ingested):
    with Store(tiny_ingested, read_only=True) as store:
        ids, masks = store.masks("resnet18-s0")
        x, targets = store.inputs("resnet18-s0", ids)
        expected, _ = gradcam_masks(store.model("resnet18-s0"), store.target_layer("resnet18-s0"), x, targets)
        assert masks.dtype == np.float32 and masks.min() >= 0 and masks.max() <= 1
        assert np.abs(masks - expected.numpy()).max() <= 1e-4
        # Compact: the stored record is the native CAM, a few hundred bytes per image.
        array = store.zarr_root()[
            store.fetch_df("SELECT zarr_path FROM ingests WHERE model = 'resnet18-s0'")["zarr_path"][0]
        ]
        stored = sum(
            f.stat().st_size
            for f in (tiny_ingested / "arrays.zarr").rglob("*")
            if f.is_file() and array.path in str(f) and "zarr.json" not in f.name
        )
        assert stored / len(ids) <= 2048


def test_rpc_and_lift_equal_numpy(tiny_ingested):
    with Store(tiny_ingested, read_only=True) as store:
        ids, masks = store.masks("simple-s0")
        labels = _label_maps(store, ids, masks.shape[-1])
        np.testing.assert_array_equal(store.segmentation("labels", ids), labels)
        cities = store.fetch_df("SELECT image_id, city FROM images").set_index("image_id")["city"]
        rows = store.query("rpc by city", model="simple-s0", threshold=0.3, min_mean_pixels=0)
        assert len(rows) > 0
        t = np.float32(0.3)
        for row in rows.itertuples():
            sel = np.array([cities[int(i)] == row.city for i in ids])
            p = store.object_index(row.object)
            n_i = (labels[sel] == p).sum(axis=(1, 2))
            m = ((labels[sel] == p) & (masks[sel] >= t)).sum()
            area_i = (masks[sel] >= t).mean(axis=(1, 2))
            chance = (area_i * n_i).sum() / n_i.sum()  # a random mask of each image's own area
            assert row.rpc == pytest.approx(m / n_i.sum(), abs=1e-9)
            assert row.chance_rpc == pytest.approx(chance, rel=1e-9)
            assert row.lift == pytest.approx((m / n_i.sum()) / chance, rel=1e-6)
            assert row.mean_area == pytest.approx(area_i.mean(), rel=1e-9)
            assert row.n_images == sel.sum() and row.n_images_with == (n_i > 0).sum()


def test_ar_equals_numpy(tiny_ingested):
    with Store(tiny_ingested, read_only=True) as store:
        ids_a, a = store.masks("resnet18-s0")
        ids_b, b = store.masks("simple-s0")
        assert (ids_a == ids_b).all()
        expected = np.abs(a.astype(np.float64) - b).mean(axis=(1, 2))
        pairs = store.query("ar by model pair")
        row = pairs[
            {*pairs["model_a"], *pairs["model_b"]}
            and (
                pairs["model_a"].isin(["resnet18-s0", "simple-s0"])
                & pairs["model_b"].isin(["resnet18-s0", "simple-s0"])
            )
        ]
        assert len(row) == 1
        assert row["ar"].iloc[0] == pytest.approx(expected.mean(), abs=1e-6)
        assert row["n_images"].iloc[0] == len(ids_a)
        assert len(pairs) == 3  # every pair of the three models, once


def _np_area_pool(cam, grid):
    """Adaptive average pooling: output cell i averages input rows floor(i*h/g) .. ceil((i+1)*h/g)-1."""
    (h, w), (gh, gw) = cam.shape, grid
    return np.array([[cam[(i * h) // gh:-(-(i + 1) * h // gh), (j * w) // gw:-(-(j + 1) * w // gw)].mean()
                      for j in range(gw)] for i in range(gh)])


def _np_mask(cam, size):
    """Bilinear upsampling (align_corners=False: source = (x + 0.5) * in / out - 0.5, clamped), then min-max."""
    def axis(n_out, n_in):
        src = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, None)
        lo = np.minimum(np.floor(src).astype(int), n_in - 1)
        return lo, np.minimum(lo + 1, n_in - 1), src - lo

    r0, r1, fr = axis(size, cam.shape[0])
    c0, c1, fc = axis(size, cam.shape[1])
    rows = cam[r0] * (1 - fr)[:, None] + cam[r1] * fr[:, None]
    up = rows[:, c0] * (1 - fc) + rows[:, c1] * fc
    up = up - up.min()
    return up / (up.max() + 1e-7)


def test_ar_at_a_common_resolution_equals_numpy(tiny_ingested):
    """resnet18 (2x2 CAMs at 64 px) against simple (8x8): simple's CAM area-averaged to 2x2,
    both upsampled alike; a seed pair (same grid) has the same AR either way."""
    with Store(tiny_ingested, read_only=True) as store:
        ids, cams_r = store.cams("resnet18-s0")
        _, cams_s = store.cams("simple-s0")
        assert cams_r.shape[1:] == (2, 2) and cams_s.shape[1:] == (8, 8)
        size = store.masks("simple-s0")[1].shape[-1]
        native = [np.abs(_np_mask(a, size) - _np_mask(b, size)).mean() for a, b in zip(cams_r, cams_s)]
        common = [np.abs(_np_mask(_np_area_pool(a, (2, 2)), size) - _np_mask(_np_area_pool(b, (2, 2)), size)).mean()
                  for a, b in zip(cams_r, cams_s)]
        rows = store.query("ar pairs", model="simple-s0")
        rows = rows[rows.model_a == "resnet18-s0"].set_index("image_id").loc[ids]
        np.testing.assert_allclose(rows.ar, native, atol=2e-6)
        np.testing.assert_allclose(rows.ar_common, common, atol=2e-6)
        assert np.abs(np.array(common) - native).max() > 1e-3  # the control changes something here
        seed = store.query("ar pairs", model="resnet18-s1")
        seed = seed[seed.model_a == "resnet18-s0"]
        np.testing.assert_array_equal(seed.ar_common, seed.ar)
        pair = store.query("ar by model pair").set_index(["model_a", "model_b"]).loc[("resnet18-s0", "simple-s0")]
        assert pair.ar_common == pytest.approx(np.mean(common), abs=1e-6)


def test_an_ingest_run_again_fills_in_ar_at_a_common_resolution(tiny_ingested, copy_store):
    """A store from before AR at a common resolution: the queries show it missing (not a silent
    NULL mean), `cityq check` says what to run, and running the ingest again computes it."""
    from cityq.store.check import check_store

    path = copy_store(tiny_ingested)
    with Store(path) as store:
        before = store.fetch_df("SELECT * FROM residuals ORDER BY ingest_a, ingest_b, image_id")
        store.con.execute("UPDATE residuals SET ar_common = NULL")
        store.con.execute("UPDATE residual_pairs SET mean_ar_common = NULL")
        versus = store.query("ar arch vs seed")
        assert versus.mean_ar_common.isna().all() and versus.p_value_common.isna().all()
        assert (versus.n_pairs_common == 0).all() and (versus.n_pairs > 0).all()
        assert store.query("ar by model pair").ar_common.isna().all()
        warnings = [f for f in check_store(store) if "common resolution" in f.what]
        assert len(warnings) == 1 and "3 residual pairs" in warnings[0].what
        assert "`cityq ingest --model resnet18-s0`" in warnings[0].todo
        summary = ingest_model(store, "resnet18-s0", IngestOptions(**QUIET))
        assert summary.already_done and sorted(m for m, _ in summary.pairs) == ["resnet18-s1", "simple-s0"]
        summary = ingest_model(store, "simple-s0", IngestOptions(**QUIET))
        assert summary.already_done and [m for m, _ in summary.pairs] == ["resnet18-s1"]
        after = store.fetch_df("SELECT * FROM residuals ORDER BY ingest_a, ingest_b, image_id")
        pd.testing.assert_frame_equal(before, after)
        assert not [f for f in check_store(store) if "common resolution" in f.what]
        assert ingest_model(store, "simple-s0", IngestOptions(**QUIET)).pairs == []


def test_second_ingest_does_nothing(tiny_ingested, copy_store):
    path = copy_store(tiny_ingested)
    with Store.create(path) as store:
        before = store.fetch_df("SELECT (SELECT count(*) FROM object_counts) AS c, (SELECT count(*) FROM runs) AS r")
        summary = ingest_model(store, "resnet18-s0", IngestOptions(**QUIET))
        assert summary.already_done and summary.seconds < 10
        after = store.fetch_df("SELECT (SELECT count(*) FROM object_counts) AS c, (SELECT count(*) FROM runs) AS r")
        assert before.equals(after)


def _table_snapshot(store):
    return {
        "counts": store.fetch_df(
            "SELECT i.model, c.image_id, c.object_id, c.n_pixels, round(c.soft_sum, 6) AS s, "
            "c.m_pixels FROM object_counts c JOIN ingests i USING (ingest_id) ORDER BY ALL"
        ),
        "images": store.fetch_df(
            "SELECT i.model, m.image_id, m.zarr_index, m.area_pixels FROM mask_images m "
            "JOIN ingests i USING (ingest_id) ORDER BY ALL"
        ),
        # ingest ids change when an ingest is redone; everything else must not.
        "rpc": store.query("rpc by city", threshold=0.5)
        .drop(columns=["ingest_id"], errors="ignore")
        .sort_values(["model", "city", "object"])
        .reset_index(drop=True),
    }


def _assert_same(before, after):
    import pandas as pd

    def hashable(frame):
        return frame.map(lambda v: tuple(v) if isinstance(v, (list, np.ndarray)) else v)

    for key in before:
        pd.testing.assert_frame_equal(hashable(before[key]), hashable(after[key]), obj=key)


def test_force_recomputes_the_same_rows(tiny_ingested, copy_store):
    path = copy_store(tiny_ingested)
    with Store.create(path) as store:
        before = _table_snapshot(store)
        ingest_model(store, "simple-s0", IngestOptions(force=True, block_size=3, batch_size=4, **QUIET))
        _assert_same(before, _table_snapshot(store))
        assert store.fetch_df("SELECT count(*) AS n FROM residual_pairs")["n"][0] == 3


def test_failed_block_leaves_no_rows_and_resume_completes(tiny_ingested, copy_store, monkeypatch):
    import cityq.pipeline.ingest as ingest_module

    path = copy_store(tiny_ingested)
    with Store.create(path) as store:
        reference = _table_snapshot(store)
        original = ingest_module._write_block
        calls = {"n": 0}

        def failing(run, array, block, *args):
            calls["n"] += 1
            if calls["n"] == 2:
                with run.store.transaction():  # fail in the middle of the block's transaction
                    run.store.con.execute(
                        "INSERT INTO mask_blocks VALUES ($i, $b, 0, current_timestamp)",
                        {"i": run.ingest.ingest_id, "b": block},
                    )
                    raise OSError("disk full (simulated)")
            return original(run, array, block, *args)

        monkeypatch.setattr(ingest_module, "_write_block", failing)
        options = IngestOptions(force=True, block_size=3, batch_size=4, **QUIET)
        with pytest.raises(OSError):
            ingest_model(store, "simple-s0", options)
        blocks = store.fetch_df(
            "SELECT block FROM mask_blocks b JOIN ingests i USING (ingest_id) WHERE model = 'simple-s0'"
        )
        assert blocks["block"].tolist() == [0]  # the failed block left nothing
        monkeypatch.setattr(ingest_module, "_write_block", original)
        ingest_model(store, "simple-s0", IngestOptions(block_size=3, batch_size=4, **QUIET))
        _assert_same(reference, _table_snapshot(store))
        status = store.fetch_df("SELECT status FROM runs WHERE stage = 'ingest' ORDER BY run_id")["status"].tolist()
        assert status[-2:] == ["failed", "done"]


def test_bad_input(tiny_ingested, copy_store):
    path = copy_store(tiny_ingested)
    with Store.create(path) as store:
        with pytest.raises(CityqError, match="no model named"):
            ingest_model(store, "resnet18-s9", IngestOptions(**QUIET))
        with pytest.raises(CityqError, match=r"inside \(0, 1\)"):
            ingest_model(store, "resnet18-s0", IngestOptions(thresholds="0.5:1.5:0.5", **QUIET))
        with pytest.raises(CityqError, match="--target"):
            ingest_model(store, "resnet18-s0", IngestOptions(target="best", **QUIET))
        # A finished ingest asked for with another grid: said, not silently kept.
        with pytest.raises(CityqError, match="another threshold grid"):
            ingest_model(store, "resnet18-s0", IngestOptions(thresholds="0.3,0.5", **QUIET))
        # A model whose cities differ from its dataset's.
        store.con.execute("UPDATE models SET cities = ['paris', 'rome'] WHERE model = 'simple-s0'")
        with pytest.raises(CityqError, match="cities"):
            ingest_model(store, "simple-s0", IngestOptions(force=True, **QUIET))
        # A missing checkpoint.
        checkpoint = store.fetch_df("SELECT checkpoint FROM models WHERE model = 'resnet18-s1'")["checkpoint"][0]
        (path / checkpoint).unlink()
        with pytest.raises(CityqError, match="checkpoint"):
            ingest_model(store, "resnet18-s1", IngestOptions(force=True, **QUIET))


def test_unreadable_image_is_skipped_and_listed(tiny_ingested, copy_store):
    path = copy_store(tiny_ingested)
    with Store.create(path) as store:
        victim = store.fetch_df(
            "SELECT i.image_id, d.root || '/' || i.path AS file FROM images i JOIN datasets d USING (dataset) "
            "WHERE split = 'test' ORDER BY image_id LIMIT 1"
        )
        import shutil

        # Point the dataset at a private copy of the images, then damage one file.
        root = store.fetch_df("SELECT root FROM datasets")["root"][0]
        private = path.parent / "images-copy"
        shutil.copytree(root, private)
        store.con.execute("UPDATE datasets SET root = $r", {"r": str(private)})
        shutil.rmtree(path / "cache", ignore_errors=True)
        damaged = private / victim["file"][0][len(root) + 1 :]
        damaged.write_bytes(b"not a png")
        summary = ingest_model(store, "resnet18-s0", IngestOptions(force=True, block_size=3, batch_size=4, **QUIET))
        assert [image_id for image_id, _ in summary.failures] == [int(victim["image_id"][0])]
        n_test = store.fetch_df("SELECT count(*) AS n FROM images WHERE split = 'test'")["n"][0]
        assert summary.images == n_test - 1
        recorded = store.fetch_df(
            "SELECT count(*) AS n FROM mask_images m JOIN ingests i USING (ingest_id) WHERE i.model = 'resnet18-s0'"
        )["n"][0]
        assert recorded == n_test - 1


def test_replacing_a_model_removes_the_ingests_of_its_old_weights(tiny_ingested, copy_store, tmp_path):
    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store.check import check_store, failed

    path = copy_store(tiny_ingested)
    torch.manual_seed(123)
    checkpoint = tmp_path / "other.pt"
    save_checkpoint(checkpoint, create_model("simple", 2), "simple", 2, {"img_size": 64})
    with Store.create(path) as store:
        old = store.query("finished ingests", model="simple-s0")["ingest_id"].tolist()
        assert old
        import_model(
            store, ImportOptions("simple", checkpoint, "simple-s0", "tiny", img_size=64, device="cpu", force=True)
        )
        # The new weights have no masks yet: the old ones must not pass for theirs.
        assert store.query("finished ingests", model="simple-s0").empty
        left = store.sql(
            "SELECT count(*) AS n FROM residuals WHERE list_contains($ids, ingest_a) OR list_contains($ids, ingest_b)",
            ids=old,
        )["n"][0]
        assert left == 0
        summary = ingest_model(store, "simple-s0", IngestOptions(block_size=3, batch_size=4, **QUIET))
        assert not summary.already_done and summary.images > 0
        assert not failed(check_store(store))
