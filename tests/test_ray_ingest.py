"""`cityq ingest --engine ray` on a real local Ray (ray.init(num_cpus=2)), against the local ingest.

The tiny store's models were ingested locally (tests/conftest.py `tiny_ingested`); each test
deletes some of those ingests in a copy, redoes them on Ray and compares: native CAMs bit for
bit, every row of mask_images / object_counts / mask_blocks / residuals, and the named queries.
Faults: workers killed (os._exit) at four points of a unit, the driver killed after a commit,
and a run folder on S3 (moto's server on 127.0.0.1, the real s3fs client). One Ray session is
shared by the module: starting Ray and its actors costs tens of seconds on 2 cores.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'cityq[ray]' (scripts/setup.sh does)")

MODELS = ("resnet18-s0", "simple-s0")  # redone on Ray; resnet18-s1 stays local (AR pairs mix both)
BUCKET = "cityq-test"
QUERIES = ("rpc by city", "objects", "explanation area", "top objects", "ar by model pair", "rpc sweep")
PARAMS = {"top objects": {"min_support": 1}}  # the tiny store has 4 test images per city


@pytest.fixture(scope="module")
def s3_env():
    """moto's S3 server on 127.0.0.1 and the environment that points clients at it."""
    pytest.importorskip("moto.server", reason="moto[server] is a test dependency of cityq[ray]")
    pytest.importorskip("s3fs", reason="s3fs is part of cityq[ray]")
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def ray_session(s3_env):
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             runtime_env={"env_vars": {**s3_env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
    yield
    ray.shutdown()


@pytest.fixture
def redo_store(copy_store, tiny_ingested):
    """redo_store(models) -> a copy of the tiny store without the local ingests of `models`."""
    from cityq.store import Store, ingests

    def redo(models=MODELS):
        path = copy_store(tiny_ingested)
        with Store(path) as store:
            for model in models:
                ingests.delete_ingest(store, ingests.find_ingest(store, model).ingest_id)
        return path

    return redo


def _options(**ray_options):
    from cityq.pipeline.ingest import IngestOptions
    from cityq.pipeline.ray_ingest import RayOptions

    return IngestOptions(block_size=3, batch_size=4, device="cpu", progress=False, engine="ray",
                         ray=RayOptions(**{"shard_size": 6, "commit_every": 1, **ray_options}))


def _rows(store, table: str):
    exclude = {"mask_blocks": " EXCLUDE (written_at)", "residual_pairs": " EXCLUDE (computed_at)"}.get(table, "")
    if table.startswith("residual"):
        sql = (f"SELECT least(a.model, b.model) AS model_a, greatest(a.model, b.model) AS model_b, t.*{exclude} "
               f"FROM {table} t "
               "JOIN ingests a ON a.ingest_id = t.ingest_a JOIN ingests b ON b.ingest_id = t.ingest_b")
        frame = store.fetch_df(sql).drop(columns=["ingest_a", "ingest_b"])
    else:
        frame = store.fetch_df(f"SELECT i.model, t.*{exclude} FROM {table} t JOIN ingests i USING (ingest_id)")
        frame = frame.drop(columns=["ingest_id"])
    frame = frame.map(lambda v: tuple(np.asarray(v).tolist()) if hasattr(v, "__len__") and not isinstance(v, str)
                      else v)
    return frame.sort_values(list(frame.columns), ignore_index=True)


def assert_same_as_local(path, reference, models=MODELS) -> None:
    """Every recorded fact of `path` equals the local ingest's in `reference`."""
    from cityq.store import Store
    from cityq.store.check import check_store, failed

    with Store(reference, read_only=True) as local, Store(path, read_only=True) as redone:
        for table in ("mask_images", "object_counts", "mask_blocks", "residuals", "residual_pairs"):
            a, b = _rows(local, table), _rows(redone, table)
            assert len(a) and a.equals(b), table
        for model in models:
            ids_a, cams_a = local.cams(model)
            ids_b, cams_b = redone.cams(model)
            assert np.array_equal(ids_a, ids_b)
            assert np.array_equal(cams_a.view(np.uint32), cams_b.view(np.uint32))  # bit for bit
        for name in QUERIES:
            a, b = local.query(name, **PARAMS.get(name, {})), redone.query(name, **PARAMS.get(name, {}))
            keep = [c for c in a.columns if "ingest" not in c]
            a = a[keep].sort_values(keep, ignore_index=True)
            b = b[keep].sort_values(keep, ignore_index=True)
            assert len(a) and a.equals(b), name
        status = redone.fetch_df("SELECT DISTINCT status FROM ingests")["status"].tolist()
        assert status == ["done"]
        findings = check_store(redone, sample=8)
        assert not failed(findings), [f.line() for f in findings]
    assert not (path / "runs").exists() or not any((path / "runs").rglob("*.*"))


def test_ray_ingest_gives_the_local_ingest_bit_for_bit(ray_session, redo_store, tiny_ingested):
    from cityq.pipeline.ingest import ingest_model
    from cityq.store import Store

    path = redo_store()
    with Store(path) as store:
        summaries = [ingest_model(store, model, _options()) for model in MODELS]
    assert [len(s.unit_seconds) for s in summaries] == [2, 2]  # 8 images: units of 6 and 2
    assert [s.images for s in summaries] == [8, 8]
    assert {other for other, _ in summaries[1].pairs} == {"resnet18-s0", "resnet18-s1"}
    assert_same_as_local(path, tiny_ingested)


def test_workers_killed_at_four_points_of_a_unit_are_retried_to_the_same_result(
        ray_session, redo_store, tiny_ingested, tmp_path, monkeypatch):
    from cityq.pipeline.ingest import ingest_model
    from cityq.store import Store

    flags = {point: tmp_path / f"died-{point}" for point in ("start", "cams", "rows", "done")}
    faults = [f"start:0:{flags['start']}", f"cams:1:{flags['cams']}", f"rows:2:{flags['rows']}",
              f"done:0:{flags['done']}"]
    monkeypatch.setenv("CITYQ_RAY_FAULT", ",".join(faults))
    path = redo_store(["simple-s0"])
    with Store(path) as store:
        summary = ingest_model(store, "simple-s0", _options(shard_size=3))
    assert all(flag.exists() for flag in flags.values())  # each worker did die once, mid-unit
    assert summary.images == 8 and len(summary.unit_seconds) == 3
    assert_same_as_local(path, tiny_ingested, models=["simple-s0"])


def test_driver_killed_after_a_committed_unit_resumes_on_rerun(redo_store, tiny_ingested, tmp_path):
    """The CLI in a subprocess (its own Ray), killed right after its first commit, then rerun."""
    from cityq.store import Store

    path = redo_store(["simple-s0"])
    command = [sys.executable, "-c", "from cityq.cli import main; main()", "ingest", "--model", "simple-s0",
               "--engine", "ray", "--shard-size", "3", "--block-size", "3", "--batch-size", "4", "--device", "cpu",
               "--units-per-commit", "1", "--store", str(path)]
    env = dict(os.environ, CITYQ_PROGRESS="0", CITYQ_RAY_FAULT=f"commit:1:{tmp_path / 'died'}")
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert killed.returncode == 17, killed.stderr[-2000:]
    with Store(path, read_only=True) as store:
        blocks = store.fetch_df("SELECT count(*) AS n FROM mask_blocks JOIN ingests USING (ingest_id) "
                                "WHERE model = 'simple-s0'")["n"][0]
        assert blocks == 1  # one unit of three committed, then the driver died
        from cityq.store.check import check_store

        lines = [f.line() for f in check_store(store, sample=2)]
        assert any("cityq ingest --model simple-s0" in line for line in lines), lines
    rerun = subprocess.run(command, env=dict(env, CITYQ_RAY_FAULT=""), capture_output=True, text=True, timeout=600,
                           check=False)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "run folder" in rerun.stderr and "units computed on Ray" in rerun.stderr
    assert_same_as_local(path, tiny_ingested, models=["simple-s0"])


def test_a_run_folder_on_s3_commits_the_same_ingest(ray_session, s3_env, redo_store, tiny_ingested):
    import s3fs

    from cityq.pipeline.ingest import ingest_model
    from cityq.pipeline.ray_ingest import plan_units, prepare
    from cityq.pipeline.ray_units import UnitWorker
    from cityq.store import Store, datasets, ingests, segmentations
    from cityq.store.ingests import NewIngest
    from cityq.store.models import get_model_record

    fs = s3fs.S3FileSystem()
    fs.mkdir(BUCKET)
    url = f"s3://{BUCKET}/runs"
    with Store(tiny_ingested, read_only=True) as local:
        cam_size = (lambda i: (i.cam_height, i.cam_width))(ingests.find_ingest(local, "simple-s0"))
    path = redo_store(["simple-s0"])
    with Store(path) as store:
        # An earlier run's worker finished unit 0 of simple-s0 on S3 before the driver died:
        # the rerun must commit it from the bucket without recomputing it.
        record = get_model_record(store, "simple-s0")
        options = _options(run_folder=url)
        seg_id, _ = segmentations.get_or_create_segmentation(store, "labels", "tiny", record.img_size, record.img_size)
        grid = ingests.find_ingest(store, "resnet18-s0").thresholds
        ingest = ingests.create_ingest(store, NewIngest(
            model="simple-s0", split="test", target="true", segmentation_id=seg_id, segmenter="labels",
            thresholds=grid, size=(record.img_size, record.img_size), cam_size=cam_size, block_size=3,
            image_ids=datasets.split_image_ids(store, "tiny", "test")))
        plan = plan_units(store, ingest, record, options)
        prepare(store, plan, ingest, [0, 1])
        UnitWorker("cpu").run(plan.folder, plan.manifest.model_dir, 0)
        assert any(key.endswith("done/shard=00000.json") for key in fs.find(f"{BUCKET}/runs"))
        summary = ingest_model(store, "simple-s0", options)
        assert len(summary.unit_seconds) == 1 and summary.run_folder.startswith(url)
        assert ingests.get_ingest(store, ingest.ingest_id).status == "done"
    assert fs.find(f"{BUCKET}/runs") == []  # committed, then removed from the bucket
    assert_same_as_local(path, tiny_ingested, models=["simple-s0"])


def test_ray_segment_gives_the_local_segment(ray_session, tiny_ingested, tmp_path, monkeypatch):
    """A learned segmenter (cityq's small U-Net, random weights: they travel to the workers through
    the run folder) over the tiny dataset, locally in one copy of the store and on Ray (a worker
    killed mid-unit) in another: the same maps and rows."""
    import shutil

    import torch

    from cityq.pipeline.ray_ingest import RayOptions
    from cityq.pipeline.segment import ensure_segmentation
    from cityq.segmenters.catalog import add_segmenter
    from cityq.segmenters.small_net import SmallUNet, save_trained
    from cityq.store import Store
    from cityq.store.check import check_store, failed
    from cityq.store.segmentations import load_segmentation

    torch.manual_seed(0)
    net = SmallUNet(4, 8)
    for parameter in net.parameters():  # larger than the default init: maps of several classes
        parameter.data.normal_(0, 0.3)
    weights = tmp_path / "toy-unet.pt"
    save_trained(weights, net, {"classes": [2, 6, 11, 32], "width": 8, "input_size": 32})
    monkeypatch.setenv("CITYQ_RAY_FAULT", f"rows:1:{tmp_path / 'died'}")
    results = {}
    for engine in ("local", "ray"):
        path = tmp_path / engine
        shutil.copytree(tiny_ingested, path)
        with Store(path) as store:
            add_segmenter(store, "toy", "trained", str(weights))
            ids = store.fetch_df("SELECT image_id FROM images ORDER BY 1")["image_id"].tolist()
            ray_options = RayOptions(shard_size=8, commit_every=1) if engine == "ray" else None
            seg_id = ensure_segmentation(store, "toy", "tiny", ids, 64, 64, device="cpu", batch_size=4,
                                         progress=False, ray=ray_options)
            results[engine] = (
                store.fetch_df("SELECT image_id, zarr_index FROM segmented_images WHERE segmentation_id = $s "
                               "ORDER BY 1, 2", {"s": seg_id}),
                store.fetch_df("SELECT * FROM pixel_counts WHERE segmentation_id = $s ORDER BY ALL", {"s": seg_id}),
                load_segmentation(store, seg_id, ids),
            )
            assert len(results[engine][0]) == len(ids) == 40
            findings = check_store(store, sample=4)
            assert not failed(findings), [f.line() for f in findings]
        assert not (path / "runs").exists() or not any((path / "runs").rglob("*.*"))
    assert (tmp_path / "died").exists()  # the worker of unit 1 did die once
    (rows_a, counts_a, maps_a), (rows_b, counts_b, maps_b) = results["local"], results["ray"]
    assert len(np.unique(maps_a)) > 1  # a real map, not one class everywhere
    assert rows_a.equals(rows_b) and counts_a.equals(counts_b) and np.array_equal(maps_a, maps_b)
