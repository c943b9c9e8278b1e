"""The rows of an ingest: `ingests`, `mask_blocks`, `mask_images`, `object_counts`.

An ingest is one model x split x target x segmentation. Its images are cut into blocks (one
Zarr chunk each); a block is the unit of atomicity: its CAMs go to the chunk first
(`mask_arrays.write_chunk`), then its rows and its `mask_blocks` marker in one transaction
(`write_block`). A block without its marker does not exist, whatever the chunk holds.

"The finished ingest of a model" has one definition, the `finished_ingests` macro
(cityq/queries/sql/finished_ingests.sql); `find_ingest` asks it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from cityq.errors import CityqError


@dataclass(frozen=True)
class Ingest:
    ingest_id: int
    model: str
    dataset: str
    split: str
    target: str
    segmentation_id: int
    thresholds: tuple[float, ...]
    height: int
    width: int
    cam_height: int
    cam_width: int
    block_size: int
    n_images: int
    zarr_path: str
    status: str
    max_image_id: int


@dataclass(frozen=True)
class NewIngest:
    """What `create_ingest` records: the resolved request, before any block is computed."""

    model: str
    split: str
    target: str
    segmentation_id: int
    segmenter: str
    thresholds: tuple[float, ...]
    size: tuple[int, int]  # (H, W) of the masks: the model's input
    cam_size: tuple[int, int]  # (h, w) of the native CAMs
    block_size: int
    image_ids: np.ndarray  # the split's images at the start, in Zarr order


_SELECT = """
SELECT i.ingest_id, i.model, m.dataset, i.split, i.target, i.segmentation_id, i.thresholds,
       i.height, i.width, i.cam_height, i.cam_width, i.block_size, i.n_images, i.zarr_path,
       i.status, i.config
FROM ingests i JOIN models m USING (model)
"""


def _from_row(row) -> Ingest:
    config = json.loads(row[15]) if row[15] else {}
    return Ingest(*row[:6], tuple(row[6]), *row[7:15], int(config.get("max_image_id", 2**31 - 1)))


def get_ingest(store, ingest_id: int) -> Ingest:
    rows = store.con.execute(_SELECT + " WHERE i.ingest_id = $id", {"id": ingest_id}).fetchall()
    if not rows:
        raise CityqError(f"no ingest {ingest_id} in {store.path}")
    return _from_row(rows[0])


def find_ingest(store, model: str, split: str = "test", target: str = "true",
                segmenter: str | None = None) -> Ingest:
    """The finished ingest of a model: the one counted with `segmenter`, or, without one, the
    model's mask ingest (what mask-level results read; see `finished_ingests`)."""
    rows = store.con.execute(
        "SELECT ingest_id FROM finished_ingests(model := $model, segmenter := $segmenter, "
        "split := $split, target := $target) WHERE $segmenter IS NOT NULL OR mask_ingest",
        {"model": model, "split": split, "target": target, "segmenter": segmenter},
    ).fetchall()
    if not rows:
        known = [r[0] for r in store.con.execute(
            "SELECT DISTINCT model FROM ingests WHERE status = 'done' ORDER BY 1").fetchall()]
        hint = f" Ingested: {', '.join(known)}." if known else ""
        which = f" counted with segmenter {segmenter!r}" if segmenter else ""
        raise CityqError(
            f"model {model!r} has no finished ingest of the {split} split (target {target}){which}; "
            f"run `cityq ingest --model {model}{f' --segmenter {segmenter}' if segmenter else ''}` first.{hint}"
        )
    return get_ingest(store, rows[0][0])


def existing_ingest(store, model: str, split: str, target: str, segmentation_id: int) -> Ingest | None:
    """The ingest of this exact request, finished or not."""
    rows = store.con.execute(
        "SELECT ingest_id FROM ingests WHERE model = $m AND split = $s AND target = $t AND segmentation_id = $g",
        {"m": model, "s": split, "t": target, "g": segmentation_id},
    ).fetchall()
    return get_ingest(store, rows[0][0]) if rows else None


def image_ids_of(store, ingest: Ingest) -> np.ndarray:
    """The ingest's images in Zarr order: the split's images up to the id seen at its start."""
    rows = store.con.execute(
        "SELECT image_id FROM images WHERE dataset = $d AND split = $s AND image_id <= $max "
        "ORDER BY image_id",
        {"d": ingest.dataset, "s": ingest.split, "max": ingest.max_image_id},
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def mask_zarr_path(model: str, split: str, target: str, segmentation_id: int) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model)
    return f"masks/{safe}/{split}-{target}-seg{segmentation_id}"


def create_ingest(store, new: NewIngest) -> Ingest:
    """The `ingests` row and its (empty) mask array, in one transaction."""
    from cityq.store import mask_arrays

    zarr_path = mask_zarr_path(new.model, new.split, new.target, new.segmentation_id)
    with store.transaction():
        ingest_id = store.con.execute(
            "INSERT INTO ingests (model, split, target, segmentation_id, thresholds, height, width, "
            "cam_height, cam_width, block_size, n_images, zarr_path, status, config, created_at) "
            "VALUES ($model, $split, $target, $seg, $grid, $h, $w, $ch, $cw, $block, $n, $path, 'running', "
            "$config, current_timestamp) RETURNING ingest_id",
            {
                "model": new.model, "split": new.split, "target": new.target, "seg": new.segmentation_id,
                "grid": list(new.thresholds), "h": new.size[0], "w": new.size[1],
                "ch": new.cam_size[0], "cw": new.cam_size[1], "block": new.block_size,
                "n": len(new.image_ids), "path": zarr_path,
                "config": json.dumps({"max_image_id": int(new.image_ids.max()), "segmenter": new.segmenter}),
            },
        ).fetchall()[0][0]
        # Created inside the transaction: if we die before COMMIT the array is an orphan at a
        # path the retry overwrites (the path does not depend on the ingest id).
        mask_arrays.create_array(store, zarr_path, len(new.image_ids), new.cam_size, new.block_size)
    return get_ingest(store, ingest_id)


def delete_ingest(store, ingest_id: int) -> None:
    """Remove an ingest's rows (and pairs, embeddings) in one transaction, then its array."""
    ingest = get_ingest(store, ingest_id)
    with store.transaction():
        for table in ("object_counts", "mask_images", "mask_blocks", "embeddings", "embedding_runs"):
            store.con.execute(f"DELETE FROM {table} WHERE ingest_id = $id", {"id": ingest_id})
        for table in ("residuals", "residual_pairs"):
            store.con.execute(f"DELETE FROM {table} WHERE ingest_a = $id OR ingest_b = $id", {"id": ingest_id})
        store.con.execute("DELETE FROM ingests WHERE ingest_id = $id", {"id": ingest_id})
    root = store.zarr_root()
    if ingest.zarr_path in root:
        del root[ingest.zarr_path]


def done_blocks(store, ingest_id: int) -> set[int]:
    return {r[0] for r in store.con.execute(
        "SELECT block FROM mask_blocks WHERE ingest_id = $id", {"id": ingest_id}).fetchall()}


def write_block(store, ingest_id: int, block: int, n_images: int, images_rows, counts_rows) -> int:
    """One block's `mask_images` and `object_counts` rows (Arrow tables) and its marker, in one
    transaction. Call it after the block's chunk is written. Returns the rows written."""
    with store.transaction():
        rows = store.insert_df("mask_images", images_rows)
        for frame in counts_rows:
            rows += store.insert_df("object_counts", frame)
        store.con.execute("INSERT INTO mask_blocks VALUES ($id, $block, $n, current_timestamp)",
                          {"id": ingest_id, "block": block, "n": n_images})
    return rows


def finish_ingest(store, ingest_id: int) -> None:
    store.con.execute(
        "UPDATE ingests SET status = 'done', finished_at = current_timestamp WHERE ingest_id = $id",
        {"id": ingest_id},
    )


def model_ingest_ids(store, model: str) -> list[int]:
    """Every ingest of a model, finished or not (what replacing the model must remove)."""
    return [r[0] for r in store.con.execute(
        "SELECT ingest_id FROM ingests WHERE model = $m ORDER BY ingest_id", {"m": model}).fetchall()]
