"""The decoded-image cache: each image decoded and resized once, then read back a batch at a time.

`load_image_tensor(store, image_ids, size, decoder=None)` returns uint8 (N,3,S,S); its file
half, `load_image_files(cache_dir, files, image_ids, size, decoder)`, reads no rows, so a
worker thread may run it (training and ingest decode the next batch or block that way).
Training, ingest, reliance and the notebook helpers all read the same rows, so no image is
decoded twice. The cache is derived data: delete it and it is rebuilt. How an image is decoded
and resized is `cityq.imaging`'s (or `cityq.decoding`'s, on a device).

Layout, per dataset and size, in `<store>/cache/`:
    images-<dataset>-<S>px.u8    fixed-size records of 3*S*S bytes, one decoded image each
    images-<dataset>-<S>px.ids   fixed-size records: the image_id (int64) and sha256 text of each
Both files only grow, by appending: memory depends on the batch asked for, never on how many
images the cache holds (the records are read with pread, not mapped). An append writes the
pixels first, then the ids, under an flock (one appender at a time, across processes): the
ids never name a record beyond the pixels, and what a killed append left past the last whole
ids record is cut off by the next append. Above `CITYQ_CACHE_LIMIT_GB` (default 16) of pixels
a cache stops growing and the images it lacks are decoded on every read instead.
"""

from __future__ import annotations

import fcntl
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from cityq.errors import CityqError
from cityq.imaging import decode_resized

ID_RECORD = np.dtype([("image_id", "<i8"), ("sha256", "S64")])  # the images row's sha256, as text
DECODE_CHUNK = 64  # images decoded and appended at a time: what bounds the memory of a fill
_APPEND = threading.Lock()  # the flock serialises processes; this, the threads of one
_INDEXES: dict[Path, tuple] = {}  # ids file -> (its stat, image_ids, sha256): one entry per cache


def cache_limit_bytes() -> int:
    return int(float(os.environ.get("CITYQ_CACHE_LIMIT_GB", "16")) * 1e9)


class ImageCache:
    """The cache of one dataset at one size."""

    def __init__(self, cache_dir: Path, dataset: str, size: int):
        stem = f"images-{dataset}-{size}px"
        self.pixels_path = cache_dir / f"{stem}.u8"
        self.ids_path = cache_dir / f"{stem}.ids"
        self.size = size
        self.record = 3 * size * size
        # Caches of cityq before 0.2 (one .npy rewritten whole on each growth): derived data.
        for old in (cache_dir / f"{stem}.npy", cache_dir / f"{stem}.index.json"):
            old.unlink(missing_ok=True)

    def index(self) -> tuple[np.ndarray, np.ndarray]:
        """(image_ids, sha256 texts) of the complete records, in record order."""
        try:
            stat = os.stat(self.ids_path)
            whole = os.path.getsize(self.pixels_path) // self.record
        except FileNotFoundError:
            return np.zeros(0, np.int64), np.zeros(0, "S64")
        # Training asks once per batch: the ids are read again only when the files changed.
        key = (stat.st_size, stat.st_mtime_ns, stat.st_ino, whole)
        known = _INDEXES.get(self.ids_path)
        if known is not None and known[0] == key:
            return known[1], known[2]
        raw = np.fromfile(self.ids_path, dtype=np.uint8)
        ids = raw[: len(raw) // ID_RECORD.itemsize * ID_RECORD.itemsize].view(ID_RECORD)
        ids = ids[:whole]  # never beyond the pixels (they are written first)
        result = ids["image_id"].copy(), ids["sha256"].copy()
        _INDEXES[self.ids_path] = (key, *result)
        return result

    def read(self, rows: np.ndarray) -> np.ndarray:
        """uint8 (n,3,S,S) of the given records, in that order."""
        out = np.empty((len(rows), 3, self.size, self.size), dtype=np.uint8)
        flat = out.reshape(len(rows), self.record)
        with open(self.pixels_path, "rb") as handle:
            fd = handle.fileno()
            for k in np.argsort(rows, kind="stable"):  # front to back
                got = os.preadv(fd, [memoryview(flat[k])], int(rows[k]) * self.record)
                if got != self.record:
                    raise CityqError(f"the image cache {self.pixels_path} is damaged; delete it (it is rebuilt)")
        return out

    def append(self, image_ids: np.ndarray, digests: list[bytes], pixels: np.ndarray) -> bool:
        """Add these images; False (nothing written) when the cache would pass its size limit."""
        self.ids_path.parent.mkdir(parents=True, exist_ok=True)
        with _APPEND, open(self.ids_path, "ab") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
            known, _ = self.index()
            if (len(known) + len(image_ids)) * self.record > cache_limit_bytes():
                return False
            # Cut what a killed append left behind, so records stay aligned.
            with open(self.pixels_path, "ab") as data:
                data.truncate(len(known) * self.record)
                data.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
            lock.truncate(len(known) * ID_RECORD.itemsize)
            records = np.zeros(len(image_ids), dtype=ID_RECORD)
            records["image_id"] = image_ids
            records["sha256"] = digests
            lock.write(records.tobytes())
            lock.flush()
            return True

    def clear(self) -> None:
        with _APPEND:
            self.pixels_path.unlink(missing_ok=True)
            self.ids_path.unlink(missing_ok=True)


def _decode(paths: list[Path], size: int, decoder=None) -> np.ndarray:
    if decoder is not None and decoder.backend != "pil":  # cityq/decoding.py: on the device, in batches
        return decoder.decode(paths, size).cpu().numpy()

    def one(path: Path) -> np.ndarray:
        try:
            return decode_resized(path, size)
        except (OSError, ValueError) as exc:
            raise CityqError(f"cannot read image {path}: {exc}; fix or remove it and re-add the dataset") from exc

    # PIL releases the GIL while decoding and resizing: threads use both cores.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        arrays = list(pool.map(one, paths))
    return np.stack(arrays) if arrays else np.zeros((0, 3, size, size), np.uint8)


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


def fill_image_cache(cache_dir: Path, frame, image_ids, size: int, decoder=None) -> None:
    """Decode the images the cache lacks (a chunk at a time) without reading the others back."""
    _load(cache_dir, frame, image_ids, size, decoder, None)


def load_image_files(cache_dir: Path, frame, image_ids, size: int, decoder=None) -> torch.Tensor:
    """The file half of `load_image_tensor`: `frame` holds the images' rows (image_files: at
    least the ids asked for). Reads no rows, so it may run on a worker thread."""
    out = np.empty((len(image_ids), 3, size, size), dtype=np.uint8)
    _load(cache_dir, frame, image_ids, size, decoder, out)
    return torch.from_numpy(out)


def _load(cache_dir: Path, frame, image_ids, size: int, decoder, out: np.ndarray | None) -> None:
    """Fill the cache with the images it lacks and, when `out` is given, place every image there."""
    image_ids = np.asarray([int(i) for i in image_ids], dtype=np.int64)
    frame = frame[frame["image_id"].isin(set(image_ids.tolist()))]
    for dataset, rows in frame.groupby("dataset", sort=True):
        cache = ImageCache(cache_dir, dataset, size)
        files = {int(i): (Path(root) / rel, str(sha).encode()[:64])
                 for i, root, rel, sha in zip(rows["image_id"], rows["root"], rows["path"], rows["sha256"])}
        wanted = np.flatnonzero(np.isin(image_ids, list(files)))
        known, digests = cache.index()
        found, positions = _positions(known, image_ids[wanted])
        if found.any() and (digests[positions[found]] != [files[int(i)][1] for i in image_ids[wanted][found]]).any():
            cache.clear()  # an image changed on disk and was re-added: start this cache over
            found = np.zeros(len(wanted), bool)
        if found.any() and out is not None:
            out[wanted[found]] = cache.read(positions[found])
        missing = list(dict.fromkeys(int(i) for i in image_ids[wanted][~found]))
        for lo in range(0, len(missing), DECODE_CHUNK):  # decode, append and place a chunk at a time
            chunk = missing[lo:lo + DECODE_CHUNK]
            pixels = _decode([files[i][0] for i in chunk], size, decoder)
            cache.append(np.array(chunk, np.int64), [files[i][1] for i in chunk], pixels)
            for k, image_id in enumerate(chunk if out is not None else ()):
                out[image_ids == image_id] = pixels[k]


def _positions(known: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(found mask, record of each found id) of `wanted` among the cache's ids."""
    if not len(known):
        return np.zeros(len(wanted), bool), np.zeros(len(wanted), np.int64)
    order = np.argsort(known, kind="stable")
    at = np.clip(np.searchsorted(known[order], wanted), 0, len(known) - 1)
    found = known[order][at] == wanted
    return found, order[at]
