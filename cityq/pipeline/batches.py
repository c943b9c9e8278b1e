"""A set of images read a batch at a time: what training and evaluation iterate over.

The pixels come from the store's image cache (decoded once, read back with pread), the next
batch read on a worker thread while this one is computed. Only a few batches are ever in
memory, whatever the size of the dataset (docs/benchmarks.md measures it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from cityq.prefetch import prefetched
from cityq.store.image_cache import fill_image_cache, load_image_files

AHEAD = 2  # batches read ahead of the one being computed


@dataclass
class ImageSet:
    cache_dir: Path
    files: object  # the images' rows (cityq.store.datasets.image_files): read on worker threads
    image_ids: np.ndarray  # the set, in its order; positions index it
    size: int  # square side the images are squashed to
    device: torch.device
    decoder: object = None  # cityq.decoding.Decoder for images not cached yet; None: PIL threads

    def __len__(self) -> int:
        return len(self.image_ids)

    def subset(self, positions) -> "ImageSet":
        positions = np.asarray(positions)
        return ImageSet(self.cache_dir, self.files, self.image_ids[positions], self.size, self.device, self.decoder)

    def fill(self) -> None:
        """Decode into the cache the images it lacks, in id order (a chunk at a time)."""
        fill_image_cache(self.cache_dir, self.files, np.sort(self.image_ids), self.size, self.decoder)

    def batches(self, order: torch.Tensor | None, batch_size: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(positions, uint8 (B,3,S,S) pixels on the device) for consecutive batches of `order`
        (positions into the set; None: the set's own order)."""
        order = torch.arange(len(self)) if order is None else order.cpu()
        chunks = [order[lo:lo + batch_size] for lo in range(0, len(order), batch_size)]

        def read(chunk: torch.Tensor) -> torch.Tensor:
            ids = self.image_ids[chunk.numpy()]
            return load_image_files(self.cache_dir, self.files, ids, self.size, self.decoder)

        for chunk, pixels in prefetched(chunks, read, ahead=AHEAD):
            yield chunk.to(self.device), pixels.to(self.device, non_blocking=True)
