"""Real-data throughput: registering and decoding 640x480 JPEGs laid out as the data sets ship.

Synthesises N street-photo-like 640x480 JPEGs (N = 20,000; --quick: 600), half as Pittsburgh
250k (NNN/NNNNNN_pitchP_yawY.jpg, 24 views per place), half as Tokyo 24/7 (038xx/<panorama>_
012_<yaw>.jpg, 12 views), then measures, each against its baseline in the same run:
- `dataset add` (full decode + SHA-256 of every file, layouts, splits): 1 reading thread (the
  baseline: the old loop) vs the default threads;
- decoding + squashing to 224 px on the CPU: PIL threads (the image cache's path, baseline) vs
  torchvision's decode_jpeg + antialiased resize on the CPU, 1 and 2 threads;
- on a GPU (when there is one): decode_batch(..., device="cuda"), nvJPEG in batches of 256.
  Without one the row says so; the command to run on a GPU machine is
  `.venv/bin/python bench/run.py --only decode --no-tests`.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, SIZE = 640, 480, 224
_BASES = 48  # distinct base photos; each file adds its own boxes and noise (distinct SHA-256)


def _photo(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    img = np.stack([(x * rng.uniform(0.1, 0.6) + rng.uniform(0, 255)) % 256, (y * rng.uniform(0.2, 0.8)) % 256,
                    ((x + y) * rng.uniform(0.1, 0.4)) % 256], -1)
    for _ in range(40):
        x0, y0 = rng.integers(0, WIDTH - 8), rng.integers(0, HEIGHT - 8)
        img[y0:y0 + rng.integers(4, 160), x0:x0 + rng.integers(4, 200)] = rng.integers(0, 256, 3)
    return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)


_bases: dict[int, np.ndarray] = {}  # per worker process: drawing a base costs more than encoding it


def _write(job: tuple[str, int]) -> None:
    from PIL import Image

    path, k = job
    rng = np.random.default_rng(k)
    if k % _BASES not in _bases:
        _bases[k % _BASES] = _photo(k % _BASES)
    img = _bases[k % _BASES].copy()
    x0, y0 = rng.integers(0, WIDTH - 64), rng.integers(0, HEIGHT - 64)
    img[y0:y0 + 48, x0:x0 + 48] = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, quality=90)


def synthesise(root: Path, n: int) -> list[Path]:
    """n/2 Pittsburgh-shaped and n/2 Tokyo-shaped JPEG paths, written with 2 processes."""
    from real_layouts import TOKYO_YAWS, panorama_id

    jobs: list[tuple[str, int]] = []
    for i in range(n // 2):
        place, view = divmod(i, 24)
        pitch, yaw = divmod(view, 12)
        name = f"{place:06d}_pitch{pitch + 1}_yaw{yaw + 1}.jpg"
        jobs.append((str(root / "pittsburgh" / f"{place // 1000:03d}" / name), i))
    rng = np.random.default_rng(1)
    pano = ""
    for i in range(n - n // 2):
        place, view = divmod(i, 12)
        if view == 0:
            pano = panorama_id(rng)
        jobs.append((str(root / "tokyo" / f"038{14 + place // 500:02d}" / f"{pano}_012_{TOKYO_YAWS[view]:03d}.jpg"),
                     n + i))
    with ProcessPoolExecutor(max_workers=2) as pool:
        list(pool.map(_write, jobs, chunksize=64))
    return [Path(p) for p, _ in jobs]


def _register(root: Path, workers: int, draft: bool = True) -> tuple[float, int]:
    from cityq.pipeline import datasets
    from cityq.store import Store

    store = Store(":memory:")
    datasets.JPEG_DRAFT = draft
    try:
        started = time.perf_counter()
        report = datasets.add_dataset(store, root, "bench", progress=False, workers=workers)
        return report.added / (time.perf_counter() - started), report.added
    finally:
        datasets.JPEG_DRAFT = True
        store.close()


def _decode_rate(paths: list[Path], backend: str, workers: int, device: str = "cpu") -> float:
    import torch

    from cityq.decoding import DEVICE_BATCH, decode_batch

    step = DEVICE_BATCH if device == "cuda" else 512
    decode_batch(paths[:8], SIZE, device, backend=backend, workers=workers)  # warm-up: libraries, CUDA context
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for lo in range(0, len(paths), step):
        decode_batch(paths[lo:lo + step], SIZE, device, backend=backend, workers=workers)
    if device == "cuda":
        torch.cuda.synchronize()
    return len(paths) / (time.perf_counter() - started)


def run(quick: bool) -> list[dict]:
    import sys

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # real_layouts
    n = 600 if quick else 20_000
    rows = []
    with tempfile.TemporaryDirectory(prefix="cityq-bench-decode-") as folder:
        root = Path(folder)
        started = time.perf_counter()
        paths = synthesise(root, n)
        rate = n / (time.perf_counter() - started)
        kib = sum(p.stat().st_size for p in paths) / n / 1024
        rows.append({"name": "synthesise the JPEGs (2 processes)", "value": round(rate, 1), "unit": "images/s",
                     "note": f"{n} synthesised {WIDTH}x{HEIGHT} JPEGs (quality 90, {kib:.0f} KiB)"})
        threads = min(8, os.cpu_count() or 1)
        base, added = _register(root, 1, draft=False)
        rows.append({"name": "dataset add, 1 reading thread, full decode", "value": round(base, 1), "unit": "images/s",
                     "baseline": None, "note": f"{added} images (pitts250k + tokyo247 layouts); as before issue 22"})
        for workers in (1, threads):
            fast, _ = _register(root, workers)
            rows.append({"name": f"dataset add, {workers} reading thread(s), JPEG checked at 1/8 scale",
                         "value": round(fast, 1), "unit": "images/s", "baseline": round(base, 1),
                         "note": f"{fast / base:.2f}x the full-decode 1-thread run" +
                                 (" (the default)" if workers == threads else "")})
        subset = paths[:: max(1, len(paths) // 2000)]  # the 1-thread runs: per-core rates on a sample
        for workers, sample in ((1, subset), (2, paths)):
            pil = _decode_rate(sample, "pil", workers)
            tv = _decode_rate(sample, "torch", workers)
            rows.append({"name": f"decode + squash to {SIZE} px, PIL, {workers} thread(s)", "value": round(pil, 1),
                         "unit": "images/s", "baseline": None, "note": f"{len(sample)} images; the image cache's path"})
            rows.append({"name": f"decode + squash to {SIZE} px, torchvision on the CPU, {workers} thread(s)",
                         "value": round(tv, 1), "unit": "images/s", "baseline": round(pil, 1),
                         "note": f"{tv / pil:.2f}x PIL; {len(sample)} images"})
        if torch.cuda.is_available():
            gpu = _decode_rate(paths, "torch", 4, "cuda")
            rows.append({"name": f"decode + squash to {SIZE} px, nvJPEG on {torch.cuda.get_device_name(0)}",
                         "value": round(gpu, 1), "unit": "images/s", "baseline": None,
                         "note": f"{len(paths)} images, batches of 256, files read by 4 threads"})
        else:
            rows.append({"name": f"decode + squash to {SIZE} px, nvJPEG", "value": "not measured", "unit": "images/s",
                         "note": "no GPU here; on a GPU machine: "
                                 ".venv/bin/python bench/run.py --only decode --no-tests"})
    return rows


if __name__ == "__main__":
    for row in run(quick="--quick" in __import__("sys").argv):
        print(row)
