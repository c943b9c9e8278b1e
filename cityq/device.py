"""Choosing the torch device: 'auto' takes a GPU when there is one."""

from __future__ import annotations

import torch

from cityq.errors import CityqError

PRECISIONS = ("auto", "fp32", "bf16")


def resolve_precision(precision: str, device: torch.device) -> str:
    """fp32 or bf16: "auto" is bf16 where the device computes it natively (a GPU that supports
    it; a CPU with AVX512-BF16 or AMX, which oneDNN uses), fp32 elsewhere, where bf16 is emulated
    and slower."""
    name = precision.strip().lower()
    if name not in PRECISIONS:
        raise CityqError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if cpu_has_native_bf16() else "fp32"


def cpu_has_native_bf16() -> bool:
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if isinstance(device, torch.device):
        return device
    name = device.strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise CityqError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise CityqError(f"unknown device {device!r}; use auto, cpu or cuda") from None
