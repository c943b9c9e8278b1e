"""Checkpoints: one file holding the state_dict and the resolved config, loadable without pickled code.

Format (a plain dict, so `torch.load(weights_only=True)` reads it):
    {"format": "cityq-checkpoint", "version": 1, "arch": str, "num_classes": int,
     "config": {...JSON values...}, "state_dict": {name: tensor}}
A plain state_dict (what `torch.save(model.state_dict(), f)` writes elsewhere) is accepted on
import, as is a dict with a "state_dict" or "model" entry, and DataParallel's "module." prefix.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import torch
from torch import nn

from cityq.errors import CityqError
from cityq.models.registry import create_model

FORMAT = "cityq-checkpoint"
VERSION = 1


def save_checkpoint(path: Path, model: nn.Module, arch: str, num_classes: int, config: dict) -> None:
    """Write atomically: a temp file in the same folder, then rename (a killed save leaves no half file)."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "arch": arch,
        "num_classes": int(num_classes),
        # JSON round trip: only plain values go in, so weights_only loading accepts them.
        "config": json.loads(json.dumps(config, default=str)),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(state_dict, metadata) from our format or a plain state_dict; metadata is {} for plain files."""
    path = Path(path)
    if not path.is_file():
        raise CityqError(f"checkpoint {path} not found; pass the path of a .pt/.pth file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "invalid load key" in str(exc):  # not a pickle at all: random bytes, a text file, ...
            raise CityqError(f"{path} is not a torch checkpoint; pass a file saved with torch.save") from exc
        raise CityqError(
            f"{path} holds pickled code, which cityq refuses to load; save `model.state_dict()` instead"
        ) from exc
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CityqError(f"{path} is not a readable torch checkpoint ({str(exc).splitlines()[0]})") from exc
    if not isinstance(payload, dict):
        raise CityqError(f"{path} holds a {type(payload).__name__}, not a state_dict; save `model.state_dict()`")
    if payload.get("format") == FORMAT:
        meta = {k: v for k, v in payload.items() if k != "state_dict"}
        return payload["state_dict"], meta
    for key in ("state_dict", "model"):
        if isinstance(payload.get(key), dict):
            payload = payload[key]
            break
    state = {k.removeprefix("module."): v for k, v in payload.items()}
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CityqError(f"{path} is not a state_dict (some entries are not tensors)")
    return state, {}


def load_into(
    model: nn.Module, state_dict: dict[str, torch.Tensor], arch: str, source: str = "checkpoint"
) -> nn.Module:
    """Load strictly; a mismatch names the missing and unexpected keys (and shape clashes)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    clashes = [
        f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or clashes:
        parts = []
        for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", clashes)):
            if keys:
                parts.append(f"{label} ({len(keys)}): {', '.join(keys[:6])}{' ...' if len(keys) > 6 else ''}")
        raise CityqError(f"{source} does not fit architecture {arch!r}: " + "; ".join(parts))
    model.load_state_dict(state_dict, strict=True)
    return model


def load_model(path: Path, arch: str | None = None, num_classes: int | None = None) -> tuple[nn.Module, dict]:
    """Build the architecture and load the checkpoint into it; returns (model in eval mode, metadata)."""
    state, meta = read_checkpoint(path)
    arch = arch or meta.get("arch")
    num_classes = num_classes or meta.get("num_classes")
    if arch is None or num_classes is None:
        raise CityqError(f"{path} is a plain state_dict: say which architecture and how many cities it has")
    model = create_model(arch, int(num_classes))
    load_into(model, state, arch, source=str(path))
    return model.eval(), meta
