"""Units of the distributed ingest without Ray: a worker's unit against the local ingest, at-least-once
rewrites, the driver's check of a unit's outputs, run-folder arrays, and `cityq check` on run folders.
(Ray itself is exercised in test_ray_ingest.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture
def planned(copy_store, tiny_ingested):
    """A copy of the tiny store and the plan of model simple-s0's ingest as units of 3 images
    (block size 3, as the local ingest used), its run folder prepared."""
    from cityq.pipeline.ingest import IngestOptions
    from cityq.pipeline.ray_ingest import RayOptions, plan_units, prepare
    from cityq.store import Store, ingests
    from cityq.store.models import get_model_record

    store = Store(copy_store(tiny_ingested))
    ingest = ingests.find_ingest(store, "simple-s0")
    options = IngestOptions(block_size=3, batch_size=4, device="cpu", engine="ray", ray=RayOptions(shard_size=3))
    plan = plan_units(store, ingest, get_model_record(store, "simple-s0"), options)
    prepare(store, plan, ingest, list(range(plan.manifest.n_units)))
    yield store, ingest, plan
    store.close()


def _objects(plan, shard):
    return {name: plan.folder.get(path) for name, path in plan.manifest.unit_paths(shard).items()}


def test_a_unit_equals_the_local_ingest_and_a_rerun_rewrites_identical_objects(planned):
    from cityq.pipeline.ray_units import UnitWorker, read_unit
    from cityq.store.masks import read_cams

    store, ingest, plan = planned
    assert plan.manifest.n_units == 3  # 8 test images: 3 + 3 + 2
    UnitWorker("cpu").run(plan.folder, plan.manifest.model_dir, 1)
    first = _objects(plan, 1)
    UnitWorker("cpu").run(plan.folder, plan.manifest.model_dir, 1)  # a retried or duplicated unit
    assert _objects(plan, 1) == first

    output = read_unit(plan.folder, plan.manifest, 1, plan.image_ids)
    lo, hi = plan.manifest.unit_rows(1)
    ids, cams = read_cams(store, ingest.ingest_id, plan.image_ids[lo:hi])
    assert np.array_equal(output.cams.view(np.uint32), cams.view(np.uint32))  # bit for bit
    local_images = store.fetch_df(
        "SELECT * EXCLUDE (ingest_id) FROM mask_images WHERE ingest_id = $id AND zarr_index BETWEEN $lo AND $hi "
        "ORDER BY zarr_index", {"id": ingest.ingest_id, "lo": lo, "hi": hi - 1})
    local_counts = store.fetch_df(
        "SELECT * EXCLUDE (ingest_id) FROM object_counts WHERE ingest_id = $id AND list_contains($ids, image_id) "
        "ORDER BY image_id, object_id", {"id": ingest.ingest_id, "ids": ids.tolist()})
    unit_images = output.images.to_pandas()
    unit_counts = output.counts.to_pandas().sort_values(["image_id", "object_id"], ignore_index=True)
    assert len(local_counts) > 0
    for local, unit in ((local_images, unit_images), (local_counts, unit_counts)):
        assert list(local.columns) == list(unit.columns)
        for column in local.columns:
            assert [np.asarray(v).tolist() for v in local[column]] == [np.asarray(v).tolist() for v in unit[column]]
    assert output.blocks(3) == [(1, 3)]


def test_the_driver_takes_no_unit_without_a_marker_or_with_objects_that_do_not_match(planned):
    from cityq.pipeline.ray_units import UnitWorker, read_unit

    _, _, plan = planned
    paths = plan.manifest.unit_paths(0)
    worker = UnitWorker("cpu")
    worker.run(plan.folder, plan.manifest.model_dir, 0)
    assert read_unit(plan.folder, plan.manifest, 0, plan.image_ids) is not None

    marker = plan.folder.get(paths["done"])
    plan.folder.remove(paths["done"])  # killed before its marker: partial
    assert read_unit(plan.folder, plan.manifest, 0, plan.image_ids) is None
    plan.folder.put(paths["done"], marker)

    counts = plan.folder.get(paths["counts"])
    other = plan.folder.get(plan.manifest.unit_paths(0)["images"])
    plan.folder.put(paths["counts"], other)  # an object that is not the one the marker names
    assert read_unit(plan.folder, plan.manifest, 0, plan.image_ids) is None
    plan.folder.put(paths["counts"], counts)

    from dataclasses import replace

    changed = replace(plan.manifest, batch_size=2)  # a marker of another manifest is stale
    assert read_unit(plan.folder, changed, 0, plan.image_ids) is None
    assert read_unit(plan.folder, plan.manifest, 0, plan.image_ids) is not None


def test_run_folder_arrays_are_zarr_arrays_written_one_whole_shard_per_unit(tmp_path):
    import zarr

    from cityq.store.run_folder import RunFolder, ShardedArray

    folder = RunFolder(str(tmp_path / "run"))
    array = ShardedArray("a/cams", (7, 2, 3), 3, 3, "float32", float("nan"), "shuffle")
    array.write_metadata(folder)
    data = np.random.default_rng(0).random((7, 2, 3), dtype=np.float32)
    for shard in range(array.n_shards()):
        lo, hi = array.rows(shard)
        array.write_shard(folder, shard, data[lo:hi])
    assert folder.files("a") == ["a/cams/c/0/0/0", "a/cams/c/1/0/0", "a/cams/c/2/0/0", "a/cams/zarr.json"]
    assert np.array_equal(zarr.open_array(str(tmp_path / "run" / "a" / "cams"), mode="r")[:], data)
    assert np.array_equal(array.read_shard(folder, 2), data[6:7])
    with pytest.raises(ValueError, match="holds 3 rows"):
        array.encode(0, data[:2])


def test_check_names_run_folder_leftovers_and_fix_removes_them(planned):
    from cityq.pipeline.ray_units import UnitWorker
    from cityq.store.check import check_store, repair
    from cityq.store.run_folder_check import run_folder_findings
    from cityq.store.run_folders import record_run_folder

    store, ingest, plan = planned
    manifest = plan.manifest
    for shard in (0, 1):
        UnitWorker("cpu").run(plan.folder, manifest.model_dir, shard)
    plan.folder.remove(manifest.unit_paths(0)["done"])  # unit 0 partial, unit 1 finished
    plan.folder.put("stray/x.bin", b"x")  # an image set no ingest uses
    with open(f"{plan.folder.root}/{manifest.model_dir}/done/x.json.1234.partial", "wb"):
        pass  # what a worker killed inside RunFolder.put leaves
    record_run_folder(store, ingest.ingest_id, plan.folder.url, manifest.model_dir)
    store.con.execute("UPDATE ingests SET status = 'running' WHERE ingest_id = $id", {"id": ingest.ingest_id})
    store.con.execute("DELETE FROM mask_blocks WHERE ingest_id = $id AND block <= 1", {"id": ingest.ingest_id})
    UnitWorker("cpu").run(plan.folder, manifest.model_dir, 2)  # committed (block 2 is), yet still here

    lines = [f.line() for f in run_folder_findings(store)]
    assert any("units 0 are partial" in line and line.startswith("warning") for line in lines), lines
    assert any("units 1 are finished but not committed" in line and line.startswith("note") for line in lines)
    assert any("stray/x.bin (1 files) belongs to no running ingest" in line for line in lines)
    assert any("x.json.1234.partial is a write killed in flight" in line for line in lines)
    assert any("units 2 are committed but still here" in line and line.startswith("warning") for line in lines)
    assert len(lines) == 5

    repair(run_folder_findings(store))
    lines = [f.line() for f in run_folder_findings(store)]
    assert len(lines) == 1 and "units 1 are finished" in lines[0]
    assert not plan.folder.exists(manifest.unit_paths(0)["cams"]) and plan.folder.exists(manifest.unit_paths(1)["cams"])
    assert not plan.folder.exists(manifest.unit_paths(2)["done"])

    # Once the ingest is done, whatever its run folder still holds is a leftover.
    store.con.execute("UPDATE ingests SET status = 'done' WHERE ingest_id = $id", {"id": ingest.ingest_id})
    findings = [f for f in check_store(store, sample=2) if "run" in f.what or manifest.image_set in f.what]
    assert [f.severity for f in findings] == ["warning"] and "belongs to no running ingest" in findings[0].what
    repair(findings)
    assert plan.folder.files() == []


def test_engine_options_are_checked_in_one_line(cli, tiny_ingested, monkeypatch):
    import sys

    base = ["ingest", "--model", "simple-s0", "--store", tiny_ingested]
    result = cli([*base, "--engine", "spark"])
    assert result.exit_code == 1 and "--engine must be one of local, ray, not 'spark'" in result.output
    if "ray" not in sys.modules:
        pytest.importorskip("ray.data", reason="the shard-size check runs once Ray is importable")
    result = cli([*base, "--engine", "ray", "--shard-size", "100", "--block-size", "64"])
    assert result.exit_code == 1
    assert "--shard-size must be a positive multiple of --block-size (64), not 100" in result.output
    monkeypatch.setitem(sys.modules, "ray", None)  # as where the extra is not installed
    monkeypatch.setitem(sys.modules, "ray.data", None)
    result = cli([*base, "--engine", "ray"])
    assert result.exit_code == 1 and "--engine ray needs Ray Data: pip install 'cityq[ray]'" in result.output
    assert "Traceback" not in result.output


def test_a_segmentation_unit_equals_the_local_segmentation(copy_store, tiny_ingested, tmp_path):
    """The `labels` segmentation of the tiny store's test images, redone as units of 4 (no Ray)."""
    from cityq.pipeline.ray_ingest import RayOptions
    from cityq.pipeline.ray_segment import SegmentWorker, _manifest, read_seg_unit
    from cityq.pipeline.segment import _images_of
    from cityq.segmenters.catalog import get_segmenter_record
    from cityq.store import Store
    from cityq.store.segmentations import load_segmentation

    with Store(copy_store(tiny_ingested)) as store:
        seg_id = int(store.fetch_df("SELECT segmentation_id FROM segmentations WHERE segmenter = 'labels'")
                     ["segmentation_id"][0])
        ids = store.fetch_df("SELECT image_id FROM segmented_images WHERE segmentation_id = $s ORDER BY 1",
                             {"s": seg_id})["image_id"].tolist()
        options = RayOptions(shard_size=4, run_folder=str(tmp_path / "runs"))
        from cityq.store.run_folder import RunFolder

        folder = RunFolder(options.run_folder)
        manifest, image_ids = _manifest(store, folder, get_segmenter_record(store, "labels"), int(seg_id),
                                        _images_of(store, "tiny", ids), (64, 64), 4, options, {})
        assert manifest.n_units == 2 and image_ids.tolist() == ids
        for shard in range(manifest.n_units):
            SegmentWorker("cpu").run(folder, manifest.folder, shard)
        outputs = [read_seg_unit(folder, manifest, shard, image_ids) for shard in range(manifest.n_units)]
        assert np.array_equal(np.concatenate([o.maps for o in outputs]), load_segmentation(store, seg_id, ids))
        local = store.fetch_df("SELECT image_id, object_id, n_pixels FROM pixel_counts WHERE segmentation_id = $s "
                               "ORDER BY ALL", {"s": seg_id})
        redone = (np.concatenate([o.counts.to_pandas().to_numpy() for o in outputs]))
        assert np.array_equal(local.to_numpy(), redone[np.lexsort(redone.T[::-1])])
        # A rerun of the planning finds the same manifest (nothing committed from it yet).
        again, _ = _manifest(store, folder, get_segmenter_record(store, "labels"), int(seg_id),
                             _images_of(store, "tiny", ids), (64, 64), 4, options, {})
        assert again == manifest


def test_an_unreadable_image_fails_in_a_unit_as_in_the_local_ingest(copy_store, tiny_ingested):
    import shutil

    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.ray_ingest import RayOptions, plan_units, prepare
    from cityq.pipeline.ray_units import UnitWorker, read_unit
    from cityq.store import Store, ingests
    from cityq.store.masks import read_cams
    from cityq.store.models import get_model_record

    with Store(copy_store(tiny_ingested)) as store:
        row = store.fetch_df("SELECT i.image_id, d.root, i.path FROM images i JOIN datasets d USING (dataset) "
                             "WHERE split = 'test' ORDER BY image_id LIMIT 1 OFFSET 4").iloc[0]
        data = (Path(row["root"]) / row["path"]).read_bytes()
        (Path(row["root"]) / row["path"]).write_bytes(data[: len(data) // 3])  # truncated
        try:
            shutil.rmtree(store.path / "cache")
            ingests.delete_ingest(store, ingests.find_ingest(store, "simple-s0").ingest_id)
            local = ingest_model(store, "simple-s0", IngestOptions(block_size=3, batch_size=4, device="cpu",
                                                                   progress=False))
            ingest = ingests.find_ingest(store, "simple-s0")
            options = IngestOptions(block_size=3, batch_size=4, device="cpu", engine="ray",
                                    ray=RayOptions(shard_size=6))
            plan = plan_units(store, ingest, get_model_record(store, "simple-s0"), options)
            prepare(store, plan, ingest, [0])
            UnitWorker("cpu").run(plan.folder, plan.manifest.model_dir, 0)
            output = read_unit(plan.folder, plan.manifest, 0, plan.image_ids)
        finally:
            (Path(row["root"]) / row["path"]).write_bytes(data)
        assert [tuple(f) for f in output.failures] == local.failures and len(local.failures) == 1
        assert local.failures[0][0] == int(row["image_id"])
        assert np.isnan(output.cams[4]).all() and not np.isnan(output.cams[[0, 1, 2, 3, 5]]).any()
        _, cams = read_cams(store, ingest.ingest_id, output.images.column("image_id").to_numpy())
        assert np.array_equal(output.cams[[0, 1, 2, 3, 5]].view(np.uint32), cams.view(np.uint32))
