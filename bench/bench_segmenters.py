"""Images per second of each segmenter kind at 224 px output, on this machine's device.

Weights are random (nothing may be downloaded); speed does not depend on their values. The
images are 224x224 RGB, so mit-semseg runs one scale at 224 (its default: the image's own
short side); SegFormer runs at its processor's 512x512, as an ADE20K folder is configured.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cityq.device import resolve_device
from cityq.segmenters import ImageBatch
from cityq.segmenters.labels import LabelSegmenter
from cityq.segmenters.mit_semseg import MitSemsegSegmenter, build_mit_semseg
from cityq.segmenters.small_net import SmallUNet, TrainedSegmenter

SIZE = 224


def _time(segmenter, batch: ImageBatch, repeats: int) -> float:
    segmenter.segment(ImageBatch(batch.images[:1], batch.label_paths[:1]), SIZE, SIZE)  # warm-up
    if segmenter.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        segmenter.segment(batch, SIZE, SIZE)
    if segmenter.device.type == "cuda":
        torch.cuda.synchronize()
    return repeats * len(batch.images) / (time.perf_counter() - start)


def _segmenters(device: torch.device):
    yield "labels", LabelSegmenter(device)
    for arch in ("resnet50dilated-ppm_deepsup", "resnet50-upernet"):
        encoder, decoder = build_mit_semseg(*arch.split("-"))
        padding = 8 if "dilated" in arch else 32
        yield f"mit-semseg {arch}", MitSemsegSegmenter(encoder, decoder, padding, None, device, {})
    yield "trained (U-Net, 96 px)", TrainedSegmenter(SmallUNet(12, 16), list(range(12)), 96, device, {})
    try:
        import transformers

        from cityq.segmenters.segformer import HuggingFaceSegmenter

        model = transformers.SegformerForSemanticSegmentation(transformers.SegformerConfig(num_labels=150))
        yield "segformer b0 (512 px)", HuggingFaceSegmenter(model, transformers.SegformerImageProcessor(), device, {})
    except ImportError:
        pass


def run(quick: bool) -> list[dict]:
    device = resolve_device("auto")
    n = 2 if quick else 8
    rng = np.random.default_rng(0)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        images, labels = [], []
        for i in range(n):
            images.append(rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8))
            path = Path(tmp) / f"{i}.labels.png"
            Image.fromarray(rng.integers(0, 150, (SIZE, SIZE), dtype=np.uint8)).save(path)
            labels.append(path)
        batch = ImageBatch(images, labels)
        for name, segmenter in _segmenters(device):
            with torch.no_grad():
                rate = _time(segmenter, batch, repeats=1 if quick else 2)
            results.append({"name": f"segment {name}", "value": round(rate, 2), "unit": "images/s",
                            "note": f"{SIZE}x{SIZE} in and out, batch {n}, {device.type}, random weights"})
    return results


if __name__ == "__main__":
    for row in run(quick=False):
        print(row)
