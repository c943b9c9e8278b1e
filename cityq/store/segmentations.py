"""Segmentations: class maps in Zarr, `segmentations`, `segmented_images` and `pixel_counts` rows.

One segmentation = one segmenter over one dataset at one geometry (the classifier's input).
Its maps live in one Zarr array `segmentations/<id>` (uint8, N x H x W, one chunk per block of
images) that grows as more images are segmented. Each block is written to Zarr first, then its
`segmented_images` and `pixel_counts` rows go in ONE transaction (`write_block`): DuckDB says
which Zarr rows are complete. A run killed between the two leaves Zarr rows that DuckDB does
not name; the rerun computes the same next free row from DuckDB and overwrites them.
"""

from __future__ import annotations

import numpy as np

from cityq.errors import CityqError

# A missing chunk reads as 255, which no ADE20K-150 map contains.
FILL_VALUE = 255


def get_or_create_segmentation(store, segmenter: str, dataset: str, height: int, width: int) -> tuple[int, str]:
    """The (segmentation_id, zarr_path) of (segmenter, dataset, H, W), created when new."""
    params = {"segmenter": segmenter, "dataset": dataset, "height": height, "width": width}
    found = store.con.execute(
        "SELECT segmentation_id, zarr_path FROM segmentations WHERE segmenter = $segmenter "
        "AND dataset = $dataset AND height = $height AND width = $width ORDER BY segmentation_id LIMIT 1",
        params,
    ).fetchall()
    if found:
        return int(found[0][0]), str(found[0][1])
    with store.transaction():
        seg_id = store.con.execute("SELECT nextval('segmentation_ids')").fetchall()[0][0]
        zarr_path = f"segmentations/{seg_id}"
        store.con.execute(
            "INSERT INTO segmentations (segmentation_id, segmenter, dataset, height, width, zarr_path, created_at) "
            "VALUES ($id, $segmenter, $dataset, $height, $width, $zarr_path, current_timestamp)",
            {**params, "id": seg_id, "zarr_path": zarr_path},
        )
    return int(seg_id), zarr_path


def segmented_rows(store, segmentation_id: int) -> dict[int, int]:
    """image_id -> Zarr row of the images the segmentation holds."""
    return dict(store.con.execute(
        "SELECT image_id, zarr_index FROM segmented_images WHERE segmentation_id = $id",
        {"id": segmentation_id}).fetchall())


def open_array(store, zarr_path: str, height: int, width: int, block_size: int, n_rows: int):
    """The segmentation's Zarr array, created or grown to at least n_rows."""
    from zarr.codecs import BloscCodec

    root = store.zarr_root()
    if zarr_path in root:
        array = root[zarr_path]
        if array.shape[0] < n_rows:
            array.resize((n_rows, height, width))
        return array
    return root.create_array(
        zarr_path,
        shape=(n_rows, height, width),
        chunks=(block_size, height, width),
        dtype="uint8",
        compressors=BloscCodec(cname="zstd", clevel=5, shuffle="bitshuffle"),
        fill_value=FILL_VALUE,
    )


def write_block(store, segmentation_id: int, zarr_path: str, first_row: int, image_ids: np.ndarray,
                maps: np.ndarray, counts: np.ndarray, block_size: int) -> None:
    """One block: its maps (N,H,W) uint8 at Zarr rows first_row.., then its rows and its pixel
    counts (N,150) in one transaction."""
    import pandas as pd

    rows = np.arange(first_row, first_row + len(image_ids))
    array = open_array(store, zarr_path, maps.shape[1], maps.shape[2], block_size, int(rows[-1]) + 1)
    array[int(rows[0]): int(rows[-1]) + 1] = maps
    img_idx, obj = np.nonzero(counts)
    with store.transaction():
        store.insert_df("segmented_images", pd.DataFrame({
            "segmentation_id": segmentation_id, "image_id": image_ids.astype(np.int32),
            "zarr_index": rows.astype(np.int32)}))
        store.insert_df("pixel_counts", pd.DataFrame({
            "segmentation_id": segmentation_id,
            "image_id": image_ids[img_idx].astype(np.int32),
            "object_id": obj.astype(np.int16),
            "n_pixels": counts[img_idx, obj].astype(np.int32),
        }))


def n_segmented(store, segmentation_id: int) -> int:
    return int(store.con.execute("SELECT count(*) FROM segmented_images WHERE segmentation_id = $id",
                                 {"id": segmentation_id}).fetchall()[0][0])


def load_segmentation(store, segmentation_id: int, image_ids) -> np.ndarray:
    """Class maps (N, H, W) uint8 of the given images, in that order."""
    ids = [int(i) for i in image_ids]
    info = store.con.execute("SELECT zarr_path, height, width FROM segmentations WHERE segmentation_id = $id",
                             {"id": segmentation_id}).fetchall()
    if not info:
        raise CityqError(
            f"no segmentation {segmentation_id} in the store; see `cityq sql \"select * from segmentations\"`")
    zarr_path, height, width = info[0]
    index = dict(store.con.execute(
        "SELECT image_id, zarr_index FROM segmented_images WHERE segmentation_id = $id "
        "AND image_id IN (SELECT unnest($ids))", {"id": segmentation_id, "ids": ids}).fetchall())
    missing = [i for i in ids if i not in index]
    if missing:
        raise CityqError(f"images {missing[:5]} are not in segmentation {segmentation_id}; run `cityq segment` first")
    if not ids:
        return np.zeros((0, int(height), int(width)), np.uint8)
    try:
        array = store.zarr_root()[zarr_path]
    except KeyError:
        raise CityqError(f"segmentation array {zarr_path} is missing from the store; delete the segmentation "
                         "and rerun `cityq segment`") from None
    order = np.array([index[i] for i in ids])
    maps = array.oindex[order]
    if (maps == FILL_VALUE).any():
        raise CityqError(f"segmentation array {zarr_path} lacks rows the store says are written; rerun `cityq segment`")
    return np.asarray(maps)


def find_segmentation(store, segmenter: str, image_ids, size: int | None = None) -> int:
    """The segmentation of `segmenter` that holds all of these images: the one at `size` x `size`,
    or the most recent."""
    ids = [int(i) for i in image_ids]
    rows = store.con.execute(
        "SELECT s.segmentation_id FROM segmentations s JOIN segmented_images g USING (segmentation_id) "
        "WHERE s.segmenter = $seg AND list_contains($ids, g.image_id) "
        "AND ($size IS NULL OR (s.height = $size AND s.width = $size)) "
        "GROUP BY s.segmentation_id HAVING count(*) = $n ORDER BY s.segmentation_id DESC LIMIT 1",
        {"seg": segmenter, "ids": ids, "size": size, "n": len(set(ids))},
    ).fetchall()
    if not rows:
        raise CityqError(
            f"segmenter {segmenter!r} has not segmented all of these images; run "
            f"`cityq segment --segmenter {segmenter} --dataset NAME` (or ingest a model with it)"
        )
    return int(rows[0][0])
