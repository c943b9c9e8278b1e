"""What the image figures show: the images as the model saw them, their full-size masks, and
visual explanations (SPEC §4: the pixels with mask >= t; the rest darkened here)."""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_DARKEN = 0.15  # brightness kept outside the explanation: dark, yet the scene stays legible


def load_images_and_masks(store, ingest, image_ids) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (N,3,H,W) squashed to the model's input size and float masks (N,H,W)."""
    from cityq.store.image_cache import load_image_tensor
    from cityq.store.masks import read_masks

    ids = np.asarray(image_ids, dtype=np.int64)
    _, masks = read_masks(store, ingest.ingest_id, ids)
    images = load_image_tensor(store, ids.tolist(), ingest.height)
    if images.shape[-2:] != masks.shape[-2:]:  # a non-square input: fit the mask to the image
        masks = torch.nn.functional.interpolate(torch.from_numpy(masks)[:, None], size=images.shape[-2:],
                                                mode="bilinear", align_corners=False)[:, 0].numpy()
    return images, torch.from_numpy(masks)


def visual_explanations(images: torch.Tensor, masks: torch.Tensor, threshold: float = 0.5,
                        darken: float = DEFAULT_DARKEN) -> torch.Tensor:
    """Images (N,3,H,W) uint8 with the pixels where mask < threshold scaled by `darken`."""
    keep = (masks >= threshold).to(torch.float32)[:, None]
    scale = keep + (1.0 - keep) * darken
    return (images.float() * scale).round().clamp(0, 255).to(torch.uint8)


def overlay(images: torch.Tensor, heat: torch.Tensor, image_weight: float = 0.5) -> torch.Tensor:
    """A heat map over the image, as grad-cam's show_cam_on_image (image_weight 0.5)."""
    mixed = image_weight * images.float() + (1.0 - image_weight) * heat.float()
    return mixed.round().clamp(0, 255).to(torch.uint8)


def explanation_thumbnails(store, ingest, image_ids, side: int, threshold: float = 0.5,
                           darken: float = DEFAULT_DARKEN, batch: int = 128) -> torch.Tensor:
    """Visual explanations shrunk to (N,3,side,side) uint8, a batch at a time (bounded memory)."""
    from cityq.figures.canvas import resize

    ids = np.asarray(image_ids, dtype=np.int64)
    out = torch.empty((len(ids), 3, side, side), dtype=torch.uint8)
    for start in range(0, len(ids), batch):
        images, masks = load_images_and_masks(store, ingest, ids[start:start + batch])
        shown = visual_explanations(images, masks, threshold, darken)
        out[start:start + len(shown)] = resize(shown, side).round().clamp(0, 255).to(torch.uint8)
    return out
