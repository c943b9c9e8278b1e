"""`cityq ingest --engine ray`: the blocks of an ingest computed on a Ray cluster via Ray Data.

A thin adapter around the local ingest. `ingest_model` validates, segments, creates the ingest
row, marks it done and computes AR exactly as for a local run; only the loop over blocks is
replaced by `run_units`:

1. The driver writes the run folder's inputs (image list, class maps, weights, manifest), all
   deterministic, so a rerun finds or rewrites the same objects.
2. Ray Data maps `UnitWorker` (one actor per GPU, or per CPU) over the units not yet committed;
   each unit runs the local ingest's per-block functions (`load_block`, `compute_block`,
   `block_rows`) and leaves whole objects and a marker (ray_units.py).
3. As units finish, the driver checks each against the manifest and commits them into the
   store, a batch of units per DuckDB transaction (store/run_folders.py). The store keeps its
   single writer; workers never open it.
4. When every unit is committed, the model's part of the run folder is deleted.

Resume: run the same command again. Committed units are skipped by their `mask_blocks` rows,
finished but uncommitted ones are committed from their outputs, the rest are recomputed.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from cityq.errors import CityqError
from cityq.pipeline.ray_units import (
    FAULT_ENV,
    Manifest,
    image_set_name,
    manifest_path,
    maps_array,
    pixel_failures_path,
    read_unit,
    safe_name,
    sha256,
    worker_class,
)
from cityq.progress import bar
from cityq.store import datasets, ingests, mask_arrays, segmentations
from cityq.store.run_folder import RunFolder, parquet_bytes
from cityq.store.run_folders import commit_units, record_run_folder

# Environment variables a worker needs to reach the run folder as the driver does.
_FORWARDED_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
                  "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "FSSPEC_S3_ENDPOINT_URL", "PYTHONPATH")


@dataclass
class RayOptions:
    address: str | None = None  # a Ray cluster ("auto", "ray://host:10001"); None: a local Ray here
    shard_size: int = 4096  # images per unit; a multiple of the block size
    run_folder: str | None = None  # a path or fsspec URL; default <store>/runs
    workers: int | None = None  # actors; default one per GPU, else one per CPU of the cluster
    commit_every: int = 8  # units per DuckDB transaction
    num_cpus: int | None = None  # CPUs of a local Ray started here (default: all)


def require_ray() -> None:
    """Ray is an optional extra: say how to get it instead of failing on an import."""
    try:
        import ray.data  # noqa: F401
    except ImportError:
        raise CityqError("--engine ray needs Ray Data: pip install 'cityq[ray]'") from None


def check_options(options, block_size: int) -> None:
    if options.shard_size < 1 or options.shard_size % block_size:
        raise CityqError(f"--shard-size must be a positive multiple of --block-size ({block_size}), "
                         f"not {options.shard_size}")
    require_ray()
    if options.commit_every < 1:
        raise CityqError("the number of units per commit must be positive")


def run_folder_of(store, options: RayOptions) -> RunFolder:
    return RunFolder(options.run_folder or str(Path(store.path) / "runs"))


@dataclass
class Plan:
    """A model's ingest as units: where they go and what the workers are told."""
    folder: RunFolder
    manifest: Manifest
    image_ids: np.ndarray  # the ingest's images in Zarr order
    checkpoint: bytes


def plan_units(store, ingest, record, options) -> Plan:
    ray_options = options.ray or RayOptions()
    folder = run_folder_of(store, ray_options)
    image_ids = ingests.image_ids_of(store, ingest)
    image_set = image_set_name(record.dataset, ingest.split, ingest.segmentation_id, int(image_ids.max()),
                               ray_options.shard_size, ingest.block_size)
    checkpoint = (Path(store.path) / record.checkpoint).read_bytes()
    manifest = Manifest(
        ingest_id=ingest.ingest_id, model=record.model, arch=record.arch, cities=tuple(record.cities),
        img_size=record.img_size, target=ingest.target, thresholds=tuple(ingest.thresholds),
        batch_size=int(options.batch_size), block_size=int(ingest.block_size), shard_size=int(ray_options.shard_size),
        n_images=len(image_ids), cam_hw=(int(ingest.cam_height), int(ingest.cam_width)),
        map_hw=(int(ingest.height), int(ingest.width)),  # segmented at the model's input size
        image_set=image_set, model_dir=f"{image_set}/{safe_name(record.model)}-{ingest.target}",
        checkpoint_sha256=sha256(checkpoint), device=options.device,
    )
    return Plan(folder, manifest, image_ids, checkpoint)


def run_units(run, summary) -> None:
    """Compute and commit every block of `run.ingest` (ingest.IngestRun) not yet committed, on Ray."""
    store, ingest, record, options = run.store, run.ingest, run.record, run.options
    plan = plan_units(store, ingest, record, options)
    folder, manifest, image_ids = plan.folder, plan.manifest, plan.image_ids
    model_dir = manifest.model_dir
    summary.run_folder = f"{folder.url}/{model_dir}"
    record_run_folder(store, ingest.ingest_id, folder.url, model_dir)
    blocks_done = ingests.done_blocks(store, ingest.ingest_id)
    todo = [u for u in range(manifest.n_units) if not _committed(manifest, u, blocks_done)]
    partly = [u for u in todo if _blocks(manifest, u) & blocks_done]
    if partly:
        raise CityqError(
            f"ingest {ingest.ingest_id} of model {record.model!r} has units partly committed (blocks of another "
            f"engine or --shard-size); finish it with the same options as before, or add --force")
    if todo:
        prepare(store, plan, ingest, todo)
        array = mask_arrays.open_array(store, ingest)
        committer = _Committer(store, ingest, array, (options.ray or RayOptions()).commit_every, summary)
        with bar(total=len(todo), desc=f"ingest {record.model} on ray", unit="unit",
                 disable=None if options.progress is None else not options.progress) as progress:
            compute = []
            for unit in todo:  # finished by an earlier run, not committed: commit, do not redo
                output = read_unit(folder, manifest, unit, image_ids)
                if output is None:
                    compute.append(unit)
                else:
                    committer.add(output)
                    progress.update(1)
            committer.flush()
            store.release()  # the units run elsewhere: readers get in until the next commit
            for row in _execute(folder, manifest, compute, options.ray or RayOptions()):
                output = read_unit(folder, manifest, int(row["shard"]), image_ids)
                if output is None:
                    raise CityqError(f"unit {row['shard']} of {model_dir} reported done but its outputs in "
                                     f"{folder.url} do not match the manifest; rerun the same command")
                summary.unit_seconds.append(float(row["seconds"]))
                committer.add(output)
                progress.update(1)
            committer.flush()
    _clean(folder, model_dir, manifest.image_set)


def _blocks(manifest: Manifest, unit: int) -> set[int]:
    lo, hi = manifest.unit_rows(unit)
    return set(range(lo // manifest.block_size, -(-hi // manifest.block_size)))


def _committed(manifest: Manifest, unit: int, blocks_done: set[int]) -> bool:
    return _blocks(manifest, unit) <= blocks_done


def prepare(store, plan: Plan, ingest, units: list[int]) -> None:
    """The run folder's inputs for `units`: only what is missing or differs is written."""
    folder, manifest, image_ids = plan.folder, plan.manifest, plan.image_ids
    path = manifest_path(manifest.model_dir)
    if folder.exists(path) and folder.get_json(path) != manifest.to_json():
        folder.remove(manifest.model_dir)  # another ingest's leftovers: start over
    images_path = f"{manifest.image_set}/images.parquet"
    if not folder.exists(images_path):
        files = datasets.image_files(store, image_ids).set_index("image_id").loc[image_ids]
        cities = datasets.image_cities(store, image_ids)
        folder.put(images_path, parquet_bytes(pa.table({
            "image_id": pa.array(image_ids.astype(np.int64)),
            "file": pa.array([str(Path(root) / p) for root, p in zip(files["root"], files["path"])]),
            "city": pa.array([cities[int(i)] for i in image_ids]),
        })))
    maps = maps_array(manifest.image_set, manifest.n_images, manifest.map_hw, manifest.shard_size,
                      manifest.block_size)
    if not folder.exists(f"{maps.rel}/zarr.json"):
        maps.write_metadata(folder)
    pixels = manifest.pixels_array()
    if not folder.exists(f"{pixels.rel}/zarr.json"):
        pixels.write_metadata(folder)
    for unit in units:
        lo, hi = maps.rows(unit)
        if not folder.exists(maps.shard_key(unit)):
            maps.write_shard(folder, unit,
                             segmentations.load_segmentation(store, ingest.segmentation_id, image_ids[lo:hi].tolist()))
        if not folder.exists(pixels.shard_key(unit)):
            _write_pixels(store, folder, manifest, unit, image_ids[lo:hi])
    if not folder.exists(f"{manifest.model_dir}/checkpoint.pt"):
        folder.put(f"{manifest.model_dir}/checkpoint.pt", plan.checkpoint)
    cams = manifest.cams_array()
    if not folder.exists(f"{cams.rel}/zarr.json"):
        cams.write_metadata(folder)
    if not folder.exists(path):
        folder.put_json(path, manifest.to_json())


def _write_pixels(store, folder: RunFolder, manifest: Manifest, unit: int, ids: np.ndarray) -> None:
    """A unit's pixels from the store's image cache, block by block as the local ingest loads
    them (an unreadable image is recorded with its reason); the failures first, the shard last."""
    from cityq.pipeline.ingest import load_block
    from cityq.store.image_cache import load_image_tensor

    size = manifest.img_size
    out = np.zeros((len(ids), 3, size, size), dtype=np.uint8)
    failures = []
    for start in range(0, len(ids), manifest.block_size):
        block = ids[start:start + manifest.block_size]
        pixels, ok, failed = load_block(block, lambda part: load_image_tensor(store, part, size), size)
        out[start + np.flatnonzero(ok)] = pixels.numpy()
        failures += [[int(i), reason] for i, reason in failed]
    folder.put_json(pixel_failures_path(manifest.image_set, unit), failures)
    manifest.pixels_array().write_shard(folder, unit, out)


class _Committer:
    """Collects checked units and commits them `every` at a time, in one transaction each."""

    def __init__(self, store, ingest, array, every: int, summary):
        self.store, self.ingest, self.array, self.every, self.summary = store, ingest, array, every, summary
        self.pending = []
        self.commits = 0

    def add(self, output) -> None:
        self.pending.append(output)
        if len(self.pending) >= self.every:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        started = time.perf_counter()
        self.summary.rows_written += commit_units(self.store, self.ingest, self.array, self.pending)
        self.summary.write_seconds += time.perf_counter() - started
        for output in self.pending:
            self.summary.images += len(output.images)
            self.summary.failures.extend((int(i), str(reason)) for i, reason in output.failures)
        self.pending = []
        self.commits += 1
        _maybe_kill_driver(self.commits)
        self.store.release()  # readers get in while the next units are computed


def _maybe_kill_driver(commits: int) -> None:
    """Test hook: `CITYQ_RAY_FAULT=commit:K:FLAG` kills the driver right after its K-th commit."""
    fault = os.environ.get(FAULT_ENV, "")
    if fault.startswith("commit:"):
        _, k, flag = fault.split(":", 2)
        if int(k) == commits and not os.path.exists(flag):
            Path(flag).write_text(str(os.getpid()))
            os._exit(17)


def _execute(folder: RunFolder, manifest: Manifest, units: list[int], options: RayOptions):
    """Rows {model_dir, shard, n_ok, failures, seconds, pid} as the units finish."""
    items = [{"folder": folder.url, "model_dir": manifest.model_dir, "shard": u} for u in units]
    yield from execute(items, lambda device, fault: worker_class(device, fault), options, manifest.device)


def execute(items: list[dict], make_worker, options: RayOptions, device: str):
    """Ray Data over `items` (one unit each): `make_worker(device, fault)` -> a callable class,
    one actor per GPU (or per CPU, or `options.workers`); yields each unit's row as it finishes."""
    if not items:
        return
    import ray
    import ray.data

    _init_ray(options)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # cityq shows its own progress per unit
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0)) if device != "cpu" else 0
    workers = options.workers or max(1, gpus or int(resources.get("CPU", 1)))
    fault = os.environ.get(FAULT_ENV, "")
    worker = make_worker("cuda" if gpus else "cpu", None if fault.startswith("commit:") else fault or None)
    dataset = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        worker,
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=min(workers, len(items))),
        num_gpus=1 if gpus else 0,
        num_cpus=1,
    )
    try:
        yield from dataset.iter_rows()
    except ray.exceptions.RayError as exc:
        raise CityqError(f"a unit failed on Ray: {_first_line(exc)}; fix it and rerun the same command "
                         "(finished units are kept)") from exc


def _first_line(exc: BaseException) -> str:
    cause = exc
    while getattr(cause, "cause", None) is not None:
        cause = cause.cause
    lines = [line for line in str(cause).splitlines() if line.strip() and not line.startswith(("Traceback", " "))]
    return lines[-1] if lines else type(cause).__name__


def _init_ray(options: RayOptions) -> None:
    import ray

    if ray.is_initialized():
        return
    env = {k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ}
    kwargs = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
              "runtime_env": {"env_vars": env} if env else None}
    if options.address:
        ray.init(address=options.address, **kwargs)
    else:
        ray.init(num_cpus=options.num_cpus or os.cpu_count(), **kwargs)


def _clean(folder: RunFolder, model_dir: str, image_set: str) -> None:
    """Every unit is committed: the model's outputs go; the image set goes with its last model."""
    folder.remove(model_dir)
    shared = tuple(f"{image_set}/{name}" for name in ("maps/", "pixels/", "pixel-failures/", "images.parquet"))
    if not [p for p in folder.files(image_set) if not p.startswith(shared)]:
        folder.remove(image_set)
