"""Segmenting a dataset: class maps to Zarr, N_p,i (pixels of object p in image i) to DuckDB.

One segmentation = one segmenter over one dataset at one geometry (the classifier's input).
The images are segmented a block at a time; each block's maps and rows are written by
cityq.store.segmentations (maps first, rows in one transaction), so a killed run resumes at
the first image no row names.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from cityq.counting import count_pixels
from cityq.errors import CityqError
from cityq.imaging import decode_rgb
from cityq.progress import bar
from cityq.segmenters import ImageBatch, load_segmenter
from cityq.segmenters.catalog import get_segmenter_record
from cityq.store import datasets, segmentations


@dataclass
class SegmentOptions:
    """`cityq segment`: which images, by which segmenter, at which geometry."""

    dataset: str
    segmenter: str = "labels"
    size: int = 224  # the classifier's square input side: maps are made at this geometry
    split: str | None = None  # only this split; None = every image
    batch_size: int = 16  # images per block (one Zarr chunk, one transaction)
    device: str = "auto"
    progress: bool | None = True
    ray: object | None = None  # ray_ingest.RayOptions: segment on Ray (`--engine ray`)


@dataclass(frozen=True)
class SegmentResult:
    segmentation_id: int
    n_images: int  # images the segmentation holds now


def segment_dataset(store, options: SegmentOptions) -> SegmentResult:
    """Segment a dataset's images (those of one split with `split`); resumes where a run stopped."""
    ids = datasets.split_image_ids(store, options.dataset, options.split)
    if not len(ids):
        where = f" in split {options.split}" if options.split else ""
        raise CityqError(f"dataset {options.dataset!r} has no images{where}; see `cityq info`.")
    seg_id = ensure_segmentation(store, options.segmenter, options.dataset, ids, options.size, options.size,
                                 device=options.device, batch_size=options.batch_size, progress=options.progress,
                                 ray=options.ray)
    return SegmentResult(seg_id, segmentations.n_segmented(store, seg_id))


def _images_of(store, dataset: str, image_ids: list[int]) -> pd.DataFrame:
    frame = datasets.image_files(store, image_ids)
    wrong = frame.loc[frame["dataset"] != dataset, "image_id"].tolist()
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


def ensure_segmentation(store, segmenter: str, dataset: str, image_ids, height: int, width: int, *,
                        device: str | torch.device = "auto", batch_size: int = 16,
                        progress: bool | None = True, ray=None) -> int:
    """Segment the images not yet in this segmentation; return its segmentation_id. With `ray`
    (ray_ingest.RayOptions) the blocks are computed on Ray (ray_segment.py)."""
    record = get_segmenter_record(store, segmenter)
    seg_id, zarr_path = segmentations.get_or_create_segmentation(store, segmenter, dataset, height, width)
    done = segmentations.segmented_rows(store, seg_id)
    todo = [i for i in dict.fromkeys(int(i) for i in image_ids) if i not in done]
    if not todo:
        return seg_id
    frame = _images_of(store, dataset, todo)
    config = {"segmenter": segmenter, "dataset": dataset, "height": height, "width": width,
              "segmentation_id": seg_id, "n_images": len(todo), "batch_size": batch_size}
    if ray is not None:  # `cityq check` finds the run folder through the run's config
        from cityq.pipeline.ray_ingest import run_folder_of

        config.update(engine="ray", run_folder=run_folder_of(store, ray).url)
    with store.run("segment", subject=segmenter, config=config):
        if ray is not None:
            from cityq.pipeline.ray_segment import segment_on_ray

            segment_on_ray(store, record, (seg_id, zarr_path), frame, (height, width), batch_size, ray, progress)
            return seg_id
        store.release()  # loading the segmenter's weights reads no rows
        model = load_segmenter(record, store.path, device)
        next_row = max(done.values()) + 1 if done else 0
        blocks = range(0, len(todo), batch_size)
        for start in bar(blocks, desc=f"segment {dataset} with {segmenter}", unit="block",
                         disable=None if progress else True):
            block = frame.iloc[start: start + batch_size]
            store.release()  # readers get in while the block is segmented
            maps, counts = segment_block(model, block, height, width, segmenter)
            segmentations.write_block(store, seg_id, zarr_path, next_row, block["image_id"].to_numpy(),
                                      maps, counts, batch_size)
            next_row += len(block)
    return seg_id


def segment_block(model, block: pd.DataFrame, height: int, width: int, segmenter: str):
    """Class maps (B,H,W) uint8 and pixel counts (B,150) of a block of images (rows with root,
    path, labels_path), as numpy: the per-block compute both engines call."""
    maps = model.segment(_read_batch(block), height, width)
    if maps.shape != (len(block), height, width) or maps.dtype != torch.uint8:
        raise CityqError(f"segmenter {segmenter!r} returned {tuple(maps.shape)} {maps.dtype}, not uint8 maps")
    return maps.cpu().numpy(), count_pixels(maps).cpu().numpy()
