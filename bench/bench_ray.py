"""The distributed ingest's costs (docs/scale.md): one unit on a worker against the local ingest of
the same images (A/B, same run), the driver's check + commit per million count rows, and a
whole `--engine ray` ingest on a local Ray (start-up included).

Run: .venv/bin/python bench/bench_ray.py [--quick]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch


def _unit_vs_local(root: Path, quick: bool) -> list[dict]:
    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.ray_ingest import RayOptions, plan_units, prepare
    from cityq.pipeline.ray_units import UnitWorker, read_unit
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store import Store, ingests, mask_arrays
    from cityq.store.models import get_model_record
    from cityq.store.run_folders import commit_units
    from cityq.synth.writer import generate_dataset

    per_city, size = (80, 64) if quick else (640, 128)
    generate_dataset(root / "images", per_city=per_city, size=size, seed=0, workers=2, progress=False)
    results = []
    with Store.create(root / "store") as store:
        add_dataset(store, root / "images", "synth", progress=False)
        torch.manual_seed(0)
        save_checkpoint(root / "resnet18.pt", create_model("resnet18", 2), "resnet18", 2, {"img_size": size})
        import_model(store, ImportOptions("resnet18", root / "resnet18.pt", "resnet18", "synth", img_size=size,
                                          device="cpu"))
        n = store.fetch_df("SELECT count(*) AS n FROM images WHERE split = 'test'")["n"][0]
        block = 32 if quick else 256
        options = IngestOptions(device="cpu", progress=False, block_size=block, batch_size=64)
        ingest_model(store, "resnet18", options)  # segmentation and image cache warm for both
        ingests.delete_ingest(store, ingests.find_ingest(store, "resnet18").ingest_id)
        started = time.perf_counter()
        local = ingest_model(store, "resnet18", options)
        local_seconds = time.perf_counter() - started
        ingest = ingests.find_ingest(store, "resnet18")
        shard = block * (n // block)  # one unit: as many whole blocks as the split has
        plan = plan_units(store, ingest, get_model_record(store, "resnet18"),
                          IngestOptions(device="cpu", block_size=block, batch_size=64, engine="ray",
                                        ray=RayOptions(shard_size=shard, run_folder=str(root / "runs"))))
        started = time.perf_counter()
        prepare(store, plan, ingest, [0])
        prepare_seconds = time.perf_counter() - started
        worker = UnitWorker("cpu")
        worker._load(plan.folder, plan.manifest.model_dir)  # an actor loads its model once
        started = time.perf_counter()
        worker.run(plan.folder, plan.manifest.model_dir, 0)
        unit_seconds = time.perf_counter() - started
        unit_bytes = sum(len(plan.folder.get(p)) for p in plan.manifest.unit_paths(0).values())
        started = time.perf_counter()
        output = read_unit(plan.folder, plan.manifest, 0, plan.image_ids)
        check_seconds = time.perf_counter() - started
        rows = len(output.images) + len(output.counts)
        store.con.execute("DELETE FROM object_counts WHERE ingest_id = $id", {"id": ingest.ingest_id})
        store.con.execute("DELETE FROM mask_images WHERE ingest_id = $id", {"id": ingest.ingest_id})
        store.con.execute("DELETE FROM mask_blocks WHERE ingest_id = $id", {"id": ingest.ingest_id})
        started = time.perf_counter()
        commit_units(store, ingest, mask_arrays.open_array(store, ingest), [output])
        commit_seconds = time.perf_counter() - started
    note = f"resnet18 {size}px, {shard} images, block {block}, batch 64, CPU, {torch.get_num_threads()} threads"
    results.append({"name": "local ingest (baseline)", "value": round(local.images / local_seconds, 1),
                    "unit": "images/s", "note": f"{local.images} images; {note}"})
    results.append({"name": "one unit on a worker", "value": round(shard / unit_seconds, 1), "unit": "images/s",
                    "baseline": "local ingest", "note": f"{unit_seconds:.2f} s; {note}"})
    results.append({"name": "unit objects written", "value": round(unit_bytes / shard, 1), "unit": "bytes/image",
                    "note": "CAM shard + 2 Parquet files + marker"})
    results.append({"name": "driver: prepare one unit (maps, image list, weights)", "value": round(prepare_seconds, 3),
                    "unit": "s"})
    results.append({"name": "driver: check one unit", "value": round(check_seconds, 4), "unit": "s",
                    "note": f"{rows} rows"})
    results.append({"name": "driver: commit one unit", "value": round(commit_seconds, 4), "unit": "s",
                    "note": f"{rows} rows"})
    return results


def _lists(values: np.ndarray, width: int) -> pa.Array:
    """A flat int32 array as an Arrow list<int32> column of `width` values per row."""
    offsets = np.arange(0, len(values) + 1, width, dtype=np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values.astype(np.int32)))


def _commit_per_million(root: Path, quick: bool) -> list[dict]:
    """Synthetic units (4,096 images, 20 objects each, 19 thresholds) checked and committed into an
    on-disk store the way the driver does, 8 units per transaction."""
    from cityq.pipeline.ray_units import UnitOutput
    from cityq.store import Store, ingests, mask_arrays
    from cityq.store.run_folder import parquet_bytes, read_parquet
    from cityq.store.run_folders import commit_units

    k, objects, n_thr = (512, 20, 19) if quick else (4096, 20, 19)
    units = 4 if quick else 16
    rng = np.random.default_rng(0)
    with Store.create(root / "commit-store") as store:
        store.con.execute(
            "INSERT INTO models VALUES ('bench', 'resnet18', 0, 'synth', ['a', 'b'], 224, 'imported', NULL, NULL, "
            "NULL, 'x.pt', NULL, current_timestamp)")
        store.con.execute(
            "INSERT INTO ingests (model, split, target, segmentation_id, thresholds, height, width, cam_height, "
            "cam_width, block_size, n_images, zarr_path, status, config, created_at) VALUES ('bench', 'test', "
            "'true', 1, $grid, 224, 224, 7, 7, 256, $n, 'masks/bench', 'running', $config, current_timestamp)",
            {"grid": [round(0.05 * (i + 1), 2) for i in range(n_thr)], "n": k * units,
             "config": json.dumps({"max_image_id": k * units})})
        ingest = ingests.get_ingest(store, 1)
        array = mask_arrays.create_array(store, ingest.zarr_path, k * units, (7, 7), 256)
        outputs, parquet = [], []
        for u in range(units):
            ids = np.arange(u * k, (u + 1) * k, dtype=np.int32)
            m = rng.integers(0, 2000, (k * objects, n_thr), dtype=np.int32)
            n_rows = k * objects
            counts = pa.table({
                "image_id": pa.array(np.repeat(ids, objects)),
                "object_id": pa.array(np.tile(np.arange(objects, dtype=np.int16), k)),
                "n_pixels": pa.array(rng.integers(1, 50000, n_rows, dtype=np.int32)),
                "soft_sum": pa.array(rng.random(n_rows)),
                "m_pixels": _lists(m.reshape(-1), n_thr),
            })
            images = pa.table({
                "image_id": pa.array(ids), "zarr_index": pa.array(ids),
                "target_index": pa.array(np.zeros(k, np.int16)), "pred_index": pa.array(np.zeros(k, np.int16)),
                "area_pixels": _lists(rng.integers(0, 50000, k * n_thr, dtype=np.int32), n_thr),
                "mask_sum": pa.array(rng.random(k)),
            })
            parquet.append((parquet_bytes(images), parquet_bytes(counts)))
            outputs.append(UnitOutput(u, (u * k, (u + 1) * k), rng.random((k, 7, 7), dtype=np.float32), images, counts))
        started = time.perf_counter()
        for images, counts in parquet:  # what checking costs beyond the I/O: decoding the Parquet
            read_parquet(images), read_parquet(counts)
        decode_seconds = time.perf_counter() - started
        started = time.perf_counter()
        for lo in range(0, units, 8):
            commit_units(store, ingest, array, outputs[lo:lo + 8])
        commit_seconds = time.perf_counter() - started
        rows = sum(len(o.counts) for o in outputs)
        db_bytes = (root / "commit-store" / "cityq.duckdb").stat().st_size
        # B: DuckDB reads the Parquet files itself (no Arrow hop through Python), same rows.
        files = []
        for u, (_, counts) in enumerate(parquet):
            files.append(str(root / f"counts-{u}.parquet"))
            Path(files[-1]).write_bytes(counts)
        started = time.perf_counter()
        for lo in range(0, units, 8):
            with store.transaction():
                store.con.execute("INSERT INTO object_counts SELECT 2 AS ingest_id, * FROM read_parquet($files)",
                                  {"files": files[lo:lo + 8]})
        direct_seconds = time.perf_counter() - started
    per_million = 1e6 / rows
    note = f"{units} units x {k} images x {objects} objects, {n_thr} thresholds, 8 units per transaction"
    return [
        {"name": "driver: commit per million count rows", "value": round(commit_seconds * per_million, 2), "unit": "s",
         "note": note},
        {"name": "driver: Parquet decode per million count rows", "value": round(decode_seconds * per_million, 2),
         "unit": "s"},
        {"name": "B: INSERT ... FROM read_parquet per million count rows",
         "value": round(direct_seconds * per_million, 2),
         "unit": "s", "baseline": "commit per million count rows"},
        {"name": "DuckDB file per million count rows", "value": round(db_bytes * per_million / 2**20, 1),
         "unit": "MiB"},
    ]


def _ar_rate(quick: bool) -> list[dict]:
    """What AR costs the driver: upsample two native CAMs to 224 px and average |difference|."""
    from cityq.cams import upsample_cams

    n = 128 if quick else 1024
    a, b = torch.rand(n, 7, 7), torch.rand(n, 7, 7)
    upsample_cams(a[:8], (224, 224))
    started = time.perf_counter()
    for lo in range(0, n, 512):
        difference = upsample_cams(a[lo:lo + 512], (224, 224)) - upsample_cams(b[lo:lo + 512], (224, 224))
        difference.abs().double().mean(dim=(1, 2))
    seconds = time.perf_counter() - started
    return [{"name": "driver: AR, image pairs per second at 224 px (CPU)", "value": round(n / seconds, 1),
             "unit": "pairs/s", "note": f"{n} pairs, chunks of 512, {torch.get_num_threads()} threads"}]


def _ray_end_to_end(root: Path, quick: bool) -> list[dict]:
    """`ingest --engine ray` on a local Ray of 2 CPUs, Ray start-up and actor start-up included,
    against the local ingest of the same model and images."""
    try:
        import ray
    except ImportError:
        return [{"name": "ray end to end", "value": "skipped", "note": "Ray not installed (cityq[ray])"}]
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.ray_ingest import RayOptions
    from cityq.store import Store, ingests

    with Store(root / "store") as store:
        n = store.fetch_df("SELECT count(*) AS n FROM images WHERE split = 'test'")["n"][0]
        block = 32 if quick else 128
        ingests.delete_ingest(store, ingests.find_ingest(store, "resnet18").ingest_id)
        started = time.perf_counter()
        summary = ingest_model(store, "resnet18", IngestOptions(
            device="cpu", progress=False, block_size=block, batch_size=64, engine="ray",
            ray=RayOptions(shard_size=block, num_cpus=2, run_folder=str(root / "runs2"))))
        seconds = time.perf_counter() - started
    import ray

    ray.shutdown()
    units = summary.unit_seconds
    return [{"name": "ingest --engine ray, local Ray 2 CPUs", "value": round(seconds, 1), "unit": "s",
             "note": f"{n} images, {len(units)} units of {block}: {np.mean(units):.2f} s per unit on an actor "
                     f"(2 actors share 2 cores), the rest is Ray and actor start-up"}]


def run(quick: bool) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="cityq-bench-ray-") as tmp:
        root = Path(tmp)
        return (_unit_vs_local(root, quick) + _commit_per_million(root, quick) + _ar_rate(quick)
                + _ray_end_to_end(root, quick))


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
