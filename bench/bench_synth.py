"""Synthetic-city generator throughput: images/s (rendered and written as PNG + label PNG)
at 128 and 224 px, with 1 and 2 worker processes. Goal: >= 100 images/s at 224 px on 2 cores."""

from __future__ import annotations

import tempfile
import time


def _rate(size: int, workers: int, per_city: int) -> tuple[float, float]:
    """(images per wall-clock second, images per CPU second of this process)."""
    from cityq.synth import generate_dataset

    with tempfile.TemporaryDirectory(prefix="cityq-bench-synth-") as folder:
        started, cpu = time.perf_counter(), time.process_time()
        summary = generate_dataset(folder, per_city=per_city, size=size, seed=0, workers=workers, progress=False)
        return (summary["images"] / (time.perf_counter() - started),
                summary["images"] / max(time.process_time() - cpu, 1e-9))


def run(quick: bool) -> list[dict]:
    per_city = 40 if quick else 200
    _rate(64, 1, 2)  # warm caches (noise bank, drawer registry) outside the timings
    rows = []
    for size in (128, 224):
        for workers in (1, 2):
            rate, cpu_rate = _rate(size, workers, per_city)
            if workers == 1:
                # CPU time is what one core gives when the machine is not shared with other work.
                rows.append({"name": f"synth images per CPU-second at {size} px (1 worker)",
                             "value": round(cpu_rate, 1), "unit": "images/cpu-s", "baseline": None,
                             "note": "wall-clock rates on a shared machine understate this"})
            rows.append({
                "name": f"synth images/s at {size} px, {workers} worker{'s' if workers > 1 else ''}",
                "value": round(rate, 1),
                "unit": "images/s",
                "baseline": 100.0 if size == 224 else None,
                "note": f"{2 * per_city} images, default spec, PNG + label PNG written; baseline = the goal",
            })
    return rows


if __name__ == "__main__":
    for row in run(quick=False):
        print(row)
