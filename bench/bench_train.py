"""Training images/s per architecture and input size on this machine (fwd + bwd + fused Adam,
channels_last, as `cityq train` runs it), in fp32 (the baseline) and with bf16 autocast (what
`--precision auto` picks on a CPU with native bf16).

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

from cityq.device import cpu_has_native_bf16
from cityq.models import create_model


def train_rate(arch: str, size: int, batch: int, steps: int, precision: str = "fp32") -> tuple[float, float]:
    torch.manual_seed(0)
    model = create_model(arch, 2).train().to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    inputs = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 2, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
            loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
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
    precisions = ("fp32", "bf16") if cpu_has_native_bf16() else ("fp32",)
    results = []
    for arch in ("vgg11", "resnet18", "simple", "simpler"):
        for size in sizes:
            fp32_rate = None
            for precision in precisions:
                wall_rate, cpu_rate = train_rate(arch, size, batch, steps, precision)
                fp32_rate = fp32_rate or wall_rate
                results.append({
                    "name": f"train {arch} {size}px {precision}", "value": round(wall_rate, 1), "unit": "images/s",
                    **({"baseline": round(fp32_rate, 1)} if precision != "fp32" else {}),
                    "note": f"batch {batch}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}; "
                            f"uncontended estimate {cpu_rate:.1f} images/s"
                            + (f"; {wall_rate / fp32_rate:.2f}x fp32" if precision != "fp32" else ""),
                })
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row, flush=True)
