"""bench/gpu.sh is run on a GPU machine only now and then; this runs the same code (bench/gpu.py)
on the CPU at a tiny size, so that it cannot rot between those runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_gpu_benchmark_runs_tiny_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--tiny", "--device", "cpu",
                             "--out", str(out)], capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["name"]: row for row in json.loads(out.read_text())["rows"]}
    expected = [f"gradcam {a} {p}" for a in ("resnet18", "vgg11") for p in ("fp32", "bf16")]
    expected += ["ingest resnet18 cold (decoding)", "ingest resnet18 warm (image cache)",
                 "segment mit-semseg resnet50dilated-ppm", "segment segformer-b0"]
    expected += [f"train {a} {p}" for a in ("resnet18", "vgg11") for p in ("fp32", "bf16")]
    expected += ["decode jpeg 64x48 to 32 px"]
    assert sorted(rows) == sorted(expected)
    assert all(row["value"] > 0 for row in rows.values())
    for arch in ("resnet18", "vgg11"):  # the numbers are grad-cam's before any is timed
        diff = float(re.search(r"max abs diff vs grad-cam ([0-9.e+-]+)", rows[f"gradcam {arch} fp32"]["note"])[1])
        assert diff < 1e-4
    assert "| gradcam resnet18 fp32 |" in result.stdout  # the Markdown table for docs/benchmarks.md
    # the torch path on the CPU is within one grey level of PIL (tests/test_decoding.py)
    assert "vs PIL max abs diff 0," in rows["decode jpeg 64x48 to 32 px"]["note"] or \
        "vs PIL max abs diff 1," in rows["decode jpeg 64x48 to 32 px"]["note"]


def test_the_gpu_benchmark_says_clearly_when_there_is_no_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        return
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "gpu.py"), "--out", str(tmp_path / "x.json")],
                            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=300)
    assert result.returncode == 2 and result.stderr.startswith("error: no CUDA device")
