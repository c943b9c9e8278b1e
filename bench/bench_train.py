"""Training images/s per architecture and input size on this machine (fwd + bwd + fused Adam).

Besides wall-clock images/s it reports a CPU-time estimate (images per CPU-second x threads),
which is what the machine would do without other processes competing for its cores.
Run: .venv/bin/python bench/bench_train.py [--quick]
"""

from __future__ import annotations

import os
import sys
import time

import torch
import torch.nn.functional as F

from cityq.models import create_model


def train_rate(arch: str, size: int, batch: int, steps: int) -> tuple[float, float]:
    torch.manual_seed(0)
    model = create_model(arch, 2).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    inputs, labels = torch.randn(batch, 3, size, size), torch.randint(0, 2, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), labels).backward()
        optimizer.step()

    step()  # warm-up
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    images = batch * steps
    return images / wall, images / (cpu / torch.get_num_threads())


def run(quick: bool) -> list[dict]:
    sizes = (64,) if quick else (64, 96, 128)
    batch, steps = 32, (2 if quick else 4)
    results = []
    for arch in ("vgg11", "resnet18", "simple", "simpler"):
        for size in sizes:
            wall_rate, cpu_rate = train_rate(arch, size, batch, steps)
            results.append({
                "name": f"train {arch} {size}px", "value": round(wall_rate, 1), "unit": "images/s",
                "note": f"batch {batch}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}; "
                        f"uncontended estimate {cpu_rate:.1f} images/s",
            })
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row, flush=True)
