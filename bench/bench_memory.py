"""Peak memory against dataset size: `cityq train --epochs 1` and `cityq ingest` at N and 3N
images (224 px), each command in its own process, peak RSS from the kernel (wait4's ru_maxrss).

The goal (issue 20): the growth from N to 3N stays under 10% of the decoded size of the extra
2N images (2N x 3 x 224 x 224 bytes): memory depends on the batch, not on the dataset. The
baseline in the same run is that decoded size, what a cache holding every image in memory
(cityq before this change) would have added.
Run: .venv/bin/python bench/bench_memory.py [--quick]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZE = 224
ARCH = "resnet18"


def _peak_rss_mb(args: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, seconds) of one cityq command in its own process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", "from cityq.cli import main; main()", *args],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               env={**os.environ, "CITYQ_PROGRESS": "0", "CITYQ_BOUND_HEAP": "1"})
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"cityq {' '.join(args)} failed: {process.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, seconds


def _measure(root: Path, per_city: int) -> dict[str, tuple[float, float]]:
    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.synth.writer import generate_dataset

    generate_dataset(root / "images", per_city=per_city, size=SIZE, seed=0, workers=2, progress=False)
    store = str(root / "store")
    cityq = ["--store", store]
    subprocess.run([sys.executable, "-c", "from cityq.cli import main; main()", "dataset", "add", str(root / "images"),
                    "--name", "synth", *cityq], check=True, capture_output=True)
    out = {"train": _peak_rss_mb(["train", "--dataset", "synth", "--arch", ARCH, "--epochs", "1",
                                  "--img-size", str(SIZE), "--batch-size", "32", "--device", "cpu", *cityq])}
    import torch

    torch.manual_seed(0)
    checkpoint = root / "model.pt"
    save_checkpoint(checkpoint, create_model(ARCH, 2), ARCH, 2, {"img_size": SIZE})
    subprocess.run([sys.executable, "-c", "from cityq.cli import main; main()", "model", "import", "--arch", ARCH,
                    "--checkpoint", str(checkpoint), "--name", "imported", "--dataset", "synth",
                    "--img-size", str(SIZE), "--device", "cpu", *cityq], check=True, capture_output=True)
    # The train split's images (60%); the train run filled the image cache: drop it, so that
    # the ingest's decoding is measured too.
    for path in (root / "store" / "cache").glob("images-*"):
        path.unlink()
    out["ingest"] = _peak_rss_mb(["ingest", "--model", "imported", "--split", "train", "--block-size", "64",
                                  "--device", "cpu", *cityq])
    return out


def run(quick: bool) -> list[dict]:
    n = 60 if quick else 300  # images per city at N; 3N has three times as many
    results = []
    with tempfile.TemporaryDirectory(prefix="cityq-bench-memory-") as tmp:
        small = _measure(Path(tmp) / "n", n)
        large = _measure(Path(tmp) / "3n", 3 * n)
    extra_mb = 2 * (2 * n) * 3 * SIZE * SIZE / 2**20  # 2N more images (two cities), decoded
    for command in ("train", "ingest"):
        (rss_n, secs_n), (rss_3n, secs_3n) = small[command], large[command]
        growth = rss_3n - rss_n
        share = growth / extra_mb
        results.append({
            "name": f"{command}: peak RSS growth N -> 3N", "value": round(growth, 1), "unit": "MB",
            "baseline": f"decoded extra 2N images: {extra_mb:.0f} MB",
            "note": f"N = {2 * n} images at {SIZE} px: {rss_n:.0f} MB ({secs_n:.0f} s) -> 3N: {rss_3n:.0f} MB "
                    f"({secs_3n:.0f} s); growth {100 * share:.1f}% of the extra decoded size (goal < 10%)",
        })
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row, flush=True)
