"""Readers while a writer works: the wait of a reader polling every 0.2 s during a real ingest.

A `cityq ingest` of a ResNet18 runs as its own process (synthetic cities at 112 px, blocks of
64 images); meanwhile this process opens the store read-only every 0.2 s, runs a query and
closes it, and records how long each took from asking to answer. The baseline is the same
reader on the same store with no writer (in the same run). The writer holds the file only
while it reads a block's inputs and commits the block (cityq/store/core.py, `release`).
Run: .venv/bin/python bench/bench_readers.py [--quick]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

POLL = 0.2  # seconds between a reader's queries
QUERY = "SELECT count(*) AS blocks FROM mask_blocks"


def _poll(store: Path, until) -> list[float]:
    from cityq.store import Store

    waits = []
    while not until():
        started = time.perf_counter()
        with Store(store, read_only=True, wait_seconds=120) as reader:
            reader.sql(QUERY)
        waits.append(time.perf_counter() - started)
        time.sleep(POLL)
    return waits


def _prepare(root: Path, per_city: int, size: int) -> Path:
    import torch

    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store import Store
    from cityq.synth.writer import generate_dataset

    generate_dataset(root / "images", per_city=per_city, size=size, seed=0, workers=2, progress=False)
    torch.manual_seed(0)
    checkpoint = root / "resnet18.pt"
    save_checkpoint(checkpoint, create_model("resnet18", 2), "resnet18", 2, {"img_size": size})
    with Store.create(root / "store") as store:
        add_dataset(store, root / "images", "synth", progress=False)
        import_model(store, ImportOptions("resnet18", checkpoint, "resnet18", "synth", img_size=size, device="cpu"))
    return root / "store"


def _stats(name: str, waits: list[float], note: str, baseline: str = "") -> list[dict]:
    values = np.array(waits)
    rows = [{"name": f"{name}: reads", "value": len(values), "unit": "queries", "note": note}]
    for label, q in (("p50", 50), ("p95", 95), ("max", 100)):
        rows.append({"name": f"{name}: wait {label}", "value": round(float(np.percentile(values, q)), 3),
                     "unit": "s", "baseline": baseline, "note": note})
    return rows


def run(quick: bool) -> list[dict]:
    per_city, size = (120, 112) if quick else (1000, 112)
    with tempfile.TemporaryDirectory(prefix="cityq-bench-readers-") as tmp:
        store = _prepare(Path(tmp), per_city, size)
        idle_until = time.monotonic() + (3 if quick else 10)
        idle = _poll(store, lambda: time.monotonic() > idle_until)
        args = ["ingest", "--model", "resnet18", "--split", "train", "--block-size", "64",
                "--device", "cpu", "--store", str(store)]
        writer = subprocess.Popen([sys.executable, "-c", "from cityq.cli import main; main()", *args],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        started = time.perf_counter()
        busy = _poll(store, lambda: writer.poll() is not None)
        seconds = time.perf_counter() - started
        if writer.wait() != 0:
            raise RuntimeError(f"the ingest failed: {writer.stderr.read()}")
        n_train = round(per_city * 2 * 0.6)
        note = f"ResNet18 ingest of {n_train} images at {size} px, blocks of 64, {seconds:.0f} s"
        idle_p95 = f"idle p95 {np.percentile(idle, 95):.3f} s"
        return _stats("reader, no writer", idle, "the same reader alone") + _stats(
            "reader during an ingest", busy, note, baseline=idle_p95)


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
