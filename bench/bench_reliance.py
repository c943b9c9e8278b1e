"""Reliance by removal (issue 17): removed images per second (redraw and impute, at 112 and 224
px), model evaluations per second, and what the removal cache saves a second model.

- removed images/s: each (image, object) pair makes two images, the image without the object
  and its control; objects: every class the image shows that the method can remove (redraw:
  all but the backdrop; impute: all, the backdrop's large masks included).
- evaluations/s: the forward pass `cityq reliance` runs (batch 64, channels_last, softmax).
- first vs second model: `measure_reliance` end to end on one store, for two models of the same
  architecture: the first makes every removed image, the second reads them from the cache.
  Goal: the second at least 5x cheaper.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def _draw_rate(size: int, per_city: int) -> float:
    """Scenes drawn again per second with nothing left out: the unit a redraw removal costs."""
    from cityq.synth import generate_dataset
    from cityq.synth.replay import Replayer, SynthRecord

    with tempfile.TemporaryDirectory(prefix="cityq-bench-reliance-") as folder:
        generate_dataset(folder, per_city=per_city, size=size, seed=0, progress=False)
        replayer = Replayer(SynthRecord.read(folder))
        paths = sorted(p.relative_to(folder).as_posix() for p in Path(folder).rglob("*.png")
                       if not p.name.endswith(".labels.png"))
        for rel in paths:  # finds each image's placement attempt, as the first removal does
            replayer.draw(rel)
        started = time.perf_counter()
        for rel in paths:
            replayer.draw(rel)
        return len(paths) / (time.perf_counter() - started)


def _removal_rate(method: str, size: int, per_city: int) -> tuple[float, int]:
    from PIL import Image

    from cityq.objects import object_index
    from cityq.reliance.variants import Remover
    from cityq.synth import generate_dataset
    from cityq.synth.replay import BACKDROP, Replayer, SynthRecord

    backdrop = {object_index(n) for n in BACKDROP}
    with tempfile.TemporaryDirectory(prefix="cityq-bench-reliance-") as folder:
        generate_dataset(folder, per_city=per_city, size=size, seed=0, progress=False)
        root = Path(folder)
        remover = Remover(method, size, replayer=Replayer(SynthRecord.read(root)))
        jobs = []
        for path in sorted(root.rglob("*.png")):
            if path.name.endswith(".labels.png"):
                continue
            rgb = np.asarray(Image.open(path))
            labels = np.asarray(Image.open(path.with_name(path.stem + ".labels.png")))
            objects = [int(k) for k in np.unique(labels) if method != "redraw" or int(k) not in backdrop]
            jobs.append((path.relative_to(root).as_posix(), rgb, labels, objects))
        started = time.perf_counter()
        pairs = sum(len(remover.remove(rel, rgb, labels, objects, stored=rgb)) for rel, rgb, labels, objects in jobs)
        return 2 * pairs / (time.perf_counter() - started), pairs


def _evaluation_rate(arch: str, size: int, n: int) -> float:
    import torch

    from cityq.models.registry import create_model
    from cityq.pipeline.reliance import evaluate

    network = create_model(arch, 2).eval().to(memory_format=torch.channels_last)
    images = np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    targets = np.zeros(n, np.int64)
    evaluate(network, images[:8], targets[:8], torch.device("cpu"), 64)  # warm up
    started = time.perf_counter()
    evaluate(network, images, targets, torch.device("cpu"), 64)
    return n / (time.perf_counter() - started)


def _first_and_second(method: str, per_city: int, size: int, arch: str):
    import torch

    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.reliance import RelianceOptions, measure_reliance
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store import Store
    from cityq.synth import generate_dataset

    with tempfile.TemporaryDirectory(prefix="cityq-bench-reliance-") as folder:
        root = Path(folder)
        generate_dataset(root / "images", per_city=per_city, size=size, seed=0, progress=False)
        with Store.create(root / "store") as store:
            add_dataset(store, root / "images", "bench", progress=False)
            for seed in (0, 1):
                torch.manual_seed(seed)
                weights = root / f"{arch}-{seed}.pt"
                save_checkpoint(weights, create_model(arch, 2), arch, 2, {"img_size": size})
                import_model(store, ImportOptions(arch, weights, f"{arch}-s{seed}", "bench", img_size=size,
                                                  device="cpu"))
            options = RelianceOptions(method=method, device="cpu", progress=False)
            # Segment (labels) outside the timing: both models need it, the first would pay it.
            from cityq.pipeline.segment import ensure_segmentation
            from cityq.store.datasets import split_image_ids

            ensure_segmentation(store, "labels", "bench", split_image_ids(store, "bench", "test").tolist(), size, size,
                                device="cpu", progress=False)
            first = measure_reliance(store, f"{arch}-s0", options)
            second = measure_reliance(store, f"{arch}-s1", options)
            assert second.computed == 0 and second.cached == first.pairs
            return first, second


def run(quick: bool) -> list[dict]:
    rows = []
    per_city = 3 if quick else 10
    for size in (112, 224):
        rows.append({"name": f"scene draws/s, {size} px (baseline: what one redraw costs)",
                     "value": round(_draw_rate(size, per_city), 1), "unit": "images/s", "baseline": None,
                     "note": "the kept placement attempt only, nothing left out, no PNG"})
        for method in ("redraw", "impute"):
            rate, pairs = _removal_rate(method, size, per_city)
            rows.append({"name": f"removed images/s, {method}, {size} px", "value": round(rate, 1),
                         "unit": "images/s", "baseline": None,
                         "note": f"{pairs} (image, object) pairs x (removal + control), {2 * per_city} scenes"})
    for arch in ("vgg11", "resnet18", "simple"):
        for size in (112, 224):
            rate = _evaluation_rate(arch, size, 64 if quick else 256)
            rows.append({"name": f"model evaluations/s, {arch}, {size} px", "value": round(rate, 1),
                         "unit": "images/s", "baseline": None, "note": "batch 64, channels_last, CPU"})
    for method, size in (("redraw", 112), ("impute", 112), ("impute", 224)):
        first, second = _first_and_second(method, 15 if quick else 60, size, "resnet18")
        rows.append({"name": f"reliance, second model vs first, whole run ({method}, resnet18, {size} px)",
                     "value": round(first.seconds / second.seconds, 2), "unit": "x cheaper", "baseline": 5.0,
                     "note": f"first {first.seconds:.1f} s (evaluating {first.eval_seconds:.1f} s), second "
                             f"{second.seconds:.1f} s (evaluating {second.eval_seconds:.1f} s), {first.pairs} pairs, "
                             f"{first.evaluations} evaluations; baseline = the goal"})
        rows.append({"name": f"reliance, removed images for a second model: cache read vs made ({method}, {size} px)",
                     "value": round(first.removal_seconds / max(second.cache_seconds, 1e-9), 1),
                     "unit": "x cheaper", "baseline": 5.0,
                     "note": f"made {first.removal_seconds:.2f} s, read {second.cache_seconds:.2f} s"})
    return rows


if __name__ == "__main__":
    for row in run(quick=False):
        print(row)
