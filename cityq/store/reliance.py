"""The `reliance` table and the cache of removed images (reliance by removal, SPEC §11).

Rows: one per (model, method, segmentation, image, object), written a block of images per
transaction; a pair already there is never computed again, so a killed run resumes without
duplicating or losing rows.

Removed images do not depend on the model: `RemovalCache` keeps them under
`<store>/cache/removals/<dataset>-<S>px/<kind>/<image_id>.npz` (kind: the method and what its
images depend on besides the image: the segmentation, the mean colour) and every model
reuses them. A file holds, per object, the pixels where the image without the object (and its
control) differs from the image as the model sees it: flat pixel indices and their RGB values,
a few kB where the whole image is 37 kB at 112 px. Files are replaced atomically; one names the
sha256 of its image, and a file whose image changed on disk is ignored. The cache is derived
data: delete it and it is rebuilt.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ("model", "method", "segmentation_id", "image_id", "object_id", "pixels", "control_overlap",
           "target_index", "p_before", "p_after", "p_control", "pred_before", "pred_after", "pred_control",
           "written_at")


def done_pairs(store, model: str, method: str, segmentation_id: int) -> set[tuple[int, int]]:
    """(image_id, object_id) pairs already measured for this model, method and segmentation."""
    rows = store.con.execute(
        "SELECT image_id, object_id FROM reliance WHERE model = $m AND method = $method AND segmentation_id = $s",
        {"m": model, "method": method, "s": segmentation_id}).fetchall()
    return {(int(i), int(o)) for i, o in rows}


def write_block(store, frame: pd.DataFrame) -> int:
    """One block's rows, in one transaction."""
    frame = frame.assign(written_at=pd.Timestamp.now())[list(COLUMNS)]
    with store.transaction():
        return store.insert_df("reliance", frame)


def delete_reliance(store, model: str, method: str | None = None, segmentation_id: int | None = None) -> None:
    """A model's rows (of one method, of one segmentation's class maps, or all), in one transaction."""
    with store.transaction():
        store.con.execute("DELETE FROM reliance WHERE model = $m AND ($method IS NULL OR method = $method) "
                          "AND ($s IS NULL OR segmentation_id = $s)",
                          {"m": model, "method": method, "s": segmentation_id})


def object_pixels(store, segmentation_id: int, image_ids) -> pd.DataFrame:
    """N_p,i rows (image_id, object_id, n_pixels) of the images in a segmentation."""
    return store.fetch_df(
        "SELECT image_id, object_id, n_pixels FROM pixel_counts WHERE segmentation_id = $s "
        "AND image_id IN (SELECT unnest($ids)) AND n_pixels > 0 ORDER BY image_id, object_id",
        {"s": segmentation_id, "ids": [int(i) for i in image_ids]})


def filtered_objects(store, segmentation_id: int, image_ids, min_mean_pixels: float) -> dict[str, list[int]]:
    """Per city, the objects whose mean N over the city's images (zeros included) exceeds
    `min_mean_pixels`: the object filter of `rpc by city`, on the same class maps."""
    frame = store.fetch_df(
        "WITH img AS (SELECT image_id, city FROM images WHERE image_id IN (SELECT unnest($ids))), "
        "n AS (SELECT city, count(*) AS n_images FROM img GROUP BY city) "
        "SELECT img.city, pc.object_id FROM pixel_counts pc JOIN img USING (image_id) JOIN n USING (city) "
        "WHERE pc.segmentation_id = $s GROUP BY img.city, pc.object_id, n.n_images "
        "HAVING sum(pc.n_pixels) / n.n_images > $min ORDER BY img.city, pc.object_id",
        {"s": segmentation_id, "ids": [int(i) for i in image_ids], "min": float(min_mean_pixels)})
    out: dict[str, list[int]] = {}
    for city, object_id in zip(frame["city"], frame["object_id"]):
        out.setdefault(city, []).append(int(object_id))
    return out


def dataset_synth(store, dataset: str) -> dict | None:
    """synth.json's content for a synthetic data set: from the dataset's config where `dataset
    add` stored it, else from the file in its root; None for other data sets."""
    from cityq.store.datasets import get_dataset

    row = get_dataset(store, dataset)
    if row is None:
        return None
    config = row.get("config") or {}
    stored = (json.loads(config) if isinstance(config, str) else config).get("synth")
    if isinstance(stored, dict):
        return stored
    path = Path(row["root"]) / "synth.json"
    if path.is_file():
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None
    return None


@dataclass
class CachedRemoval:
    removed: np.ndarray  # uint8 (S, S, 3)
    control: np.ndarray
    control_overlap: float


class RemovalCache:
    """Removed images of one data set at one input size, of one kind (see above)."""

    def __init__(self, store, dataset: str, size: int, kind: str):
        self.folder = store.cache_dir / "removals" / f"{_safe(dataset)}-{size}px" / _safe(kind)

    def read(self, image_id: int, sha256: str, original: np.ndarray) -> dict[int, CachedRemoval]:
        """The cached removals of an image, by object (none if its file is missing or stale)."""
        path = self.folder / f"{image_id}.npz"
        try:
            with np.load(path) as data:
                if str(data["sha256"]) != sha256:
                    return {}
                out = {}
                for k, overlap in zip(data["objects"].tolist(), data["overlaps"].tolist()):
                    out[int(k)] = CachedRemoval(_apply(original, data[f"r{k}_i"], data[f"r{k}_v"]),
                                                _apply(original, data[f"c{k}_i"], data[f"c{k}_v"]), float(overlap))
                return out
        except (OSError, KeyError, ValueError):
            return {}

    def write(self, image_id: int, sha256: str, original: np.ndarray, removals: dict[int, CachedRemoval]) -> None:
        """Replace the image's file with these removals (pass the old ones too, to keep them)."""
        arrays = {"sha256": np.array(sha256), "objects": np.array(sorted(removals), np.int16),
                  "overlaps": np.array([removals[k].control_overlap for k in sorted(removals)], np.float32)}
        for k, r in removals.items():
            arrays[f"r{k}_i"], arrays[f"r{k}_v"] = _difference(original, r.removed)
            arrays[f"c{k}_i"], arrays[f"c{k}_v"] = _difference(original, r.control)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{image_id}.npz"
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def _difference(original: np.ndarray, variant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat_o, flat_v = original.reshape(-1, 3), variant.reshape(-1, 3)
    where = np.flatnonzero((flat_o != flat_v).any(axis=1)).astype(np.uint32)
    return where, flat_v[where]


def _apply(original: np.ndarray, where: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = original.copy()
    out.reshape(-1, 3)[where] = values
    return out


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
