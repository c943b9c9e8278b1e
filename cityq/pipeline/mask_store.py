"""Where masks live: one Zarr array per ingest, rows = images in the ingest's order.

Layout and why: each image's Grad-CAM is kept at its NATIVE resolution (the target layer's
h x w, e.g. 8x8 for VGG11 at 128 px), float32, min-max normalised: that is the exact record,
since the full-size mask is a deterministic function of it (bilinear upsample + min-max,
`upsample_cams`), recoverable to float rounding (~1e-7) instead of the 1e-3 a float16 or
uint8 full-size mask would lose. That makes a mask 100-800 bytes before compression instead
of H*W*4. Chunks hold one block of images (the unit of atomic writes and resumption), so a
block is one file and a half-written block is simply rewritten; zstd with byte-shuffle
compresses the smooth float maps. DuckDB's `mask_blocks` says which chunks are complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import torch

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


def find_ingest(store, model: str, split: str = "test", target: str = "true", segmenter: str | None = None) -> Ingest:
    """The finished ingest of a model (the most recent one when several segmenters were used)."""
    rows = store.con.execute(
        _SELECT + " JOIN segmentations s ON s.segmentation_id = i.segmentation_id "
        "WHERE i.model = $model AND i.split = $split AND i.target = $target AND i.status = 'done' "
        "AND ($segmenter IS NULL OR s.segmenter = $segmenter) ORDER BY i.ingest_id DESC",
        {"model": model, "split": split, "target": target, "segmenter": segmenter},
    ).fetchall()
    if not rows:
        known = [r[0] for r in store.con.execute(
            "SELECT DISTINCT model FROM ingests WHERE status = 'done' ORDER BY 1").fetchall()]
        hint = f" Ingested: {', '.join(known)}." if known else ""
        raise CityqError(
            f"model {model!r} has no finished ingest of the {split} split (target {target}); "
            f"run `cityq ingest --model {model}` first.{hint}"
        )
    return _from_row(rows[0])


def image_ids_of(store, ingest: Ingest) -> np.ndarray:
    """The ingest's images in Zarr order: the split's images up to the id seen at its start."""
    rows = store.con.execute(
        "SELECT image_id FROM images WHERE dataset = $d AND split = $s AND image_id <= $max "
        "ORDER BY image_id",
        {"d": ingest.dataset, "s": ingest.split, "max": ingest.max_image_id},
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def create_array(store, zarr_path: str, n_images: int, cam_hw: tuple[int, int], block_size: int):
    import zarr
    from zarr.codecs import BloscCodec

    root = store.zarr_root()
    return root.create_array(
        zarr_path,
        shape=(n_images, *cam_hw),
        chunks=(block_size, *cam_hw),
        dtype="float32",
        compressors=BloscCodec(cname="zstd", clevel=5, shuffle="shuffle"),
        # NaN, not 0: a chunk that is missing (never written, or deleted behind cityq's back)
        # then reads as NaN, which no real mask contains, instead of a plausible all-zero mask.
        fill_value=float("nan"),
        overwrite=True,
    )


def open_array(store, ingest: Ingest):
    root = store.zarr_root()
    try:
        return root[ingest.zarr_path]
    except KeyError:
        raise CityqError(
            f"the mask array of model {ingest.model!r} ({ingest.zarr_path}) is missing from the store; "
            f"run `cityq ingest --model {ingest.model} --force` to recompute it"
        ) from None


def read_cams(store, ingest_id: int, image_ids=None) -> tuple[np.ndarray, np.ndarray]:
    """Native-resolution CAMs (N,h,w) float32 of an ingest's recorded images, in Zarr order,
    or of the given image ids (in that order)."""
    ingest = get_ingest(store, ingest_id)
    recorded = store.con.execute(
        "SELECT image_id, zarr_index FROM mask_images WHERE ingest_id = $id ORDER BY zarr_index",
        {"id": ingest_id},
    ).fetchall()
    index = {image_id: zarr_index for image_id, zarr_index in recorded}
    if image_ids is None:
        ids = np.array([r[0] for r in recorded], dtype=np.int64)
    else:
        ids = np.asarray(image_ids, dtype=np.int64)
        missing = [int(i) for i in ids if int(i) not in index]
        if missing:
            raise CityqError(f"images {missing[:5]} have no mask for model {ingest.model!r}")
    positions = np.array([index[int(i)] for i in ids], dtype=np.int64)
    array = open_array(store, ingest)
    if len(positions) == 0:
        return ids, np.zeros((0, ingest.cam_height, ingest.cam_width), dtype=np.float32)
    lo, hi = int(positions.min()), int(positions.max()) + 1
    try:
        chunk = np.asarray(array[lo:hi])
    except Exception as exc:  # a chunk deleted or damaged behind cityq's back
        raise CityqError(
            f"cannot read the masks of model {ingest.model!r} ({type(exc).__name__}); "
            f"run `cityq check` and `cityq ingest --model {ingest.model} --force`"
        ) from exc
    cams = chunk[positions - lo]
    if np.isnan(cams).any():
        raise CityqError(
            f"masks of model {ingest.model!r} are missing from {ingest.zarr_path} although the store "
            f"records them; run `cityq check`, then `cityq ingest --model {ingest.model} --force`"
        )
    return ids, cams


def read_masks(store, ingest_id: int, image_ids=None) -> tuple[np.ndarray, np.ndarray]:
    """Full-size masks (N,H,W) float32 in [0,1], derived exactly from the native CAMs."""
    from cityq.pipeline.gradcam import upsample_cams

    ingest = get_ingest(store, ingest_id)
    ids, cams = read_cams(store, ingest_id, image_ids)
    if len(ids) == 0:
        return ids, np.zeros((0, ingest.height, ingest.width), dtype=np.float32)
    masks = upsample_cams(torch.from_numpy(cams), (ingest.height, ingest.width))
    return ids, masks.numpy()
