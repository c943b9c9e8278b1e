"""Whole-ingest throughput: images/s of `ingest_model` (Grad-CAM + upsampling + counts + Zarr +
DuckDB), the share of its time spent writing the store, and the bytes each stored mask takes.

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


def _mask_bytes(store, model: str) -> tuple[float, int]:
    zarr_path, n = store.con.execute(
        "SELECT zarr_path, n_images FROM ingests WHERE model = $m", {"m": model}).fetchall()[0]
    folder = store.path / "arrays.zarr" / zarr_path
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and f.name != "zarr.json")
    return size / n, n


def run(quick: bool) -> list[dict]:
    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.segment import ensure_segmentation
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store import Store
    from cityq.synth.writer import generate_dataset

    per_city, size = (50, 96) if quick else (500, 128)
    results = []
    with tempfile.TemporaryDirectory(prefix="cityq-bench-ingest-") as tmp:
        root = Path(tmp)
        generate_dataset(root / "images", per_city=per_city, size=size, seed=0, workers=2, progress=False)
        with Store.create(root / "store") as store:
            add_dataset(store, root / "images", "synth", progress=False)
            test_ids = [r[0] for r in store.con.execute(
                "SELECT image_id FROM images WHERE split = 'test' ORDER BY image_id").fetchall()]
            started = time.perf_counter()
            ensure_segmentation(store, "labels", "synth", test_ids, size, size, device="cpu", progress=False)
            seg_seconds = time.perf_counter() - started
            results.append({"name": f"segment labels {size}px", "value": round(len(test_ids) / seg_seconds, 1),
                            "unit": "images/s", "note": f"{len(test_ids)} images, once per segmenter"})
            for arch in ("resnet18", "vgg11", "simple"):
                torch.manual_seed(0)
                checkpoint = root / f"{arch}.pt"
                save_checkpoint(checkpoint, create_model(arch, 2), arch, 2, {"img_size": size})
                import_model(store, ImportOptions(arch, checkpoint, arch, "synth", img_size=size, device="cpu"))
                summary = ingest_model(store, arch, IngestOptions(device="cpu", progress=False))
                per_mask, n = _mask_bytes(store, arch)
                note = (f"{n} images at {size}px, batch 64, CPU threads {torch.get_num_threads()}, "
                        f"load {os.getloadavg()[0]:.1f}")
                results += [
                    {"name": f"ingest {arch}", "value": round(summary.images_per_second, 1), "unit": "images/s",
                     "note": note},
                    {"name": f"ingest {arch} store-write share", "value": round(100 * summary.write_share, 1),
                     "unit": "%", "note": "goal <= 20% (Zarr chunk + DuckDB rows per block)"},
                    {"name": f"ingest {arch} bytes per mask", "value": round(per_mask, 1), "unit": "bytes",
                     "note": "native CAM, float32, zstd; goal <= 2048"},
                ]
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
