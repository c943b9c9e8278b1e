"""Grad-CAM images/s: cityq's batched core against the `grad-cam` package, same model and input.

Results are asserted equal (max |difference| < 1e-4) before anything is timed.
Run: .venv/bin/python bench/bench_gradcam.py [--quick]
"""

from __future__ import annotations

import copy
import os
import sys
import time

import numpy as np
import torch

from cityq.models import create_model, target_layer
from cityq.pipeline.gradcam import gradcam_masks


def _best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def run(quick: bool) -> list[dict]:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    # 96 px: the demo's input size until 2026-11-27 (112 px since); kept so that figures compare across runs.
    size, batch, repeats = 96, 32, (2 if quick else 5)
    results = []
    for arch in ("resnet18", "vgg11", "simple"):
        torch.manual_seed(0)
        model = create_model(arch, 2).eval()
        layer = target_layer(model, arch)
        inputs = torch.randn(batch, 3, size, size)
        targets = torch.randint(0, 2, (batch,))
        ours, _ = gradcam_masks(model, layer, inputs, targets)
        with GradCAM(model, target_layers=[layer]) as cam:
            wanted = [ClassifierOutputTarget(int(t)) for t in targets]
            theirs = cam(inputs, targets=wanted)
            diff = float(np.abs(ours.numpy() - theirs).max())
            assert diff < 1e-4, f"{arch}: results differ by {diff}"
            t_theirs = _best_seconds(lambda: cam(inputs, targets=wanted), repeats)
        # cityq's ingest runs the model in channels_last (see pipeline/ingest.py); grad-cam is
        # timed as a user calls it, on the same model in the default layout.
        fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
        fast_layer, fast_inputs = target_layer(fast, arch), inputs.contiguous(memory_format=torch.channels_last)
        fast_masks, _ = gradcam_masks(fast, fast_layer, fast_inputs, targets)
        diff = max(diff, float(np.abs(fast_masks.numpy() - theirs).max()))
        assert diff < 1e-4, f"{arch}: channels_last results differ by {diff}"
        t_ours = _best_seconds(lambda: gradcam_masks(fast, fast_layer, fast_inputs, targets), repeats)
        note = (f"channels_last; {size}px, batch {batch}, CPU threads {torch.get_num_threads()}, "
                f"load {os.getloadavg()[0]:.1f}, max diff {diff:.1e}")
        results += [
            {
                "name": f"gradcam {arch} cityq",
                "value": round(batch / t_ours, 1),
                "unit": "images/s",
                "baseline": round(batch / t_theirs, 1),
                "note": note + "; baseline = grad-cam 1.5",
            },
            {
                "name": f"gradcam {arch} speedup",
                "value": round(t_theirs / t_ours, 2),
                "unit": "x",
                "note": "goal >= 3x",
            },
        ]
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
