"""Segmenting a dataset: class maps to Zarr, N_p,i (pixels of object p in image i) to DuckDB.

One segmentation = one segmenter over one dataset at one geometry (the classifier's input).
Its maps live in one Zarr array `segmentations/<id>` (uint8, N x H x W, one chunk per block of
images) that grows as more images are segmented. Each block is written to Zarr first, then
its `segmented_images` and `pixel_counts` rows go in ONE transaction: DuckDB says which Zarr
rows are complete. A run killed between the two leaves Zarr rows that DuckDB does not name;
the rerun computes the same next free row from DuckDB and overwrites them, so no duplicates.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from cityq.errors import CityqError
from cityq.objects import N_CLASSES
from cityq.progress import bar
from cityq.segmenters import ImageBatch, load_segmenter
from cityq.segmenters.catalog import get_segmenter_record

# A missing chunk reads as 255, which no ADE20K-150 map contains.
FILL_VALUE = 255


def decode_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    from cityq.pipeline.images import as_rgb

    try:
        with Image.open(path) as image:
            return np.asarray(as_rgb(image), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise CityqError(f"cannot read image {path}: {exc}; fix or remove it and re-add the dataset") from None


def get_or_create_segmentation(store, segmenter: str, dataset: str, height: int, width: int) -> tuple[int, str]:
    """The (segmentation_id, zarr_path) of (segmenter, dataset, H, W), created when new."""
    params = {"segmenter": segmenter, "dataset": dataset, "height": height, "width": width}
    found = store.fetch_df(
        "SELECT segmentation_id, zarr_path FROM segmentations WHERE segmenter = $segmenter "
        "AND dataset = $dataset AND height = $height AND width = $width ORDER BY segmentation_id LIMIT 1",
        params,
    )
    if len(found):
        return int(found.iloc[0, 0]), str(found.iloc[0, 1])
    with store.transaction():
        seg_id = store.con.execute("SELECT nextval('segmentation_ids')").fetchall()[0][0]
        zarr_path = f"segmentations/{seg_id}"
        store.con.execute(
            "INSERT INTO segmentations (segmentation_id, segmenter, dataset, height, width, zarr_path, created_at) "
            "VALUES ($id, $segmenter, $dataset, $height, $width, $zarr_path, current_timestamp)",
            {**params, "id": seg_id, "zarr_path": zarr_path},
        )
    return int(seg_id), zarr_path


def _open_array(store, zarr_path: str, height: int, width: int, block_size: int, n_rows: int):
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


def count_pixels(maps: torch.Tensor) -> torch.Tensor:
    """(B, H, W) class maps -> (B, 150) pixel counts, with one bincount on the maps' device."""
    b = maps.shape[0]
    offsets = torch.arange(b, device=maps.device).view(b, 1) * N_CLASSES
    flat = (maps.reshape(b, -1).long() + offsets).reshape(-1)
    return torch.bincount(flat, minlength=b * N_CLASSES).view(b, N_CLASSES)


def _images_of(store, dataset: str, image_ids: list[int]) -> pd.DataFrame:
    frame = store.fetch_df(
        "SELECT i.image_id, i.path, i.labels_path, i.dataset, d.root FROM images i JOIN datasets d USING (dataset) "
        "WHERE i.image_id IN (SELECT unnest($ids))",
        {"ids": image_ids},
    )
    wrong = frame.loc[frame["dataset"] != dataset, "image_id"].tolist()
    missing = sorted(set(image_ids) - set(frame["image_id"].tolist()))
    if missing:
        raise CityqError(f"image ids not in the store: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    if wrong:
        raise CityqError(f"image ids {wrong[:5]} are not in dataset {dataset!r}")
    return frame.set_index("image_id").loc[image_ids].reset_index()


def _read_batch(frame: pd.DataFrame) -> ImageBatch:
    roots = [Path(r) for r in frame["root"]]
    paths = [root / p for root, p in zip(roots, frame["path"])]
    # PIL releases the GIL while decoding: threads use every core.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        images = list(pool.map(decode_rgb, paths))
    labels = [None if pd.isna(lp) else root / lp for root, lp in zip(roots, frame["labels_path"])]
    return ImageBatch(images, labels)


def ensure_segmentation(
    store,
    segmenter: str,
    dataset: str,
    image_ids,
    height: int,
    width: int,
    device: str | torch.device = "auto",
    batch_size: int = 16,
    progress: bool = True,
) -> int:
    """Segment the images not yet in this segmentation; return its segmentation_id."""
    record = get_segmenter_record(store, segmenter)
    seg_id, zarr_path = get_or_create_segmentation(store, segmenter, dataset, height, width)
    wanted = list(dict.fromkeys(int(i) for i in image_ids))
    done = store.fetch_df(
        "SELECT image_id, zarr_index FROM segmented_images WHERE segmentation_id = $id", {"id": seg_id}
    )
    todo = [i for i in wanted if i not in set(done["image_id"].tolist())]
    if not todo:
        return seg_id
    frame = _images_of(store, dataset, todo)
    config = {"segmenter": segmenter, "dataset": dataset, "height": height, "width": width,
              "segmentation_id": seg_id, "n_images": len(todo), "batch_size": batch_size}
    with store.run("segment", subject=segmenter, config=config):
        model = load_segmenter(record, store.path, device)
        next_row = int(done["zarr_index"].max()) + 1 if len(done) else 0
        blocks = range(0, len(todo), batch_size)
        for start in bar(blocks, desc=f"segment {dataset} with {segmenter}", unit="block", disable=None if progress else True):
            block = frame.iloc[start : start + batch_size]
            maps = model.segment(_read_batch(block), height, width)
            if maps.shape != (len(block), height, width) or maps.dtype != torch.uint8:
                raise CityqError(f"segmenter {segmenter!r} returned {tuple(maps.shape)} {maps.dtype}, not uint8 maps")
            counts = count_pixels(maps).cpu().numpy()
            rows = np.arange(next_row, next_row + len(block))
            array = _open_array(store, zarr_path, height, width, batch_size, int(rows[-1]) + 1)
            array[int(rows[0]) : int(rows[-1]) + 1] = maps.cpu().numpy()
            ids = block["image_id"].to_numpy()
            img_idx, obj = np.nonzero(counts)
            with store.transaction():
                store.insert_df("segmented_images", pd.DataFrame(
                    {"segmentation_id": seg_id, "image_id": ids.astype(np.int32), "zarr_index": rows.astype(np.int32)}))
                store.insert_df("pixel_counts", pd.DataFrame({
                    "segmentation_id": seg_id,
                    "image_id": ids[img_idx].astype(np.int32),
                    "object_id": obj.astype(np.int16),
                    "n_pixels": counts[img_idx, obj].astype(np.int32),
                }))
            next_row += len(block)
    return seg_id


def load_segmentation(store, segmentation_id: int, image_ids) -> np.ndarray:
    """Class maps (N, H, W) uint8 of the given images, in that order."""
    ids = [int(i) for i in image_ids]
    info = store.fetch_df("SELECT zarr_path, height, width FROM segmentations WHERE segmentation_id = $id",
                          {"id": segmentation_id})
    if not len(info):
        raise CityqError(f"no segmentation {segmentation_id} in the store; see `cityq sql \"select * from segmentations\"`")
    zarr_path, height, width = info.iloc[0]
    rows = store.fetch_df("SELECT image_id, zarr_index FROM segmented_images WHERE segmentation_id = $id "
                          "AND image_id IN (SELECT unnest($ids))", {"id": segmentation_id, "ids": ids})
    index = dict(zip(rows["image_id"].tolist(), rows["zarr_index"].tolist()))
    missing = [i for i in ids if i not in index]
    if missing:
        raise CityqError(f"images {missing[:5]} are not in segmentation {segmentation_id}; run `cityq segment` first")
    if not ids:
        return np.zeros((0, int(height), int(width)), np.uint8)
    try:
        array = store.zarr_root()[zarr_path]
    except KeyError:
        raise CityqError(f"segmentation array {zarr_path} is missing from the store; delete the segmentation and rerun `cityq segment`") from None
    order = np.array([index[i] for i in ids])
    maps = array.oindex[order]
    if (maps == FILL_VALUE).any():
        raise CityqError(f"segmentation array {zarr_path} lacks rows the store says are written; rerun `cityq segment`")
    return np.asarray(maps)
