"""Choosing the torch device: 'auto' takes a GPU when there is one."""

from __future__ import annotations

import torch

from cityq.errors import CityqError


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
