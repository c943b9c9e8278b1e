"""AR between two models (SPEC §9): per image sum|mask1 - mask2| / (H*W), at full size.

Computed once per pair of models, when the second of them finishes its ingest, over the images
both have masks for (same dataset, split, target and geometry); cityq.store.residuals keeps the
rows (one pair, one transaction).

Two numbers per image. `ar`: the masks as stored (each model's native CAM upsampled to H x W).
`ar_common`: both native CAMs first area-averaged to the coarser grid of the two
(`cams.pool_cams`), then upsampled the same way. Architecture pairs compare CAMs of different
native resolutions (ResNet18 4x4 against Simpler 28x28 at 112 px) and seed pairs never do, so
`ar_common` is the control that tells whether "architectures differ more than seeds" is only a
difference of resolution. For a seed pair the two are equal.
"""

from __future__ import annotations

import numpy as np
import torch

from cityq.cams import common_grid, pool_cams, upsample_cams
from cityq.progress import bar
from cityq.store import masks
from cityq.store import residuals as rows
from cityq.store.ingests import Ingest, get_ingest


def compute_pending_residuals(store, ingest: Ingest, device=None, progress=None) -> list[tuple[str, float]]:
    """AR of this ingest's model against every model that has none with it yet, and again for its
    pairs recorded before AR at a common resolution existed: [(other model, mean AR)]."""
    results = []
    for other_id, other_model in rows.pending_partners(store, ingest):
        mean_ar = compute_pair(store, ingest.ingest_id, other_id, device=device, progress=progress)
        if mean_ar is not None:
            results.append((other_model, mean_ar))
    for a, b, other_model in rows.pairs_without_common(store, ingest):
        mean_ar = compute_pair(store, a, b, device=device, progress=progress)
        if mean_ar is not None:
            results.append((other_model, mean_ar))
    return results


def pair_ar(cams_a: torch.Tensor, cams_b: torch.Tensor, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per image (AR, AR at the common resolution) of two batches of native CAMs (N,h,w)."""
    masks_a, masks_b = upsample_cams(cams_a, size), upsample_cams(cams_b, size)
    ar = (masks_a - masks_b).abs().double().mean(dim=(1, 2))
    grid = common_grid(tuple(cams_a.shape[-2:]), tuple(cams_b.shape[-2:]))
    common_a = upsample_cams(pool_cams(cams_a, grid), size)
    common_b = upsample_cams(pool_cams(cams_b, grid), size)
    ar_common = (common_a - common_b).abs().double().mean(dim=(1, 2))
    return ar.cpu().numpy(), ar_common.cpu().numpy()


def compute_pair(store, ingest_x: int, ingest_y: int, device=None, progress=None, chunk: int = 512) -> float | None:
    a, b = sorted((ingest_x, ingest_y))
    ids = rows.common_images(store, a, b)
    if len(ids) == 0:
        return None
    first = get_ingest(store, a)
    size = (first.height, first.width)
    device = device or torch.device("cpu")
    values = np.empty(len(ids), dtype=np.float64)
    common = np.empty(len(ids), dtype=np.float64)
    quiet = None if progress is None else not progress
    for lo in bar(range(0, len(ids), chunk), desc=f"AR {a}-{b}", unit="chunk", disable=quiet):
        part = ids[lo:lo + chunk]
        _, cams_a = masks.read_cams(store, a, part)
        _, cams_b = masks.read_cams(store, b, part)
        store.release()  # readers get in while the chunk is compared
        values[lo:lo + len(part)], common[lo:lo + len(part)] = pair_ar(
            torch.from_numpy(cams_a).to(device), torch.from_numpy(cams_b).to(device), size)
    return rows.write_pair(store, a, b, ids, values, common)
