"""`cityq segment --engine ray` (and the segmentation an `ingest --engine ray` needs): units of
(segmenter, shard of K images) on Ray Data, committed into the store's segmentation.

The same protocol as the ingest's units (ray_units.py, ray_ingest.py). A run folder
`segmentations/seg<id>-<segmenter>-<digest>/` holds the manifest, the image list (with label-map files), the segmenter's
files, and per unit one Zarr shard of class maps, one Parquet file of `pixel_counts` rows and a
marker. The images to segment get Zarr rows `base_row + position` in the manifest's order, so
the store's rows are fixed before any unit runs; a batch of finished units is committed as
the local segment commits a block: maps to the store's array, then `segmented_images` and
`pixel_counts` rows in one transaction. Each unit cuts its images into blocks of
`batch_size`, as the local segment does, with the same per-block function (`segment_block`).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from cityq.errors import CityqError
from cityq.pipeline.ray_units import FORMAT, MAP_FILL, UnitManifest, baked, maps_array, maybe_die, safe_name, sha256
from cityq.progress import bar
from cityq.store import segmentations
from cityq.store.run_folder import SEGMENTATIONS, RunFolder, ShardedArray, parquet_bytes, read_parquet


@dataclass(frozen=True)
class SegManifest(UnitManifest):
    segmentation_id: int
    segmenter: str
    kind: str
    segmenter_path: str | None  # the segmenter's files in the run folder (None: it has none)
    segmenter_file: str | None  # when its path is one file: that file's name
    config: str  # the segmenter's config, JSON
    height: int
    width: int
    batch_size: int
    shard_size: int
    n_images: int
    base_row: int  # Zarr row of the first image in the store's segmentation array
    folder: str
    images_sha256: str

    def maps_array(self) -> ShardedArray:
        return maps_array(self.folder, self.n_images, (self.height, self.width), self.shard_size, self.batch_size)

    def unit_paths(self, shard: int) -> dict[str, str]:
        return {"maps": self.maps_array().shard_key(shard),
                "counts": f"{self.folder}/counts/shard={shard:05d}/part-0.parquet",
                "done": f"{self.folder}/done/shard={shard:05d}.json"}


class SegmentWorker:
    """Ray Data callable class over rows {folder, model_dir (the seg folder), shard}; the
    segmenter is loaded once per actor."""

    def __init__(self, device: str = "auto", fault: str | None = None):
        from cityq.device import resolve_device

        self.device = resolve_device(device)
        self.fault = fault
        self._loaded: dict = {}

    def __call__(self, batch: dict) -> dict:
        out: dict[str, list] = {"shard": [], "seconds": []}
        for url, rel, shard in zip(batch["folder"], batch["model_dir"], batch["shard"]):
            started = time.perf_counter()
            self.run(RunFolder(str(url)), str(rel), int(shard))
            out["shard"].append(int(shard))
            out["seconds"].append(time.perf_counter() - started)
        return {k: np.array(v) for k, v in out.items()}

    def _load(self, folder: RunFolder, rel: str):
        manifest = SegManifest.from_json(folder.get_json(f"{rel}/manifest.json"))
        key = (folder.url, rel)
        if key in self._loaded and self._loaded[key][0] == manifest:
            return self._loaded[key]
        from cityq.segmenters import SegmenterRecord, load_segmenter

        path = None
        if manifest.segmenter_path:  # weights travel in the run folder: workers need no store
            local = Path(tempfile.mkdtemp(prefix="cityq-segmenter-"))
            for remote in folder.files(manifest.segmenter_path):
                target = local / remote[len(manifest.segmenter_path) + 1:]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(folder.get(remote))
            path = str(local / manifest.segmenter_file) if manifest.segmenter_file else str(local)
        record = SegmenterRecord(manifest.segmenter, manifest.kind, path, json.loads(manifest.config))
        model = load_segmenter(record, None, self.device)
        images = read_parquet(folder.get(f"{rel}/images.parquet")).to_pandas()
        self._loaded[key] = (manifest, model, images)
        return self._loaded[key]

    def run(self, folder: RunFolder, rel: str, shard: int) -> dict:
        from cityq.pipeline.segment import segment_block

        manifest, model, images = self._load(folder, rel)
        maybe_die(self.fault, "start", shard)
        lo, hi = manifest.unit_rows(shard)
        maps, rows = [], []
        for start in range(lo, hi, manifest.batch_size):
            block = images.iloc[start:min(start + manifest.batch_size, hi)]
            block_maps, counts = segment_block(model, block, manifest.height, manifest.width, manifest.segmenter)
            maps.append(block_maps)
            rows.append(pixel_rows(block["image_id"].to_numpy(), counts))
        encoded = manifest.maps_array().write_shard(folder, shard, np.concatenate(maps))
        maybe_die(self.fault, "cams", shard)
        counts = parquet_bytes(pa.Table.from_pandas(pd.concat(rows, ignore_index=True), preserve_index=False))
        paths = manifest.unit_paths(shard)
        folder.put(paths["counts"], counts)
        maybe_die(self.fault, "rows", shard)
        marker = {"format": FORMAT, "manifest": manifest.digest, "shard": shard, "rows": [lo, hi],
                  "sha256": {"maps": sha256(encoded), "counts": sha256(counts)}}
        folder.put_json(paths["done"], marker)
        maybe_die(self.fault, "done", shard)
        return marker


def segment_worker_class(device: str, fault: str | None) -> type:
    return baked(SegmentWorker, device, fault)


@dataclass
class SegUnitOutput:
    shard: int
    ids: np.ndarray  # the unit's image ids
    rows: np.ndarray  # their Zarr rows in the store's array
    maps: np.ndarray  # (n, H, W) uint8
    counts: pa.Table  # pixel_counts rows without segmentation_id


def read_seg_unit(folder: RunFolder, manifest: SegManifest, shard: int, image_ids: np.ndarray) -> SegUnitOutput | None:
    """A finished unit checked against its marker and the manifest; None: (re)compute it."""
    paths = manifest.unit_paths(shard)
    if not folder.exists(paths["done"]):
        return None
    marker = folder.get_json(paths["done"])
    lo, hi = manifest.unit_rows(shard)
    if marker.get("manifest") != manifest.digest or marker.get("rows") != [lo, hi]:
        return None
    data = {}
    for name in ("maps", "counts"):
        if not folder.exists(paths[name]):
            return None
        data[name] = folder.get(paths[name])
        if sha256(data[name]) != marker["sha256"][name]:
            return None
    maps = manifest.maps_array().decode(shard, data["maps"])
    counts = read_parquet(data["counts"])
    ids = image_ids[lo:hi]
    if (maps == MAP_FILL).any() or not np.isin(counts.column("image_id").to_numpy(), ids).all():
        return None
    return SegUnitOutput(shard, ids, np.arange(manifest.base_row + lo, manifest.base_row + hi), maps, counts)


def pixel_rows(ids: np.ndarray, counts: np.ndarray) -> pd.DataFrame:
    """`pixel_counts` rows (without segmentation_id) of the objects present in each image."""
    img_idx, obj = np.nonzero(counts)
    return pd.DataFrame({"image_id": ids[img_idx].astype(np.int32), "object_id": obj.astype(np.int16),
                         "n_pixels": counts[img_idx, obj].astype(np.int32)})


def segment_on_ray(store, record, segmentation: tuple[int, str], frame: pd.DataFrame, hw: tuple[int, int],
                   batch_size: int, options, progress) -> None:
    """Segment the images of `frame` (those not yet in the segmentation (id, zarr_path)) on Ray."""
    from cityq.pipeline.ray_ingest import execute, run_folder_of
    from cityq.store.run_folders import commit_segment_units

    seg_id, zarr_path = segmentation

    if options.shard_size % batch_size:
        raise CityqError(f"--shard-size must be a multiple of --batch-size ({batch_size}), not {options.shard_size}")
    folder = run_folder_of(store, options)
    committed = segmentations.segmented_rows(store, seg_id)
    manifest, image_ids = _manifest(store, folder, record, seg_id, frame, hw, batch_size, options, committed)
    todo = [u for u in range(manifest.n_units)
            if not all(int(i) in committed for i in image_ids[slice(*manifest.unit_rows(u))])]
    array = segmentations.open_array(store, zarr_path, hw[0], hw[1], batch_size, manifest.base_row + manifest.n_images)
    pending, compute = [], []
    with bar(total=len(todo), desc=f"segment with {record.name} on ray", unit="unit",
             disable=None if progress is None else not progress) as shown:
        for unit in todo:
            output = read_seg_unit(folder, manifest, unit, image_ids)
            if output is None:
                compute.append(unit)
            else:
                pending.append(output)
                shown.update(1)
        items = [{"folder": folder.url, "model_dir": manifest.folder, "shard": u} for u in compute]
        store.release()  # the units run elsewhere: readers get in until the next commit
        for row in execute(items, segment_worker_class, options, "auto"):
            output = read_seg_unit(folder, manifest, int(row["shard"]), image_ids)
            if output is None:
                raise CityqError(f"unit {row['shard']} of {manifest.folder} reported done but its outputs do not "
                                 "match the manifest; rerun the same command")
            pending.append(output)
            shown.update(1)
            if len(pending) >= options.commit_every:
                commit_segment_units(store, seg_id, array, pending)
                pending = []
                store.release()
        commit_segment_units(store, seg_id, array, pending)
    folder.remove(manifest.folder)


def _manifest(store, folder, record, seg_id, frame, hw, batch_size, options, committed):
    """The run's manifest: an earlier run's when it still fits (its images are committed at its
    rows or not at all, and cover what is left to do), else a new one written now."""
    todo = frame["image_id"].astype(np.int64).tolist()
    for path in folder.files():
        if not (path.startswith(f"{SEGMENTATIONS}/seg{seg_id}-") and path.endswith("/manifest.json")
                and path.count("/") == 2):
            continue
        old = SegManifest.from_json(folder.get_json(path))
        images = read_parquet(folder.get(f"{old.folder}/images.parquet")).column("image_id").to_numpy()
        fits = (old.batch_size == batch_size and old.shard_size == options.shard_size
                and set(todo) <= set(images.tolist())
                and all(committed.get(int(i), old.base_row + k) == old.base_row + k for k, i in enumerate(images)))
        if fits:
            return old, images
        folder.remove(old.folder)
    base_row = max(committed.values()) + 1 if committed else 0
    table = pa.table({
        "image_id": pa.array(np.asarray(todo, dtype=np.int64)),
        "root": pa.array([str(r) for r in frame["root"]]),
        "path": pa.array([str(p) for p in frame["path"]]),
        "labels_path": pa.array([None if pd.isna(p) else str(p) for p in frame["labels_path"]], pa.string()),
    })
    images = parquet_bytes(table)
    digest = hashlib.sha256(images + f"{seg_id}:{base_row}:{options.shard_size}:{batch_size}".encode()).hexdigest()
    rel = f"{SEGMENTATIONS}/seg{seg_id}-{safe_name(record.name)}-{digest[:12]}"
    segmenter_path = segmenter_file = None
    source = record.resolved_path(store.path)
    if source is not None:
        segmenter_path = f"{rel}/segmenter"
        files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
        segmenter_file = source.name if source.is_file() else None
        for path in files:
            name = path.name if source.is_file() else path.relative_to(source).as_posix()
            folder.put(f"{segmenter_path}/{name}", path.read_bytes())
    manifest = SegManifest(seg_id, record.name, record.kind, segmenter_path, segmenter_file,
                           json.dumps(record.config, sort_keys=True), int(hw[0]), int(hw[1]), int(batch_size),
                           int(options.shard_size), len(todo), int(base_row), rel, sha256(images))
    folder.put(f"{rel}/images.parquet", images)
    manifest.maps_array().write_metadata(folder)
    folder.put_json(f"{rel}/manifest.json", manifest.to_json())
    return manifest, np.asarray(todo, dtype=np.int64)
