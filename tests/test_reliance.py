"""`cityq reliance`: rows checked against an independent computation, resuming, the cache, queries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from cityq.errors import CityqError
from cityq.objects import object_index
from cityq.pipeline.reliance import RelianceOptions, measure_reliance
from cityq.store import Store
from cityq.synth.replay import BACKDROP, replay

QUIET = {"device": "cpu", "progress": False, "block_size": 4, "batch_size": 8}
BACKDROP_IDS = {object_index(n) for n in BACKDROP}


@pytest.fixture(scope="module")
def measured(tmp_path_factory, tiny_ingested):
    """A copy of the tiny study with redraw reliance for one model (6 images per city)."""
    import shutil

    path = tmp_path_factory.mktemp("reliance") / "store"
    shutil.copytree(tiny_ingested, path)
    with Store(path) as store:
        summary = measure_reliance(store, "resnet18-s0", RelianceOptions(images_per_city=4, **QUIET))
    return path, summary


def _rows(store, model, method="redraw"):
    return store.fetch_df("SELECT r.*, i.path, i.city, d.root FROM reliance r JOIN images i USING (image_id) "
                          "JOIN datasets d ON d.dataset = i.dataset WHERE model = $m AND method = $method "
                          "ORDER BY image_id, object_id", {"m": model, "method": method})


def _model(store, name):
    from cityq.store.models import get_model_record, load_model_weights

    record = get_model_record(store, name)
    return record, load_model_weights(store, record).eval()


def _p(network, rgb, target):
    """The probability of the target, computed from scratch: PIL squash, ImageNet normalisation."""
    x = torch.from_numpy(np.asarray(rgb, np.float32) / 255.0).permute(2, 0, 1)[None]
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    x = (x - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)
    with torch.no_grad():
        return float(torch.softmax(network(x), dim=1)[0, target])


def test_redraw_rows_match_replays_evaluated_from_scratch(measured):
    path, summary = measured
    with Store(path) as store:
        rows = _rows(store, "resnet18-s0")
        record, network = _model(store, "resnet18-s0")
    assert summary.pairs == len(rows) > 20 and summary.images == rows["image_id"].nunique() <= 8
    assert summary.computed == len(rows) and summary.cached == 0
    assert summary.skipped and set(summary.skipped) <= set(BACKDROP)
    assert not rows["object_id"].isin(BACKDROP_IDS).any()
    assert not rows.duplicated(["image_id", "object_id"]).any()
    size = record.img_size
    for _, row in rows.sample(8, random_state=0).iterrows():
        target = record.cities.index(row["city"])
        assert row["target_index"] == target
        stored = Image.open(f"{row['root']}/{row['path']}").convert("RGB")
        stored = stored.resize((size, size), Image.Resampling.BILINEAR)
        assert abs(_p(network, stored, target) - row["p_before"]) < 1e-4
        rgb, labels = replay(row["root"], row["path"], omit=[int(row["object_id"])])
        assert not (labels == row["object_id"]).any()
        squashed = Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR)
        assert abs(_p(network, squashed, target) - row["p_after"]) < 1e-4


def test_a_second_run_has_nothing_to_do_and_a_second_model_reuses_the_removed_images(measured, copy_store):
    path, first = measured
    copy = copy_store(path)
    with Store(copy) as store:
        again = measure_reliance(store, "resnet18-s0", RelianceOptions(images_per_city=4, **QUIET))
        assert again.already_done and again.pairs == 0
        other = measure_reliance(store, "simple-s0", RelianceOptions(images_per_city=4, **QUIET))
        assert other.pairs == first.pairs and other.computed == 0 and other.cached == first.pairs
        a, b = _rows(store, "resnet18-s0"), _rows(store, "simple-s0")
    assert a[["image_id", "object_id", "pixels", "control_overlap"]].equals(b[["image_id", "object_id", "pixels",
                                                                              "control_overlap"]])


def test_a_killed_run_resumes_to_the_rows_of_an_uninterrupted_one(measured, copy_store, monkeypatch):
    import cityq.pipeline.reliance as pipeline

    path, _ = measured
    copy = copy_store(path)
    real = pipeline.table.write_block
    calls = {"n": 0}

    def dies_on_the_second_block(store, frame):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # as a kill between two blocks
        return real(store, frame)

    with Store(copy) as store:
        store.con.execute("DELETE FROM reliance")
        monkeypatch.setattr(pipeline.table, "write_block", dies_on_the_second_block)
        with pytest.raises(KeyboardInterrupt):
            measure_reliance(store, "resnet18-s0", RelianceOptions(images_per_city=4, **QUIET))
        partial = len(_rows(store, "resnet18-s0"))
        monkeypatch.setattr(pipeline.table, "write_block", real)
        resumed = measure_reliance(store, "resnet18-s0", RelianceOptions(images_per_city=4, **QUIET))
        after = _rows(store, "resnet18-s0")
    with Store(path, read_only=True) as store:
        whole = _rows(store, "resnet18-s0")
    assert 0 < partial < len(whole) and resumed.pairs == len(whole) - partial
    columns = ["image_id", "object_id", "pixels", "p_before", "p_after", "p_control", "pred_after", "pred_control"]
    pd.testing.assert_frame_equal(after[columns].reset_index(drop=True), whole[columns].reset_index(drop=True))


def test_fill_methods_remove_every_filtered_object_including_the_backdrop(measured, copy_store):
    path, _ = measured
    copy = copy_store(path)
    with Store(copy) as store:
        for method in ("impute", "mean", "blur"):
            summary = measure_reliance(store, "resnet18-s0",
                                       RelianceOptions(method=method, images_per_city=2, **QUIET))
            rows = _rows(store, "resnet18-s0", method)
            assert summary.pairs == len(rows) > 0 and not summary.skipped
            assert rows["object_id"].isin(BACKDROP_IDS).any()
            assert rows[["p_before", "p_after", "p_control"]].apply(lambda c: c.between(0, 1)).all().all()
        planted = measure_reliance(store, "resnet18-s0", RelianceOptions(objects="planted", method="impute",
                                                                         images_per_city=3, **QUIET))
        names = store.fetch_df("SELECT DISTINCT o.name FROM reliance r JOIN objects o USING (object_id) "
                               "WHERE r.method = 'impute' AND r.object_id IN (43, 32, 48, 13)")["name"]
        assert planted.pairs > 0 and set(names) <= {"signboard", "fence", "skyscraper", "earth"}
        with pytest.raises(CityqError, match="redraw"):
            measure_reliance(store, "resnet18-s0", RelianceOptions(segmenter="other", **QUIET))
        with pytest.raises(CityqError, match="--method"):
            measure_reliance(store, "resnet18-s0", RelianceOptions(method="erase", **QUIET))


def test_reliance_by_city_against_pandas(measured):
    path, _ = measured
    with Store(path, read_only=True) as store:
        rows = _rows(store, "resnet18-s0")
        result = store.query("reliance by city", model="resnet18-s0", n_boot=50)
    rows["drop"] = rows["p_before"].astype(float) - rows["p_after"]
    rows["control_drop"] = rows["p_before"].astype(float) - rows["p_control"]
    rows["flip"] = rows["pred_after"] != rows["pred_before"]
    expected = rows.groupby(["city", "object_id"]).agg(drop=("drop", "mean"), control_drop=("control_drop", "mean"),
                                                       flip_share=("flip", "mean"), n_images=("drop", "size"))
    got = result.set_index(["city", "object_id"]).sort_index()
    expected = expected.sort_index()
    assert list(got.index) == list(expected.index)
    assert np.allclose(got["drop"], expected["drop"], atol=1e-6)
    assert np.allclose(got["net"], expected["drop"] - expected["control_drop"], atol=1e-6)
    assert np.allclose(got["flip_share"], expected["flip_share"])
    assert (got["n_images"] == expected["n_images"]).all()
    spread = got.dropna(subset=["net_low"])
    assert len(spread) > 0
    assert ((spread["net_low"] <= spread["net"] + 1e-9) & (spread["net"] <= spread["net_high"] + 1e-9)).all()


def test_sigkill_mid_run_then_rerun_gives_the_rows_of_an_uninterrupted_run(measured, copy_store):
    """`cityq reliance` killed (SIGKILL) once two images' removals are cached, then rerun: the
    same rows as the uninterrupted run, no duplicates, and `cityq check` passes."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from cityq.store.check import check_store, failed

    path, _ = measured
    store_path = copy_store(path)
    with Store(store_path) as store:
        store.con.execute("DELETE FROM reliance")
    # Removed images are cached under the store: clear them so the kill lands in the work.
    import shutil

    shutil.rmtree(store_path / "cache" / "removals", ignore_errors=True)
    args = [sys.executable, "-c", "from cityq.cli import main; main()", "reliance", "--model", "resnet18-s0",
            "--images-per-city", "4", "--block-size", "1", "--device", "cpu", "--store", str(store_path)]
    env = dict(os.environ, CITYQ_PROGRESS="0")
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    cache = store_path / "cache" / "removals"
    while process.poll() is None and sum(1 for _ in cache.rglob("*.npz")) < 2:
        time.sleep(0.005)
    assert process.poll() is None, "the run finished before the kill: " + process.stderr.read()
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Store(store_path, read_only=True) as store:
        partial = len(_rows(store, "resnet18-s0"))
    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    columns = ["image_id", "object_id", "pixels", "p_before", "p_after", "p_control", "pred_after", "pred_control"]
    with Store(store_path, read_only=True) as store:
        after = _rows(store, "resnet18-s0")
        assert not failed(check_store(store, sample=2))
    with Store(path, read_only=True) as store:
        whole = _rows(store, "resnet18-s0")
    assert partial < len(whole)
    pd.testing.assert_frame_equal(after[columns].reset_index(drop=True), whole[columns].reset_index(drop=True))
