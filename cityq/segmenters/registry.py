"""One interface for every segmenter, and a registry of segmenter kinds keyed by name."""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from cityq.device import resolve_device
from cityq.errors import CityqError
from cityq.objects import N_CLASSES


@dataclass
class ImageBatch:
    """What a segmenter sees: decoded images at their native size, and their label maps."""

    images: list[np.ndarray]  # H x W x 3 uint8 RGB, native size (sizes may differ)
    label_paths: list[Path | None] = field(default_factory=list)  # absolute; only `labels` reads them


@dataclass(frozen=True)
class SegmenterRecord:
    """A row of the `segmenters` table, enough to rebuild the segmenter."""

    name: str
    kind: str
    path: str | None = None  # absolute, or relative to the store directory
    config: dict = field(default_factory=dict)

    def resolved_path(self, store_root: Path | None) -> Path | None:
        if self.path is None:
            return None
        p = Path(self.path)
        return p if p.is_absolute() or store_root is None else Path(store_root) / p


class Segmenter(ABC):
    """Images in, (B, H, W) uint8 maps of 0-based ADE20K-150 indices out, on `self.device`."""

    device: torch.device = torch.device("cpu")

    @abstractmethod
    def segment(self, batch: ImageBatch, height: int, width: int) -> torch.Tensor: ...


class ScoreSegmenter(Segmenter):
    """A learned segmenter: class scores resized bilinearly to (H, W), then argmax.

    This is what mit-semseg does to the image size; doing it at the classifier's geometry
    keeps thin objects that a resize of the argmax map would drop or shift.
    """

    @abstractmethod
    def scores(self, batch: ImageBatch, height: int, width: int) -> torch.Tensor:
        """(B, 150, H, W) float scores (any monotone scale: logits, probabilities, sums)."""

    @torch.no_grad()
    def segment(self, batch: ImageBatch, height: int, width: int) -> torch.Tensor:
        s = self.scores(batch, height, width)
        return s.argmax(dim=1).to(torch.uint8)


def resize_scores(scores: torch.Tensor, height: int, width: int) -> torch.Tensor:
    if tuple(scores.shape[-2:]) == (height, width):
        return scores
    return F.interpolate(scores, size=(height, width), mode="bilinear", align_corners=False)


def check_class_count(n_classes: int, what: str) -> None:
    if n_classes != N_CLASSES:
        raise CityqError(
            f"{what} predicts {n_classes} classes; cityq needs an ADE20K-150 model (150 classes)."
        )


Loader = Callable[[SegmenterRecord, Path | None, torch.device], Segmenter]
_KINDS: dict[str, Loader] = {}


def register_segmenter(kind: str) -> Callable[[Loader], Loader]:
    """Decorator: `@register_segmenter("mit-semseg") def load(record, store_root, device)`."""

    def add(loader: Loader) -> Loader:
        if kind in _KINDS and _KINDS[kind] is not loader:
            warnings.warn(f"segmenter kind {kind!r} registered twice; the last one wins", stacklevel=2)
        _KINDS[kind] = loader
        return loader

    return add


def segmenter_kinds() -> list[str]:
    return sorted(_KINDS)


def load_segmenter(
    record: SegmenterRecord, store_root: Path | None = None, device: str | torch.device = "auto"
) -> Segmenter:
    """Build the segmenter a `segmenters` row describes; loading also validates the weights."""
    loader = _KINDS.get(record.kind)
    if loader is None:
        raise CityqError(
            f"unknown segmenter kind {record.kind!r}; choose one of: {', '.join(segmenter_kinds())}."
        )
    return loader(record, store_root, resolve_device(device))
