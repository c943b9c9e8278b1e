"""AR between two models (SPEC §9): per image sum|mask1 - mask2| / (H*W), at full size.

Computed once per pair of models, when the second of them finishes its ingest, over the images
both have masks for (same dataset, split, target and geometry). One pair's rows and its
`residual_pairs` marker are written in one transaction, so a killed run recomputes the pair.
Masks do not depend on the segmentation, so a pair already computed under another
segmentation is not computed again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from cityq.pipeline import mask_store
from cityq.pipeline.gradcam import upsample_cams
from cityq.progress import bar

_PARTNERS = """
SELECT o.ingest_id, o.model
FROM ingests o JOIN models om ON om.model = o.model
WHERE o.status = 'done' AND o.model <> $model AND om.dataset = $dataset
  AND o.split = $split AND o.target = $target AND o.height = $h AND o.width = $w
  AND NOT EXISTS (
      SELECT 1 FROM residual_pairs p
      JOIN ingests a ON a.ingest_id = p.ingest_a JOIN ingests b ON b.ingest_id = p.ingest_b
      WHERE a.split = o.split AND a.target = o.target
        AND ((a.model = $model AND b.model = o.model) OR (a.model = o.model AND b.model = $model)))
ORDER BY o.ingest_id
"""


def compute_pending_residuals(store, ingest: mask_store.Ingest, device=None, progress=None) -> list[tuple[str, float]]:
    partners = store.con.execute(_PARTNERS, {
        "model": ingest.model, "dataset": ingest.dataset, "split": ingest.split, "target": ingest.target,
        "h": ingest.height, "w": ingest.width,
    }).fetchall()
    results = []
    for other_id, other_model in partners:
        mean_ar = compute_pair(store, ingest.ingest_id, other_id, device=device, progress=progress)
        if mean_ar is not None:
            results.append((other_model, mean_ar))
    return results


def compute_pair(store, ingest_x: int, ingest_y: int, device=None, progress=None, chunk: int = 512) -> float | None:
    a, b = sorted((ingest_x, ingest_y))
    common = store.con.execute(
        "SELECT x.image_id FROM mask_images x JOIN mask_images y USING (image_id) "
        "WHERE x.ingest_id = $a AND y.ingest_id = $b ORDER BY x.image_id",
        {"a": a, "b": b},
    ).fetchall()
    ids = np.array([r[0] for r in common], dtype=np.int64)
    if len(ids) == 0:
        return None
    first = mask_store.get_ingest(store, a)
    size = (first.height, first.width)
    device = device or torch.device("cpu")
    values = np.empty(len(ids), dtype=np.float64)
    quiet = None if progress is None else not progress
    for lo in bar(range(0, len(ids), chunk), desc=f"AR {a}-{b}", unit="chunk", disable=quiet):
        part = ids[lo:lo + chunk]
        _, cams_a = mask_store.read_cams(store, a, part)
        _, cams_b = mask_store.read_cams(store, b, part)
        masks_a = upsample_cams(torch.from_numpy(cams_a).to(device), size)
        masks_b = upsample_cams(torch.from_numpy(cams_b).to(device), size)
        values[lo:lo + len(part)] = (masks_a - masks_b).abs().double().mean(dim=(1, 2)).cpu().numpy()
    mean_ar = float(values.mean())
    with store.transaction():
        store.insert_df("residuals", pd.DataFrame({
            "ingest_a": np.full(len(ids), a, np.int32), "ingest_b": np.full(len(ids), b, np.int32),
            "image_id": ids.astype(np.int32), "ar": values,
        }))
        store.insert_df("residual_pairs", pd.DataFrame({
            "ingest_a": [a], "ingest_b": [b], "n_images": [len(ids)], "mean_ar": [mean_ar],
            "computed_at": [pd.Timestamp.now()],
        }))
    return mean_ar
