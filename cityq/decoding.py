"""Decode and squash-resize images in batches, where the compute runs.

    decode_batch(paths, size, device) -> uint8 (N, 3, S, S) tensor on `device`

Two backends with the same semantics (RGB, the whole image squashed to SxS, bilinear with
antialiasing, never cropped; see `decode_resized`):
- `pil`: PIL on worker threads (PIL releases the GIL while decoding and resizing). The
  reference: what the image cache has always stored.
- `torch`: `torchvision.io.decode_jpeg` on the device (nvJPEG on a GPU, batched; libjpeg-turbo
  on the CPU) and torchvision's antialiased bilinear resize there. Files that are not JPEG, or
  that the device's decoder refuses (e.g. some CMYK or lossless JPEGs on nvJPEG), go through
  PIL. Not bit-identical to PIL: tests/test_decoding.py bounds the difference of the inputs
  and of the R_pc table an ingest computes from them (docs/real-data.md states the bounds).

`resolve_decoder("auto", device)` takes `torch` on a GPU and `pil` on the CPU: there torch is
faster (about 1.4x on this machine, docs/benchmarks.md) but PIL is the reference, and image
caches filled before stay consistent with new rows.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cityq.errors import CityqError

CHOICES = ("auto", "pil", "torch")
# torchvision 0.29 deprecates its image codecs in favour of TorchCodec (not installed here); they
# still work, and this module is the one place to move when they go (docs/real-data.md).
warnings.filterwarnings("ignore", message="The image decoding and encoding capabilities of TorchVision",
                        category=DeprecationWarning)
JPEG_MAGIC = b"\xff\xd8\xff"
DEVICE_BATCH = 256  # JPEGs decoded per nvJPEG call: 640x480 RGB is 0.9 MB each on the device


@dataclass(frozen=True)
class Decoder:
    backend: str  # 'pil' or 'torch'
    device: torch.device  # where `torch` decodes and where decode_batch returns
    workers: int  # CPU threads (pil: decoding; torch: reading files, or decoding on the CPU)

    def decode(self, paths: list[Path], size: int) -> torch.Tensor:
        return decode_batch(paths, size, self.device, backend=self.backend, workers=self.workers)


def resolve_decoder(choice: str = "auto", device: str | torch.device = "cpu", workers: int | None = None) -> Decoder:
    name = (choice or "auto").strip().lower()
    if name not in CHOICES:
        raise CityqError(f"unknown decoder {choice!r}; use {', '.join(CHOICES)}")
    device = torch.device(device)
    if name == "auto":
        name = "torch" if device.type == "cuda" else "pil"
    return Decoder(name, device, workers or min(4, os.cpu_count() or 1))


def decode_batch(paths, size: int, device: str | torch.device = "cpu", *, backend: str | None = None,
                 workers: int | None = None) -> torch.Tensor:
    """uint8 (N,3,S,S) on `device`, in the order of `paths`. A file that cannot be decoded
    raises CityqError naming it."""
    device = torch.device(device)
    backend = backend or ("torch" if device.type == "cuda" else "pil")
    workers = workers or min(4, os.cpu_count() or 1)
    paths = [Path(p) for p in paths]
    if not paths:
        return torch.zeros((0, 3, size, size), dtype=torch.uint8, device=device)
    if backend == "pil":
        with ThreadPoolExecutor(max_workers=workers) as pool:
            arrays = list(pool.map(lambda p: _pil(p, size), paths))
        return torch.from_numpy(np.stack(arrays)).to(device)
    if backend != "torch":
        raise CityqError(f"unknown decoding backend {backend!r}; use pil or torch")
    return _torch(paths, size, device, workers)


def squash(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N,3,H,W) -> uint8 (N,3,S,S): bilinear with antialiasing, as PIL's resize. On the
    CPU torchvision resizes uint8 natively (its PIL-matching path); elsewhere in float32,
    rounded back to uint8."""
    from torchvision.transforms.v2.functional import InterpolationMode, resize

    if images.shape[-2:] == (size, size):
        return images
    return resize(images, [size, size], interpolation=InterpolationMode.BILINEAR, antialias=True)


# -- one image ---------------------------------------------------------------------------------

def _pil(path: Path, size: int) -> np.ndarray:
    from cityq.imaging import decode_resized

    try:
        return decode_resized(path, size)
    except (OSError, ValueError) as exc:
        raise CityqError(f"cannot read image {path}: {exc}; fix or remove it and re-add the dataset") from exc


def _read_bytes(path: Path) -> torch.Tensor:
    try:
        return torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
    except OSError as exc:
        raise CityqError(f"cannot read image {path}: {exc}; fix or remove it and re-add the dataset") from exc


def _is_jpeg(data: torch.Tensor) -> bool:
    return len(data) > 3 and bytes(data[:3].tolist()) == JPEG_MAGIC


def _decode_one(data: torch.Tensor):
    """decode_jpeg on the CPU, or None for PIL to decide (not a JPEG, or one it refuses)."""
    from torchvision.io import ImageReadMode, decode_jpeg

    if not _is_jpeg(data):
        return None
    try:
        return decode_jpeg(data, mode=ImageReadMode.RGB)
    except RuntimeError:
        return None


def _decode_on_device(datas: list[torch.Tensor], device: torch.device) -> list:
    """nvJPEG on a batch; if one file spoils it, the batch one by one (None: PIL decides)."""
    from torchvision.io import ImageReadMode, decode_jpeg

    jpegs = [i for i, d in enumerate(datas) if _is_jpeg(d)]
    out: list = [None] * len(datas)
    try:
        for i, image in zip(jpegs, decode_jpeg([datas[i] for i in jpegs], mode=ImageReadMode.RGB, device=device)):
            out[i] = image
    except RuntimeError:
        for i in jpegs:
            try:
                out[i] = decode_jpeg(datas[i], mode=ImageReadMode.RGB, device=device)
            except RuntimeError:
                out[i] = None
    return out


def _torch_cpu(path: Path, size: int) -> np.ndarray:
    """One image, on a worker thread: decode_jpeg, resize, and back as numpy (uint8 3xSxS)."""
    image = _decode_one(_read_bytes(path))
    if image is None:
        return _pil(path, size)
    return squash(image[None], size)[0].numpy()


def _torch(paths: list[Path], size: int, device: torch.device, workers: int) -> torch.Tensor:
    """On the CPU each worker thread decodes and resizes its images and the batch is put
    together in numpy: a torch.stack of the workers' tensors in the calling thread runs an
    intra-op thread team, which on a busy machine stalls for seconds (measured here). On a
    GPU files are read by the workers, decoded in batches and resized once per image size."""
    if device.type == "cpu":
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return torch.from_numpy(np.stack(list(pool.map(lambda p: _torch_cpu(p, size), paths))))
    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8, device=device)
    by_pil: list[int] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for lo in range(0, len(paths), DEVICE_BATCH):
            datas = list(pool.map(_read_bytes, paths[lo:lo + DEVICE_BATCH]))
            decoded = _decode_on_device(datas, device)
            by_shape: dict[tuple[int, int], list[int]] = {}
            for k, image in enumerate(decoded):
                if image is None:
                    by_pil.append(lo + k)
                else:
                    by_shape.setdefault(tuple(image.shape[-2:]), []).append(k)
            # one resize per image size: a data set's images mostly share one (640x480)
            for members in by_shape.values():
                out[[lo + k for k in members]] = squash(torch.stack([decoded[k] for k in members]), size)
    for i in by_pil:
        out[i] = torch.from_numpy(np.ascontiguousarray(_pil(paths[i], size))).to(device)
    return out
