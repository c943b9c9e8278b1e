"""Units of a distributed ingest: what one unit is, how a worker computes it, how the driver
checks what it left. Nothing here imports Ray or opens the store: a worker needs only the run
folder (and the image files the manifest names).

A unit is (model, shard of K images). Layout of a run folder (root: a path or an fsspec URL):

    ingests/<set>/images.parquet            the ingest's images in Zarr order: image_id, file, city
    ingests/<set>/maps/                     Zarr: their class maps (N,H,W) uint8, a shard per unit
    ingests/<set>/pixels/                   Zarr: their pixels (N,3,S,S) uint8 as the image cache holds
                                            them, decoded once for every model; a shard per unit
    ingests/<set>/pixel-failures/shard=U.json   images of shard U that could not be read, and why
    ingests/<set>/<model>/manifest.json     the ingest: model, grid, K, block size, ...
    ingests/<set>/<model>/checkpoint.pt     the weights, so workers need no store
    ingests/<set>/<model>/cams/             Zarr: native CAMs (N,h,w) float32, a shard per unit
    ingests/<set>/<model>/images/shard=U/part-0.parquet   mask_images rows of unit U (no ingest_id)
    ingests/<set>/<model>/counts/shard=U/part-0.parquet   object_counts rows of unit U (no ingest_id)
    ingests/<set>/<model>/done/shard=U.json the marker, written last: sha256 of the three objects
    segmentations/...                       segmentation units (ray_segment.py)

`<set>` names one image list (dataset, split, segmentation, K, block size), so every model
ingested on it reuses its class maps and pixels (the driver writes both from the store: the
workers see exactly the pixels the local ingest reads from the image cache). A unit counts as
finished only through its marker, and only when the marker's manifest digest and object
digests match what is there: anything else (a killed worker's leftovers, a manifest since
changed) is recomputed and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from cityq.store.run_folder import INGESTS, RunFolder, ShardedArray, parquet_bytes, read_parquet

FORMAT = 1
FAULT_ENV = "CITYQ_RAY_FAULT"  # test hook: "POINT:SHARD:FLAGFILE[,...]", see `_maybe_die`
MAP_FILL = 255  # no ADE20K-150 class: a map row never written reads as 255


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def image_set_name(dataset: str, split: str, segmentation_id: int, max_image_id: int, shard_size: int,
                   block_size: int) -> str:
    name = safe_name(f"{dataset}-{split}-seg{segmentation_id}-upto{max_image_id}-k{shard_size}-b{block_size}")
    return f"{INGESTS}/{name}"


class UnitManifest:
    """What every run's manifest (an ingest's, a segmentation's) shares: its JSON form, the digest
    that ties every marker to it, and how its images are cut into units of `shard_size`."""

    def to_json(self) -> dict:
        value = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}
        return {"format": FORMAT, **value}

    @classmethod
    def from_json(cls, value: dict):
        fields = {k: (tuple(v) if isinstance(v, list) else v) for k, v in value.items() if k != "format"}
        return cls(**fields)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    @property
    def n_units(self) -> int:
        return -(-self.n_images // self.shard_size)

    def unit_rows(self, shard: int) -> tuple[int, int]:
        lo = shard * self.shard_size
        return lo, min(lo + self.shard_size, self.n_images)


@dataclass(frozen=True)
class Manifest(UnitManifest):
    """One model's ingest as the workers see it. Its digest ties every marker to it."""

    ingest_id: int
    model: str
    arch: str
    cities: tuple[str, ...]
    img_size: int
    target: str
    thresholds: tuple[float, ...]
    batch_size: int
    block_size: int
    shard_size: int
    n_images: int
    cam_hw: tuple[int, int]
    map_hw: tuple[int, int]
    image_set: str
    model_dir: str
    checkpoint_sha256: str
    device: str = "auto"

    def cams_array(self) -> ShardedArray:
        return ShardedArray(f"{self.model_dir}/cams", (self.n_images, *self.cam_hw), self.shard_size,
                            self.block_size, "float32", float("nan"), "shuffle")

    def maps_array(self) -> ShardedArray:
        return maps_array(self.image_set, self.n_images, self.map_hw, self.shard_size, self.block_size)

    def pixels_array(self) -> ShardedArray:
        return pixels_array(self.image_set, self.n_images, self.img_size, self.shard_size, self.block_size)

    def unit_paths(self, shard: int) -> dict[str, str]:
        """The run-folder objects of one unit (the marker last)."""
        return {
            "cams": self.cams_array().shard_key(shard),
            "images": f"{self.model_dir}/images/shard={shard:05d}/part-0.parquet",
            "counts": f"{self.model_dir}/counts/shard={shard:05d}/part-0.parquet",
            "done": f"{self.model_dir}/done/shard={shard:05d}.json",
        }


def maps_array(image_set: str, n_images: int, map_hw, shard_size: int, block_size: int) -> ShardedArray:
    return ShardedArray(f"{image_set}/maps", (n_images, *map_hw), shard_size, block_size, "uint8", MAP_FILL,
                        "bitshuffle")


def pixels_array(image_set: str, n_images: int, size: int, shard_size: int, block_size: int) -> ShardedArray:
    return ShardedArray(f"{image_set}/pixels", (n_images, 3, size, size), shard_size, block_size, "uint8", 0,
                        "bitshuffle")


def pixel_failures_path(image_set: str, shard: int) -> str:
    return f"{image_set}/pixel-failures/shard={shard:05d}.json"


def manifest_path(model_dir: str) -> str:
    return f"{model_dir}/manifest.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the worker -------------------------------------------------------------------------------

@dataclass
class _Loaded:
    manifest: Manifest
    setup: object  # ingest.CamSetup
    images: pa.Table


class UnitWorker:
    """Ray Data callable class: `map_batches(UnitWorker, batch_size=1, ...)` over rows
    {folder, model_dir, shard}. A model's weights are loaded once per actor and kept."""

    def __init__(self, device: str = "auto", fault: str | None = None, threads: int | None = None):
        import torch

        from cityq.device import resolve_device

        self.device = resolve_device(device)
        self.fault = fault
        if threads:
            torch.set_num_threads(threads)
        self._loaded: dict[tuple[str, str], _Loaded] = {}

    def __call__(self, batch: dict) -> dict:
        out: dict[str, list] = {"model_dir": [], "shard": [], "n_ok": [], "failures": [], "seconds": [], "pid": []}
        for url, model_dir, shard in zip(batch["folder"], batch["model_dir"], batch["shard"]):
            started = time.perf_counter()
            marker = self.run(RunFolder(str(url)), str(model_dir), int(shard))
            out["model_dir"].append(str(model_dir))
            out["shard"].append(int(shard))
            out["n_ok"].append(marker["n_ok"])
            out["failures"].append(json.dumps(marker["failures"]))
            out["seconds"].append(time.perf_counter() - started)
            out["pid"].append(os.getpid())
        return {k: np.array(v) for k, v in out.items()}

    def _load(self, folder: RunFolder, model_dir: str) -> _Loaded:
        key = (folder.url, model_dir)
        manifest = Manifest.from_json(folder.get_json(manifest_path(model_dir)))
        cached = self._loaded.get(key)
        if cached is not None and cached.manifest == manifest:
            return cached
        import torch

        from cityq.models.checkpoint import load_model
        from cityq.models.registry import target_layer
        from cityq.pipeline.ingest import CamSetup

        data = folder.get(f"{model_dir}/checkpoint.pt")
        with tempfile.TemporaryDirectory(prefix="cityq-unit-") as tmp:
            path = Path(tmp) / "checkpoint.pt"
            path.write_bytes(data)
            network, _ = load_model(path, manifest.arch, len(manifest.cities))
        network = network.to(self.device, memory_format=torch.channels_last)
        setup = CamSetup(network, target_layer(network, manifest.arch), self.device,
                         torch.tensor(manifest.thresholds, dtype=torch.float32, device=self.device),
                         manifest.target == "predicted", manifest.batch_size, tuple(manifest.cam_hw))
        images = read_parquet(folder.get(f"{manifest.image_set}/images.parquet"))
        self._loaded[key] = _Loaded(manifest, setup, images)
        return self._loaded[key]

    def run(self, folder: RunFolder, model_dir: str, shard: int) -> dict:
        loaded = self._load(folder, model_dir)
        manifest = loaded.manifest
        self._maybe_die("start", shard)
        cams, images, counts, failures = compute_unit(loaded, folder, shard)
        paths = manifest.unit_paths(shard)
        shard_bytes = manifest.cams_array().write_shard(folder, shard, cams)
        self._maybe_die("cams", shard)
        written = {"cams": sha256(shard_bytes)}
        for name, table in (("images", images), ("counts", counts)):
            data = parquet_bytes(table)
            folder.put(paths[name], data)
            written[name] = sha256(data)
        self._maybe_die("rows", shard)
        lo, hi = manifest.unit_rows(shard)
        marker = {"format": FORMAT, "manifest": manifest.digest, "shard": shard, "rows": [lo, hi],
                  "n_ok": len(images), "n_counts": len(counts), "failures": failures, "sha256": written}
        folder.put_json(paths["done"], marker)
        self._maybe_die("done", shard)
        return marker

    def _maybe_die(self, point: str, shard: int) -> None:
        maybe_die(self.fault, point, shard)


def maybe_die(fault: str | None, point: str, shard: int) -> None:
    """Test hook: die like a killed worker (no cleanup, no exception) at `point` of unit `shard`,
    once per fault: its flag file records that it happened, so Ray's retry goes through.
    `fault` is "POINT:SHARD:FLAGFILE[,...]" (the CITYQ_RAY_FAULT environment variable)."""
    for entry in (fault or "").split(","):
        if not entry:
            continue
        want_point, want_shard, flag = entry.split(":", 2)
        if want_point == point and int(want_shard) == shard and not os.path.exists(flag):
            Path(flag).write_text(str(os.getpid()))
            os._exit(17)


def compute_unit(loaded: _Loaded, folder: RunFolder, shard: int):
    """One unit, block by block with the local ingest's own per-block functions."""
    import torch

    from cityq.errors import CityqError
    from cityq.pipeline.ingest import block_rows, compute_block, load_block

    manifest = loaded.manifest
    lo, hi = manifest.unit_rows(shard)
    rows = loaded.images.slice(lo, hi - lo)
    ids = np.asarray(rows.column("image_id").to_numpy(), dtype=np.int64)
    city_index = {city: i for i, city in enumerate(manifest.cities)}
    targets_all = dict(zip(ids.tolist(), (city_index[c] for c in rows.column("city").to_pylist())))
    maps = manifest.maps_array().read_shard(folder, shard)
    if (maps == MAP_FILL).any():
        raise CityqError(f"the class maps of unit {shard} in {folder.url} are incomplete; rerun the ingest")
    pixels_all = manifest.pixels_array().read_shard(folder, shard)
    unreadable = {int(i): reason for i, reason in folder.get_json(pixel_failures_path(manifest.image_set, shard))}
    position = {int(i): k for k, i in enumerate(ids)}

    def load(part):  # what load_image_tensor gives the local ingest: the cached pixels, or its error
        for image_id in part:
            if int(image_id) in unreadable:
                raise CityqError(unreadable[int(image_id)])
        return torch.from_numpy(pixels_all[[position[int(i)] for i in part]])

    cams, image_tables, count_tables, failures = [], [], [], []
    for start in range(lo, hi, manifest.block_size):
        block_ids = ids[start - lo:start - lo + manifest.block_size]
        pixels, ok, failed = load_block(block_ids, load, manifest.img_size)
        failures.extend([int(i), reason] for i, reason in failed)
        seg_maps = maps[start - lo:start - lo + len(block_ids)][ok]
        targets = np.array([targets_all[int(i)] for i in block_ids[ok]], dtype=np.int64)
        result = compute_block(loaded.setup, pixels, ok, targets, seg_maps)
        images, counts = block_rows(result, block_ids, start, len(manifest.thresholds))
        cams.append(result.cams)
        image_tables.append(images)
        count_tables.append(counts)
    return np.concatenate(cams), pa.concat_tables(image_tables), pa.concat_tables(count_tables), failures


def baked(worker: type, device: str, fault: str | None) -> type:
    """`worker` with its arguments baked in: Ray pickles the class itself, so no constructor
    arguments have to live in the object store for actor restarts."""
    def __init__(self):
        worker.__init__(self, device, fault)

    return type(worker.__name__, (worker,), {"__init__": __init__})


def worker_class(device: str, fault: str | None) -> type:
    return baked(UnitWorker, device, fault)


# -- the driver's check of a unit -------------------------------------------------------------

@dataclass
class UnitOutput:
    shard: int
    rows: tuple[int, int]  # Zarr rows [lo, hi) of the ingest
    cams: np.ndarray  # (hi - lo, h, w), NaN where an image failed
    images: pa.Table  # mask_images rows, no ingest_id
    counts: pa.Table  # object_counts rows, no ingest_id
    failures: list = field(default_factory=list)  # [image_id, reason]

    def blocks(self, block_size: int) -> list[tuple[int, int]]:
        """(block, images recorded in it) for each block of the unit."""
        zarr_index = self.images.column("zarr_index").to_numpy()
        return [(b, int(((zarr_index >= b * block_size) & (zarr_index < (b + 1) * block_size)).sum()))
                for b in range(self.rows[0] // block_size, -(-self.rows[1] // block_size))]


def read_unit(folder: RunFolder, manifest: Manifest, shard: int, image_ids: np.ndarray) -> UnitOutput | None:
    """A finished unit's outputs, checked against the manifest; None when the unit has to be
    (re)computed: no marker, a marker of another manifest, or objects that do not match it."""
    paths = manifest.unit_paths(shard)
    if not folder.exists(paths["done"]):
        return None
    marker = folder.get_json(paths["done"])
    lo, hi = manifest.unit_rows(shard)
    if marker.get("manifest") != manifest.digest or marker.get("rows") != [lo, hi]:
        return None
    data = {}
    for name in ("cams", "images", "counts"):
        if not folder.exists(paths[name]):
            return None
        data[name] = folder.get(paths[name])
        if sha256(data[name]) != marker["sha256"][name]:
            return None
    cams = manifest.cams_array().decode(shard, data["cams"])
    images, counts = read_parquet(data["images"]), read_parquet(data["counts"])
    ids = image_ids[lo:hi]
    ok = ~np.isnan(cams).any(axis=(1, 2))
    recorded = images.column("image_id").to_numpy()
    consistent = (
        len(images) == marker["n_ok"] and len(counts) == marker["n_counts"]
        and np.array_equal(recorded, ids[ok])
        and np.array_equal(images.column("zarr_index").to_numpy(), lo + np.flatnonzero(ok))
        and np.isin(counts.column("image_id").to_numpy(), recorded).all()
    )
    if not consistent:
        return None
    return UnitOutput(shard, (lo, hi), cams, images, counts, marker.get("failures", []))
