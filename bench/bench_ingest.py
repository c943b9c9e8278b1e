"""Whole-ingest throughput against Grad-CAM alone: images/s of `ingest_model` (decoding, class
maps, Grad-CAM, upsampling, counts, Zarr and DuckDB) at 112 and 224 px, beside the Grad-CAM-only
rate of the same model and batch in the same run (the goal: the ingest at least 80% of it),
the share of its time spent writing the store, and the bytes each stored mask takes.

The store is built here: synthetic cities, random-initialised models imported in the real
checkpoint format (throughput does not depend on the weights). Segmentation (the `labels`
maps, done once per image and reused by every model) is timed separately.
Run: .venv/bin/python bench/bench_ingest.py [--quick]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import torch

SPLIT = "train"

def _mask_bytes(store, model: str) -> tuple[float, int]:
    zarr_path, n = store.con.execute(
        "SELECT zarr_path, n_images FROM ingests WHERE model = $m", {"m": model}).fetchall()[0]
    folder = store.path / "arrays.zarr" / zarr_path
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and f.name != "zarr.json")
    return size / n, n


def run(quick: bool) -> list[dict]:
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.segment import ensure_segmentation
    from cityq.store import Store, datasets
    from cityq.synth.writer import generate_dataset

    # The train split (60%) is ingested: the most images per drawn image, so that per-image
    # costs, not the fixed ones (loading the model, the first pass), decide the rate.
    per_city = 50 if quick else 400
    results = []
    for size in ((64,) if quick else (112, 224)):
        with tempfile.TemporaryDirectory(prefix="cityq-bench-ingest-") as tmp:
            root = Path(tmp)
            generate_dataset(root / "images", per_city=per_city, size=size, seed=0, workers=2, progress=False)
            with Store.create(root / "store") as store:
                add_dataset(store, root / "images", "synth", progress=False)
                ids = datasets.split_image_ids(store, "synth", SPLIT)
                started = time.perf_counter()
                ensure_segmentation(store, "labels", "synth", ids, size, size, device="cpu", progress=False)
                seg_seconds = time.perf_counter() - started
                results.append({"name": f"segment labels {size}px", "value": round(len(ids) / seg_seconds, 1),
                                "unit": "images/s", "note": f"{len(ids)} images, once per segmenter"})
                for arch in ("resnet18", "vgg11"):
                    results += _ingest_rows(store, root, arch, size, len(ids))
    return results


def _gradcam_only(model, arch: str, size: int, n: int, batch: int) -> float:
    """Images/s of what the ingest cannot avoid: the Grad-CAM passes and the upsampling, on the
    same model, batch size and memory layout, inputs already in memory."""
    from cityq.cams import upsample_cams
    from cityq.models import target_layer
    from cityq.pipeline.gradcam import compute_cams

    fast = model.to(memory_format=torch.channels_last)
    layer = target_layer(fast, arch)
    inputs = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    targets = torch.randint(0, 2, (batch,))
    compute_cams(fast, layer, inputs[:2], targets[:2])  # warm-up
    started = time.perf_counter()
    for lo in range(0, n, batch):
        part = min(batch, n - lo)
        cams, _ = compute_cams(fast, layer, inputs[:part], targets[:part])
        upsample_cams(cams, (size, size))
    return n / (time.perf_counter() - started)


def _ingest_rows(store, root: Path, arch: str, size: int, n_images: int) -> list[dict]:
    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.train import ImportOptions, import_model

    torch.manual_seed(0)
    model = create_model(arch, 2)
    checkpoint = root / f"{arch}.pt"
    save_checkpoint(checkpoint, model, arch, 2, {"img_size": size})
    import_model(store, ImportOptions(arch, checkpoint, arch, "synth", img_size=size, device="cpu"))
    # The baseline is timed just before and just after the ingest, and averaged: on a shared
    # machine the load drifts over minutes, and bracketing cancels a steady drift.
    before = _gradcam_only(model.eval(), arch, size, n_images, batch=64)
    summary = ingest_model(store, arch, IngestOptions(split=SPLIT, device="cpu", progress=False))
    after = _gradcam_only(model.eval(), arch, size, n_images, batch=64)
    core = (before + after) / 2
    per_mask, n = _mask_bytes(store, arch)
    note = (f"{n} images at {size}px, batch 64, CPU threads {torch.get_num_threads()}, "
            f"load {os.getloadavg()[0]:.1f}")
    share = summary.images_per_second / core
    return [
        {"name": f"ingest {arch} {size}px", "value": round(summary.images_per_second, 1), "unit": "images/s",
         "baseline": f"Grad-CAM only {core:.1f} (before {before:.1f}, after {after:.1f})",
         "note": note + f"; {100 * share:.0f}% of Grad-CAM only (goal >= 80%), decoding included"},
        {"name": f"ingest {arch} {size}px store-write share", "value": round(100 * summary.write_share, 1),
         "unit": "%", "note": "goal <= 20% (Zarr chunk + DuckDB rows per block)"},
        {"name": f"ingest {arch} {size}px bytes per mask", "value": round(per_mask, 1), "unit": "bytes",
         "note": "native CAM, float32, zstd; goal <= 2048"},
    ]


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
