"""The GPU benchmark, one command: everything the issue asks to measure on a GPU, one table out.

    bench/gpu.sh                    # on a GPU machine (installs what is missing, then this)
    .venv/bin/python bench/gpu.py --tiny --device cpu   # here: the same code at a tiny size

Measures, on one device, each against its baseline in the same run:
- Grad-CAM (cityq's batched core: forward, one autograd.grad, CAMs, full-size upsample) for
  ResNet18 and VGG11 at 224 px, batch 256, fp32 and bf16 autocast; the baseline is the
  `grad-cam` package (fp32) on the same model, input and device (results compared first).
- The whole ingest (`cityq ingest`: image cache, segmentation maps, Grad-CAM, counts, Zarr
  and DuckDB writes) of ResNet18 at 224 px on a synthetic store, cold (decoding included) and
  warm (`--force` on a filled image cache), against the Grad-CAM-only rate above.
- Segmentation: mit-semseg ResNet50-dilated + PPM and SegFormer-B0 (random weights: speed
  does not depend on them), 224 px in and out.
- Training: the paper-scale demo's configuration (224 px, batch 64, fp32 and bf16 autocast)
  for VGG11 and ResNet18, images/s of forward + backward + Adam.
- Decoding: 640x480 JPEGs decoded and squashed to 224 px on the device (nvJPEG, batches of
  256: `cityq.decoding.decode_batch`) against PIL on every CPU core (the image cache's
  reference), after comparing the two paths' pixels (docs/real-data.md states the bound).
Goals on an H100/H200-class GPU: Grad-CAM 10,000 images/s for ResNet18, whole ingest 5,000.
Writes the table to stdout (Markdown, for docs/benchmarks.md) and JSON to --out.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Size:
    """How big each measurement is: the GPU run, or the tiny CPU run that keeps this code alive."""

    img: int = 224  # input side, px
    batch: int = 256  # Grad-CAM batch
    steps: int = 10  # timed batches per Grad-CAM / training measurement
    train_batch: int = 64
    ingest_images: int = 8192  # per city: test split = 20% of them
    seg_batch: int = 32
    seg_steps: int = 5
    jpegs: int = 4096  # decoded per decoding measurement
    jpeg_size: tuple[int, int] = (640, 480)  # the real data sets' images


TINY = Size(img=32, batch=4, steps=1, train_batch=4, ingest_images=20, seg_batch=2, seg_steps=1, jpegs=8,
            jpeg_size=(64, 48))


@dataclass
class Row:
    name: str
    value: float
    unit: str
    baseline: str = ""
    note: str = ""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _rate(fn, items: int, steps: int, device: torch.device) -> float:
    fn()  # warm-up (cuDNN autotuning, allocator)
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        fn()
    _sync(device)
    return items * steps / (time.perf_counter() - started)


def gradcam_rows(size: Size, device: torch.device) -> list[Row]:
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from cityq.cams import upsample_cams
    from cityq.models import create_model, target_layer
    from cityq.pipeline.gradcam import compute_cams

    rows = []
    for arch in ("resnet18", "vgg11"):
        torch.manual_seed(0)
        model = create_model(arch, 2).eval().to(device)
        layer = target_layer(model, arch)
        inputs = torch.randn(size.batch, 3, size.img, size.img, device=device)
        targets = torch.randint(0, 2, (size.batch,), device=device)
        wanted = [ClassifierOutputTarget(int(t)) for t in targets]
        with GradCAM(model, target_layers=[layer]) as reference:
            theirs = reference(inputs, targets=wanted)
            theirs_rate = _rate(lambda: reference(inputs, targets=wanted), size.batch, size.steps, device)
        fast = copy.deepcopy(model).to(memory_format=torch.channels_last)
        fast_layer = target_layer(fast, arch)
        fast_inputs = inputs.contiguous(memory_format=torch.channels_last)

        def ours(precision: str):
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                cams, _ = compute_cams(fast, fast_layer, fast_inputs, targets)
            return upsample_cams(cams, (size.img, size.img))

        diff = float(np.abs(ours("fp32").cpu().numpy() - theirs).max())
        bf16_diff = float((ours("bf16") - ours("fp32")).abs().max())
        for precision in ("fp32", "bf16"):
            rate = _rate(lambda: ours(precision), size.batch, size.steps, device)
            note = (f"{size.img} px, batch {size.batch}, channels_last; max abs diff vs grad-cam {diff:.1e}"
                    if precision == "fp32" else f"bf16 autocast; max abs diff vs fp32 masks {bf16_diff:.2e}")
            rows.append(Row(f"gradcam {arch} {precision}", round(rate, 1), "images/s",
                            f"grad-cam 1.5 fp32: {theirs_rate:.1f}", note))
    return rows


def _synthetic_store(root: Path, size: Size):
    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store import Store
    from cityq.synth.writer import generate_dataset

    generate_dataset(root / "images", per_city=size.ingest_images, size=size.img, seed=0,
                     workers=max(1, (os.cpu_count() or 2) - 1), progress=False)
    torch.manual_seed(0)
    checkpoint = root / "resnet18.pt"
    save_checkpoint(checkpoint, create_model("resnet18", 2), "resnet18", 2, {"img_size": size.img})
    store = Store.create(root / "store")
    add_dataset(store, root / "images", "synth", progress=False)
    import_model(store, ImportOptions("resnet18", checkpoint, "resnet18", "synth", img_size=size.img, device="cpu"))
    return store


def ingest_rows(size: Size, device: torch.device, gradcam_rate: float | None) -> list[Row]:
    from cityq.pipeline.ingest import IngestOptions, ingest_model

    rows = []
    with tempfile.TemporaryDirectory(prefix="cityq-gpu-bench-") as tmp:
        store = _synthetic_store(Path(tmp), size)
        try:
            block = max(size.batch, 1024)
            options = IngestOptions(device=str(device), batch_size=size.batch, block_size=block, progress=False)
            baseline = f"Grad-CAM only: {gradcam_rate:.1f}" if gradcam_rate else ""
            cold = ingest_model(store, "resnet18", options)
            warm = ingest_model(store, "resnet18", IngestOptions(**{**asdict(options), "force": True}))
            for label, summary in (("cold (decoding)", cold), ("warm (image cache)", warm)):
                share = 100 * summary.write_share
                rows.append(Row(f"ingest resnet18 {label}", round(summary.images_per_second, 1), "images/s", baseline,
                                f"{summary.images} images at {size.img} px, batch {size.batch}, blocks of {block}; "
                                f"store writes {share:.0f}% of the time"))
        finally:
            store.close()
    return rows


def segment_rows(size: Size, device: torch.device) -> list[Row]:
    from cityq.segmenters import ImageBatch
    from cityq.segmenters.mit_semseg import MitSemsegSegmenter, build_mit_semseg

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (size.img, size.img, 3), dtype=np.uint8) for _ in range(size.seg_batch)]
    batch = ImageBatch(images, [None] * len(images))
    segmenters = []
    encoder, decoder = build_mit_semseg("resnet50dilated", "ppm_deepsup")
    segmenters.append(("mit-semseg resnet50dilated-ppm", MitSemsegSegmenter(encoder, decoder, 8, None, device, {})))
    import transformers

    from cityq.segmenters.segformer import HuggingFaceSegmenter

    segformer = transformers.SegformerForSemanticSegmentation(transformers.SegformerConfig(num_labels=150))
    processor = transformers.SegformerImageProcessor(size={"height": size.img, "width": size.img})
    segmenters.append(("segformer-b0", HuggingFaceSegmenter(segformer, processor, device, {})))
    rows = []
    for name, segmenter in segmenters:
        with torch.no_grad():
            rate = _rate(lambda: segmenter.segment(batch, size.img, size.img), size.seg_batch, size.seg_steps, device)
        rows.append(Row(f"segment {name}", round(rate, 1), "images/s", "",
                        f"{size.img} px in and out, batch {size.seg_batch}, random weights"))
    return rows


def train_rows(size: Size, device: torch.device) -> list[Row]:
    import torch.nn.functional as F

    from cityq.models import create_model

    rows = []
    for arch in ("resnet18", "vgg11"):
        fp32 = None
        for precision in ("fp32", "bf16"):
            torch.manual_seed(0)
            model = create_model(arch, 2).train().to(device, memory_format=torch.channels_last)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
            inputs = torch.randn(size.train_batch, 3, size.img, size.img, device=device)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
            labels = torch.randint(0, 2, (size.train_batch,), device=device)

            def step():
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                    loss = F.cross_entropy(model(inputs), labels)
                loss.backward()
                optimizer.step()

            rate = _rate(step, size.train_batch, size.steps, device)
            fp32 = fp32 or rate
            rows.append(Row(f"train {arch} {precision}", round(rate, 1), "images/s",
                            "" if precision == "fp32" else f"fp32: {fp32:.1f}",
                            f"paper-scale demo: {size.img} px, batch {size.train_batch}, Adam, channels_last"))
    return rows


def decode_rows(size: Size, device: torch.device) -> list[Row]:
    from PIL import Image

    from cityq.decoding import decode_batch

    width, height = size.jpeg_size
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([(x * 0.3) % 256, (y * 0.5) % 256, ((x + y) * 0.2) % 256], -1)
    with tempfile.TemporaryDirectory(prefix="cityq-gpu-jpegs-") as tmp:
        paths = []
        for k in range(size.jpegs):  # street-photo-like: gradients, hard-edged boxes, noise
            img = base + rng.normal(0, 6, base.shape)
            for _ in range(8):
                x0, y0 = rng.integers(0, width - 4), rng.integers(0, height - 4)
                img[y0:y0 + rng.integers(2, height // 3), x0:x0 + rng.integers(2, width // 3)] = rng.integers(0, 256, 3)
            paths.append(Path(tmp) / f"{k:05d}.jpg")
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(paths[-1], quality=90)
        sample = paths[:64]
        reference = decode_batch(sample, size.img, backend="pil").int()
        ours = decode_batch(sample, size.img, device, backend="torch").cpu().int()
        diff = (reference - ours).abs()
        cores = os.cpu_count() or 1
        pil = _rate(lambda: decode_batch(paths, size.img, backend="pil", workers=cores), len(paths), 1,
                    torch.device("cpu"))
        rate = _rate(lambda: decode_batch(paths, size.img, device, backend="torch", workers=4), len(paths),
                     size.steps, device)
    return [Row(f"decode jpeg {width}x{height} to {size.img} px", round(rate, 1), "images/s",
                f"PIL on {cores} CPU threads: {pil:.1f}",
                f"{len(paths)} JPEGs (quality 90) on {device.type}; vs PIL max abs diff {int(diff.max())}, "
                f"mean {float(diff.float().mean()):.3f} grey levels")]


def markdown(rows: list[Row], device: torch.device) -> str:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    lines = [f"Device: {name}; torch {torch.__version__}; {os.cpu_count()} CPU cores", "",
             "| measurement | value | unit | baseline (same run) | note |", "|---|---|---|---|---|"]
    lines += [f"| {r.name} | {r.value:g} | {r.unit} | {r.baseline} | {r.note} |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes: a smoke run of this script on a CPU")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "gpu.json", help="JSON results")
    parser.add_argument("--only", default="gradcam,ingest,segment,train,decode",
                        help="comma list of the parts to run")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("error: no CUDA device here; run with --device cpu --tiny for a smoke run", file=sys.stderr)
        return 2
    size = TINY if args.tiny else Size()
    parts = set(args.only.split(","))
    rows: list[Row] = []
    if "gradcam" in parts:
        rows += gradcam_rows(size, device)
    if "ingest" in parts:
        core = next((r.value for r in rows if r.name == "gradcam resnet18 fp32"), None)
        rows += ingest_rows(size, device, core)
    if "segment" in parts:
        rows += segment_rows(size, device)
    if "train" in parts:
        rows += train_rows(size, device)
    if "decode" in parts:
        rows += decode_rows(size, device)
    table = markdown(rows, device)
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": str(device), "size": asdict(size), "rows": [asdict(r) for r in rows],
                                    "markdown": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
