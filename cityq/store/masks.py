"""Reading masks back: the native CAMs of an ingest's images (its Zarr array, laid out as
cityq/store/mask_arrays.py says) and the full-size masks derived from them."""

from __future__ import annotations

import numpy as np

from cityq.errors import CityqError
from cityq.store.ingests import get_ingest
from cityq.store.mask_arrays import open_array


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
    import torch

    from cityq.cams import upsample_cams

    ingest = get_ingest(store, ingest_id)
    ids, cams = read_cams(store, ingest_id, image_ids)
    if len(ids) == 0:
        return ids, np.zeros((0, ingest.height, ingest.width), dtype=np.float32)
    full = upsample_cams(torch.from_numpy(cams), (ingest.height, ingest.width))
    return ids, full.numpy()


def images_in_common(store, ingest_ids: list[int]) -> list[tuple[int, str]]:
    """(image_id, city) of the images every one of these ingests has a mask for, by image_id."""
    return store.con.execute(
        "SELECT mi.image_id, im.city FROM mask_images mi JOIN images im ON im.image_id = mi.image_id "
        "WHERE mi.ingest_id IN (SELECT unnest($ids)) GROUP BY mi.image_id, im.city "
        "HAVING count(DISTINCT mi.ingest_id) = $n ORDER BY mi.image_id",
        {"ids": [int(i) for i in ingest_ids], "n": len(ingest_ids)},
    ).fetchall()
