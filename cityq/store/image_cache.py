"""The decoded-image cache: each image decoded and resized once, then reused from a memory map.

`load_image_tensor(store, image_ids, size, decoder=None)` returns uint8 (N,3,S,S); its file
half, `load_image_files(cache_dir, files, image_ids, size, decoder)`, reads no rows, so a
worker thread may run it (ingest decodes the next block's images that way). Decoded pixels live in
`<store>/cache/images-<dataset>-<S>px.npy` (a memory-mapped uint8 array, one row per image)
with a sidecar `...index.json` (image_id and sha256 of each row). Training, ingest and the
notebook helpers all read the same rows, so no image is decoded twice. The cache is derived
data: delete it and it is rebuilt. How an image is decoded and resized is `cityq.imaging`'s.

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

from cityq.errors import CityqError
from cityq.imaging import decode_resized


def _cache_paths(cache_dir: Path, dataset: str, size: int) -> tuple[Path, Path]:
    stem = f"images-{dataset}-{size}px"
    return cache_dir / f"{stem}.npy", cache_dir / f"{stem}.index.json"


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


def _decode_all(frame, size: int, decoder=None) -> np.ndarray:
    paths = [Path(root) / rel for root, rel in zip(frame["root"], frame["path"])]
    if decoder is not None and decoder.backend != "pil":  # cityq/decoding.py: on the device, in batches
        from cityq.decoding import DEVICE_BATCH

        parts = [decoder.decode(paths[lo:lo + DEVICE_BATCH], size).cpu().numpy()
                 for lo in range(0, len(paths), DEVICE_BATCH)]
        return np.concatenate(parts) if parts else np.zeros((0, 3, size, size), np.uint8)

    def one(path: Path) -> np.ndarray:
        try:
            return decode_resized(path, size)
        except (OSError, ValueError) as exc:
            raise CityqError(f"cannot read image {path}: {exc}; fix or remove it and re-add the dataset") from exc

    # PIL releases the GIL while decoding and resizing: threads use both cores.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        arrays = list(pool.map(one, paths))
    return np.stack(arrays) if arrays else np.zeros((0, 3, size, size), np.uint8)


def _extend_cache(cache_dir: Path, dataset: str, size: int, frame, decoder=None) -> None:
    """Decode the images of `frame` (one dataset) and append them to that dataset's cache."""
    data_path, index_path = _cache_paths(cache_dir, dataset, size)
    ids, shas = _read_index(index_path)
    old = np.load(data_path, mmap_mode="r") if ids and data_path.exists() else None
    new = _decode_all(frame, size, decoder)

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


def load_image_tensor(store, image_ids, size: int, decoder=None) -> torch.Tensor:
    """uint8 (N,3,S,S) for the given image ids, in their order; decoded once per (dataset, S).
    `decoder` (cityq.decoding.Decoder) decodes the images not cached yet; None: PIL threads.
    Rows keep whichever decoder filled them (the two differ by at most 1 in a few values)."""
    image_ids = [int(i) for i in image_ids]
    if not image_ids:
        return torch.zeros((0, 3, size, size), dtype=torch.uint8)
    from cityq.store.datasets import image_files

    frame = image_files(store, list(dict.fromkeys(image_ids)))
    store.release()  # the rest reads files only: readers get in while images are decoded
    return load_image_files(store.cache_dir, frame, image_ids, size, decoder)


def load_image_files(cache_dir: Path, frame, image_ids, size: int, decoder=None) -> torch.Tensor:
    """The file half of `load_image_tensor`: `frame` holds the images' rows (image_files: at
    least the ids asked for). Reads no rows, so it may run on a worker thread; one writer of a
    cache at a time (a block is read by one thread)."""
    image_ids = [int(i) for i in image_ids]
    frame = frame[frame["image_id"].isin(set(image_ids))]
    out = np.empty((len(image_ids), 3, size, size), dtype=np.uint8)
    for dataset, rows in frame.groupby("dataset", sort=True):
        data_path, index_path = _cache_paths(cache_dir, dataset, size)
        ids, shas = _read_index(index_path)
        position = dict(zip(ids, range(len(ids))))
        stale = [i for i, s in zip(rows["image_id"], rows["sha256"]) if i in position and shas[position[i]] != s]
        if stale:  # an image changed on disk and was re-added: start this cache over
            index_path.unlink(missing_ok=True)
            ids, position = [], {}
        todo = rows[~rows["image_id"].isin(position)]
        if len(todo):
            _extend_cache(cache_dir, dataset, size, todo.sort_values("image_id"), decoder)
            ids, _ = _read_index(index_path)
            position = dict(zip(ids, range(len(ids))))
        cached = np.load(data_path, mmap_mode="r")
        in_dataset = set(rows["image_id"].tolist())
        wanted = [k for k, i in enumerate(image_ids) if i in in_dataset]
        rows_in_cache = np.array([position[image_ids[k]] for k in wanted], dtype=np.int64)
        order = np.argsort(rows_in_cache, kind="stable")  # read the memmap front to back
        out[np.array(wanted)[order]] = cached[rows_in_cache[order]]
    return torch.from_numpy(out)
