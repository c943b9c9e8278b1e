"""What the store must know of run folders: committing finished units of a distributed ingest
or segmentation, and where their run folders are (`ingests.config`, the segment run's
`runs.config`), so that `cityq check` finds what a killed run left.

A batch of units is committed exactly as the local ingest commits a block: the CAMs go to the
ingest's Zarr array first (whole chunks: a unit is a whole number of blocks), then all the
batch's `mask_images`, `object_counts` and `mask_blocks` rows in ONE transaction. A unit
without its `mask_blocks` rows does not exist, whatever the chunks hold, so a driver killed
at any moment leaves the store as if the batch had never started, and the rerun redoes it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

# pandas and pyarrow are imported by the functions that commit: `cityq check` reads the run
# folders through this module and must start without them (issue 20.3).


def commit_units(store, ingest, array, outputs) -> int:
    """Write the units' CAMs into the ingest's array, then their rows in one transaction.
    `outputs` are checked `ray_units.UnitOutput`s; returns the number of rows inserted."""
    import pandas as pd

    for unit in outputs:
        array[unit.rows[0]:unit.rows[1]] = unit.cams
    rows = 0
    with store.transaction():
        for unit in outputs:
            rows += store.insert_df("mask_images", _with_ingest_id(unit.images, ingest.ingest_id))
            rows += store.insert_df("object_counts", _with_ingest_id(unit.counts, ingest.ingest_id))
            blocks = unit.blocks(ingest.block_size)
            store.insert_df("mask_blocks", pd.DataFrame({
                "ingest_id": [ingest.ingest_id] * len(blocks), "block": [b for b, _ in blocks],
                "n_images": [n for _, n in blocks], "written_at": [pd.Timestamp.now()] * len(blocks),
            }))
    return rows


def commit_segment_units(store, segmentation_id: int, array, outputs) -> int:
    """Class maps of finished segmentation units (ray_segment.SegUnitOutput) into the
    segmentation's array, then their `segmented_images` and `pixel_counts` rows in one transaction."""
    import pandas as pd
    import pyarrow as pa

    if not outputs:
        return 0
    for unit in outputs:
        array[int(unit.rows[0]):int(unit.rows[-1]) + 1] = unit.maps
    rows = 0
    with store.transaction():
        for unit in outputs:
            rows += store.insert_df("segmented_images", pd.DataFrame({
                "segmentation_id": np.full(len(unit.ids), segmentation_id, np.int32),
                "image_id": unit.ids.astype(np.int32), "zarr_index": unit.rows.astype(np.int32)}))
            counts = unit.counts.add_column(0, "segmentation_id",
                                            pa.array(np.full(len(unit.counts), segmentation_id, np.int32)))
            rows += store.insert_df("pixel_counts", counts)
    return rows


def _with_ingest_id(table: pa.Table, ingest_id: int) -> pa.Table:
    import pyarrow as pa

    return table.add_column(0, "ingest_id", pa.array(np.full(len(table), ingest_id, np.int32)))


def record_run_folder(store, ingest_id: int, url: str, model_dir: str) -> None:
    """Name the run folder in the ingest's config, so `cityq check` can find what it left."""
    config = _config(store, ingest_id)
    if config.get("run_folder") == url and config.get("model_dir") == model_dir:
        return
    config.update(engine="ray", run_folder=url, model_dir=model_dir)
    store.con.execute("UPDATE ingests SET config = $c WHERE ingest_id = $id",
                      {"c": json.dumps(config), "id": ingest_id})


def ray_ingests(store) -> list[dict]:
    """Every ingest that used a run folder: ingest_id, model, status, run_folder, model_dir."""
    found = []
    for ingest_id, model, status, config in store.con.execute(
            "SELECT ingest_id, model, status, config FROM ingests ORDER BY ingest_id").fetchall():
        value = json.loads(config) if config else {}
        if value.get("run_folder"):
            found.append({"ingest_id": ingest_id, "model": model, "status": status,
                          "run_folder": value["run_folder"], "model_dir": value["model_dir"]})
    return found


def run_folder_roots(store) -> set[str]:
    """Every run folder root an ingest or a segment run has named."""
    roots = {ingest["run_folder"] for ingest in ray_ingests(store)}
    for (config,) in store.con.execute("SELECT config FROM runs WHERE stage = 'segment'").fetchall():
        value = json.loads(config) if config else {}
        if value.get("run_folder"):
            roots.add(value["run_folder"])
    return roots


def _config(store, ingest_id: int) -> dict:
    rows = store.con.execute("SELECT config FROM ingests WHERE ingest_id = $id", {"id": ingest_id}).fetchall()
    return json.loads(rows[0][0]) if rows and rows[0][0] else {}
