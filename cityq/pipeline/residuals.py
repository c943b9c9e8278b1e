"""AR between two models (SPEC §9): per image sum|mask1 - mask2| / (H*W), at full size.

Computed once per pair of models, when the second of them finishes its ingest, over the images
both have masks for (same dataset, split, target and geometry); cityq.store.residuals keeps the
rows (one pair, one transaction).
"""

from __future__ import annotations

import numpy as np
import torch

from cityq.cams import upsample_cams
from cityq.progress import bar
from cityq.store import masks
from cityq.store import residuals as rows
from cityq.store.ingests import Ingest, get_ingest


def compute_pending_residuals(store, ingest: Ingest, device=None, progress=None) -> list[tuple[str, float]]:
    """AR of this ingest's model against every model that has none with it yet: (other, mean AR)."""
    results = []
    for other_id, other_model in rows.pending_partners(store, ingest):
        mean_ar = compute_pair(store, ingest.ingest_id, other_id, device=device, progress=progress)
        if mean_ar is not None:
            results.append((other_model, mean_ar))
    return results


def compute_pair(store, ingest_x: int, ingest_y: int, device=None, progress=None, chunk: int = 512) -> float | None:
    a, b = sorted((ingest_x, ingest_y))
    ids = rows.common_images(store, a, b)
    if len(ids) == 0:
        return None
    first = get_ingest(store, a)
    size = (first.height, first.width)
    device = device or torch.device("cpu")
    values = np.empty(len(ids), dtype=np.float64)
    quiet = None if progress is None else not progress
    for lo in bar(range(0, len(ids), chunk), desc=f"AR {a}-{b}", unit="chunk", disable=quiet):
        part = ids[lo:lo + chunk]
        _, cams_a = masks.read_cams(store, a, part)
        _, cams_b = masks.read_cams(store, b, part)
        store.release()  # readers get in while the chunk is compared
        masks_a = upsample_cams(torch.from_numpy(cams_a).to(device), size)
        masks_b = upsample_cams(torch.from_numpy(cams_b).to(device), size)
        values[lo:lo + len(part)] = (masks_a - masks_b).abs().double().mean(dim=(1, 2)).cpu().numpy()
    return rows.write_pair(store, a, b, ids, values)
