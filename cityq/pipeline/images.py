"""Classifier inputs: decode and resize each image once, then reuse it from a memory-mapped cache.

`load_image_tensor(store, image_ids, size)` returns uint8 (N,3,S,S). Decoded pixels live in
`<store>/cache/images-<dataset>-<S>px.npy` (a memory-mapped uint8 array, one row per image)
with a sidecar `...index.json` (image_id and sha256 of each row). Training, ingest and the
notebook helpers all read the same rows, so no image is decoded twice. The cache is derived
data: delete it and it is rebuilt.

Resizing squashes the whole image to SxS (bilinear with antialiasing, PIL's resize), never
crops: a crop would cut off parts of the image whose label-map pixels then have no mask
value, and Grad-CAM masks must align pixel for pixel with the label maps resized the same way.

The cache grows by appending rows, data file first, then index: an index never names a row
beyond the data file, so a process killed between the two renames leaves a valid cache.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cityq.errors import CityqError

# ImageNet statistics, as torchvision's classifiers expect.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize(batch_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N,3,H,W) -> float32 ImageNet-normalised, on the batch's device."""
    mean = torch.tensor(IMAGENET_MEAN, device=batch_uint8.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=batch_uint8.device).view(1, 3, 1, 1)
    return (batch_uint8.float() / 255.0 - mean) / std


# PIL's 16/32-bit integer greyscale modes; convert("RGB") clips them at 255 instead of scaling.
_WIDE_GREY = {"I", "I;16", "I;16B", "I;16L", "I;16N"}


def as_rgb(image: Image.Image) -> Image.Image:
    """8-bit RGB. 16-bit greyscale is scaled to 8 bits (>> 8); PIL alone would clip every value
    above 255 and turn a 16-bit photo white. Alpha is dropped; palettes are expanded."""
    if image.mode in _WIDE_GREY:
        wide = np.asarray(image).astype(np.int64)
        image = Image.fromarray(np.clip(wide >> 8, 0, 255).astype(np.uint8), "L")
    return image.convert("RGB")


def decode_resized(path: Path, size: int) -> np.ndarray:
    """One image as uint8 (3,S,S): RGB, squashed to SxS, bilinear with antialias."""
    with Image.open(path) as image:
        image = as_rgb(image).resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(image, dtype=np.uint8).transpose(2, 0, 1)


def _cache_paths(store, dataset: str, size: int) -> tuple[Path, Path]:
    stem = f"images-{dataset}-{size}px"
    return store.cache_dir / f"{stem}.npy", store.cache_dir / f"{stem}.index.json"


def _read_index(index_path: Path) -> tuple[list[int], list[str]]:
    try:
        index = json.loads(index_path.read_text())
        return list(index["image_ids"]), list(index["sha256"])
    except (OSError, ValueError, KeyError):
        return [], []


def _replace_atomically(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _image_rows(store, image_ids: list[int]):
    frame = store.fetch_df(
        "SELECT i.image_id, i.dataset, i.path, i.sha256, d.root FROM images i "
        "JOIN datasets d USING (dataset) WHERE i.image_id IN (SELECT unnest($ids))",
        {"ids": [int(i) for i in image_ids]},
    )
    found = set(frame["image_id"].tolist())
    missing = [i for i in image_ids if i not in found]
    if missing:
        raise CityqError(f"image ids not in the store: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return frame


def _decode_all(frame, size: int) -> np.ndarray:
    paths = [Path(root) / rel for root, rel in zip(frame["root"], frame["path"])]

    def one(path: Path) -> np.ndarray:
        try:
            return decode_resized(path, size)
        except (OSError, ValueError) as exc:
            raise CityqError(f"cannot read image {path}: {exc}; fix or remove it and re-add the dataset") from exc

    # PIL releases the GIL while decoding and resizing: threads use both cores.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        arrays = list(pool.map(one, paths))
    return np.stack(arrays) if arrays else np.zeros((0, 3, size, size), np.uint8)


def _extend_cache(store, dataset: str, size: int, frame) -> None:
    """Decode the images of `frame` (one dataset) and append them to that dataset's cache."""
    data_path, index_path = _cache_paths(store, dataset, size)
    ids, shas = _read_index(index_path)
    old = np.load(data_path, mmap_mode="r") if ids and data_path.exists() else None
    new = _decode_all(frame, size)

    def write_data(tmp: Path) -> None:
        total = len(ids) + len(new)
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(total, 3, size, size))
        if old is not None:
            out[: len(ids)] = old[: len(ids)]
        out[len(ids):] = new
        out.flush()
        del out

    _replace_atomically(data_path, write_data)
    ids = ids + [int(i) for i in frame["image_id"]]
    shas = shas + list(frame["sha256"])
    _replace_atomically(index_path, lambda tmp: tmp.write_text(json.dumps({"image_ids": ids, "sha256": shas})))


def load_image_tensor(store, image_ids, size: int) -> torch.Tensor:
    """uint8 (N,3,S,S) for the given image ids, in their order; decoded once per (dataset, S)."""
    image_ids = [int(i) for i in image_ids]
    if not image_ids:
        return torch.zeros((0, 3, size, size), dtype=torch.uint8)
    frame = _image_rows(store, list(dict.fromkeys(image_ids)))
    out = np.empty((len(image_ids), 3, size, size), dtype=np.uint8)
    for dataset, rows in frame.groupby("dataset", sort=True):
        data_path, index_path = _cache_paths(store, dataset, size)
        ids, shas = _read_index(index_path)
        position = dict(zip(ids, range(len(ids))))
        stale = [i for i, s in zip(rows["image_id"], rows["sha256"]) if i in position and shas[position[i]] != s]
        if stale:  # an image changed on disk and was re-added: start this cache over
            index_path.unlink(missing_ok=True)
            ids, position = [], {}
        todo = rows[~rows["image_id"].isin(position)]
        if len(todo):
            _extend_cache(store, dataset, size, todo.sort_values("image_id"))
            ids, _ = _read_index(index_path)
            position = dict(zip(ids, range(len(ids))))
        cached = np.load(data_path, mmap_mode="r")
        in_dataset = set(rows["image_id"].tolist())
        wanted = [k for k, i in enumerate(image_ids) if i in in_dataset]
        rows_in_cache = np.array([position[image_ids[k]] for k in wanted], dtype=np.int64)
        order = np.argsort(rows_in_cache, kind="stable")  # read the memmap front to back
        out[np.array(wanted)[order]] = cached[rows_in_cache[order]]
    return torch.from_numpy(out)
