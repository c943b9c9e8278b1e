"""A run folder: where a distributed ingest's workers leave their results for the driver.
The store owns this format (as it owns its Zarr arrays); the layout of units is in
cityq/pipeline/ray_units.py, the commits in run_folders.py, the check in run_folder_check.py.

It is a local path or an fsspec URL (`s3://bucket/prefix`, NFS mounts are local paths); the
workers never touch the store, the driver alone commits into it. Every object is written
whole and atomically (a local file goes to a temporary name and is renamed; an object-store
PUT is atomic), under a deterministic name: Ray runs a unit at least once, so a retried or
duplicated unit rewrites identical bytes and no reader ever sees half an object.

Arrays in a run folder are real Zarr v3 arrays (`zarr.open_array` reads them), sharded so
that one unit owns one whole shard: zarr-python does not support concurrent writes to parts of
one shard (zarr-python issue 3682), so no two units ever write the same object. A shard's
bytes are encoded in memory with zarr itself and written as one object.
"""

from __future__ import annotations

import io
import json
import os
import uuid
from dataclasses import dataclass

import numpy as np

from cityq.errors import CityqError

PARTIAL_SUFFIX = ".partial"  # a local write in flight (or killed in flight)
INGESTS = "ingests"  # top-level folders of a run folder: ingest image sets, segmentation runs
SEGMENTATIONS = "segmentations"


class RunFolder:
    """Whole-object reads and writes under one root, local or remote."""

    def __init__(self, url: str):
        import fsspec

        self.url = str(url).rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.local = "file" in _protocols(self.fs)

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def put(self, rel: str, data: bytes) -> None:
        target = self.path(rel)
        if not self.local:
            self.fs.pipe_file(target, data)  # one PUT: the object appears whole or not at all
            return
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def get(self, rel: str) -> bytes:
        try:
            return self.fs.cat_file(self.path(rel))
        except FileNotFoundError:
            raise CityqError(f"{self.url}/{rel} is missing from the run folder") from None

    def exists(self, rel: str) -> bool:
        self.fs.invalidate_cache()  # another process may have written it since we last listed
        return self.fs.exists(self.path(rel))

    def files(self, rel: str = "") -> list[str]:
        """Every object under `rel`, as paths relative to the root."""
        base = self.path(rel)
        if not self.fs.exists(base):
            return []
        self.fs.invalidate_cache()
        start = len(self.root) + 1
        return sorted(p[start:] for p in self.fs.find(base))

    def remove(self, rel: str) -> None:
        target = self.path(rel)
        self.fs.invalidate_cache()
        if self.fs.exists(target):
            self.fs.rm(target, recursive=True)
        self.fs.invalidate_cache()

    def put_json(self, rel: str, value) -> None:
        self.put(rel, json.dumps(value, sort_keys=True, indent=1).encode())

    def get_json(self, rel: str):
        return json.loads(self.get(rel))


def _protocols(fs) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)


@dataclass(frozen=True)
class ShardedArray:
    """A Zarr v3 array in a run folder whose shards are written whole, one per unit."""

    rel: str  # the array's folder, relative to the run folder root
    shape: tuple[int, ...]
    shard_rows: int  # rows per shard (the unit size)
    chunk_rows: int  # rows per inner chunk (the store's block size)
    dtype: str
    fill_value: float | int
    shuffle: str  # blosc byte "shuffle" for floats, "bitshuffle" for class maps

    def _create(self, zarr_store):
        import zarr
        from zarr.codecs import BloscCodec

        rest = tuple(self.shape[1:])
        return zarr.create_array(
            zarr_store, shape=self.shape, shards=(self.shard_rows, *rest), chunks=(self.chunk_rows, *rest),
            dtype=self.dtype, compressors=BloscCodec(cname="zstd", clevel=5, shuffle=self.shuffle),
            fill_value=self.fill_value, overwrite=True,
        )

    def n_shards(self) -> int:
        return -(-self.shape[0] // self.shard_rows)

    def rows(self, shard: int) -> tuple[int, int]:
        lo = shard * self.shard_rows
        return lo, min(lo + self.shard_rows, self.shape[0])

    def shard_key(self, shard: int) -> str:
        return f"{self.rel}/c/{shard}" + "/0" * (len(self.shape) - 1)

    def write_metadata(self, folder: RunFolder) -> None:
        from zarr.storage import MemoryStore

        memory = MemoryStore()
        self._create(memory)
        folder.put(f"{self.rel}/zarr.json", memory._store_dict["zarr.json"].to_bytes())

    def encode(self, shard: int, data: np.ndarray) -> bytes:
        """The bytes of one whole shard holding `data` (its rows, in order)."""
        from zarr.storage import MemoryStore

        lo, hi = self.rows(shard)
        if data.shape != (hi - lo, *self.shape[1:]):
            raise ValueError(f"shard {shard} holds {hi - lo} rows of {self.shape[1:]}, not {data.shape}")
        memory = MemoryStore()
        self._create(memory)[lo:hi] = data
        return memory._store_dict[f"c/{shard}" + "/0" * (len(self.shape) - 1)].to_bytes()

    def decode(self, shard: int, data: bytes) -> np.ndarray:
        from zarr.core.buffer import default_buffer_prototype
        from zarr.storage import MemoryStore

        memory = MemoryStore()
        array = self._create(memory)
        key = f"c/{shard}" + "/0" * (len(self.shape) - 1)
        memory._store_dict[key] = default_buffer_prototype().buffer.from_bytes(data)
        lo, hi = self.rows(shard)
        return np.asarray(array[lo:hi])

    def write_shard(self, folder: RunFolder, shard: int, data: np.ndarray) -> bytes:
        encoded = self.encode(shard, data)
        folder.put(self.shard_key(shard), encoded)
        return encoded

    def read_shard(self, folder: RunFolder, shard: int) -> np.ndarray:
        return self.decode(shard, folder.get(self.shard_key(shard)))


def parquet_bytes(table) -> bytes:
    """A whole Parquet file in memory (zstd); the same rows give the same bytes."""
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd", write_statistics=False, store_schema=True)
    return sink.getvalue()


def read_parquet(data: bytes):
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data))
