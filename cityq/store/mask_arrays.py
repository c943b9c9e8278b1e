"""Where masks live: one Zarr array per ingest, rows = images in the ingest's order.

Layout and why: each image's Grad-CAM is kept at its NATIVE resolution (the target layer's
h x w, e.g. 8x8 for VGG11 at 128 px), float32, min-max normalised: that is the exact record,
since the full-size mask is a deterministic function of it (bilinear upsample + min-max,
`upsample_cams`), recoverable to float rounding (~1e-7) instead of the 1e-3 a float16 or
uint8 full-size mask would lose. That makes a mask 100-800 bytes before compression instead
of H*W*4. Chunks hold one block of images (the unit of atomic writes and resumption), so a
block is one file and a half-written block is simply rewritten; zstd with byte-shuffle
compresses the smooth float maps. DuckDB's `mask_blocks` says which chunks are complete
(store/ingests.py owns those rows).
"""

from __future__ import annotations

import numpy as np

from cityq.errors import CityqError


def create_array(store, zarr_path: str, n_images: int, cam_hw: tuple[int, int], block_size: int):
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


def write_chunk(array, start: int, cams: np.ndarray) -> None:
    """A block's CAMs into its chunk (NaN rows for images that failed): before its rows go in."""
    array[start:start + len(cams)] = cams


def open_array(store, ingest):
    root = store.zarr_root()
    try:
        return root[ingest.zarr_path]
    except KeyError:
        raise CityqError(
            f"the mask array of model {ingest.model!r} ({ingest.zarr_path}) is missing from the store; "
            f"run `cityq ingest --model {ingest.model} --force` to recompute it"
        ) from None
