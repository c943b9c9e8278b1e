"""The rows of AR (SPEC §9): `residuals` (per image) and `residual_pairs` (per pair of ingests).

Each row holds AR at the masks' own resolution (`ar`) and at a common one (`ar_common`: both
native CAMs area-averaged to the coarser grid first; NULL in rows written before migration
0003). A pair's rows and its marker go in one transaction, so a killed run recomputes the
pair; a pair computed again (to fill in `ar_common`) replaces its rows in that transaction.
Masks do not depend on the segmentation, so a pair is computed once per pair of models (for a
split and target), whichever of their ingests it was computed from.
"""

from __future__ import annotations

import numpy as np

_PARTNERS = """
SELECT min(o.ingest_id) AS ingest_id, o.model
FROM ingests o JOIN models om ON om.model = o.model
WHERE o.status = 'done' AND o.model <> $model AND om.dataset = $dataset
  AND o.split = $split AND o.target = $target AND o.height = $h AND o.width = $w
  AND NOT EXISTS (
      SELECT 1 FROM residual_pairs p
      JOIN ingests a ON a.ingest_id = p.ingest_a JOIN ingests b ON b.ingest_id = p.ingest_b
      WHERE a.split = o.split AND a.target = o.target
        AND ((a.model = $model AND b.model = o.model) OR (a.model = o.model AND b.model = $model)))
GROUP BY o.model
ORDER BY min(o.ingest_id)
"""

# Pairs of this model (split, target) recorded before AR at a common resolution existed.
_WITHOUT_COMMON = """
SELECT p.ingest_a, p.ingest_b, CASE WHEN a.model = $model THEN b.model ELSE a.model END AS other
FROM residual_pairs p
JOIN ingests a ON a.ingest_id = p.ingest_a JOIN ingests b ON b.ingest_id = p.ingest_b
WHERE p.mean_ar_common IS NULL AND a.split = $split AND a.target = $target
  AND (a.model = $model OR b.model = $model)
ORDER BY p.ingest_a, p.ingest_b
"""


def pending_partners(store, ingest) -> list[tuple[int, str]]:
    """(ingest_id, model) of every other model ingested on the same images (same dataset, split,
    target and geometry) that has no AR with this ingest's model yet: one ingest per model."""
    return [(int(i), m) for i, m in store.con.execute(_PARTNERS, {
        "model": ingest.model, "dataset": ingest.dataset, "split": ingest.split, "target": ingest.target,
        "h": ingest.height, "w": ingest.width,
    }).fetchall()]


def pairs_without_common(store, ingest) -> list[tuple[int, int, str]]:
    """(ingest_a, ingest_b, other model) of this model's pairs that lack AR at a common resolution."""
    return [(int(a), int(b), m) for a, b, m in store.con.execute(_WITHOUT_COMMON, {
        "model": ingest.model, "split": ingest.split, "target": ingest.target,
    }).fetchall()]


def common_images(store, ingest_a: int, ingest_b: int) -> np.ndarray:
    """The images both ingests have masks for, in id order."""
    rows = store.con.execute(
        "SELECT x.image_id FROM mask_images x JOIN mask_images y USING (image_id) "
        "WHERE x.ingest_id = $a AND y.ingest_id = $b ORDER BY x.image_id",
        {"a": ingest_a, "b": ingest_b},
    ).fetchall()
    return np.array([r[0] for r in rows], dtype=np.int64)


def write_pair(store, ingest_a: int, ingest_b: int, image_ids: np.ndarray, ar: np.ndarray,
               ar_common: np.ndarray) -> float:
    """One pair's per-image AR (native and common resolution) and its marker, in one
    transaction, replacing any rows the pair had; returns the mean AR."""
    import pandas as pd

    a, b = sorted((int(ingest_a), int(ingest_b)))
    mean_ar = float(ar.mean())
    with store.transaction():
        for table in ("residuals", "residual_pairs"):
            store.con.execute(f"DELETE FROM {table} WHERE ingest_a = $a AND ingest_b = $b", {"a": a, "b": b})
        store.insert_df("residuals", pd.DataFrame({
            "ingest_a": np.full(len(image_ids), a, np.int32), "ingest_b": np.full(len(image_ids), b, np.int32),
            "image_id": image_ids.astype(np.int32), "ar": ar, "ar_common": ar_common,
        }))
        store.insert_df("residual_pairs", pd.DataFrame({
            "ingest_a": [a], "ingest_b": [b], "n_images": [len(image_ids)], "mean_ar": [mean_ar],
            "computed_at": [pd.Timestamp.now()], "mean_ar_common": [float(ar_common.mean())],
        }))
    return mean_ar


_OTHER_SIZES = """
SELECT o.model, any_value(o.height) AS height, any_value(o.width) AS width
FROM ingests o JOIN models om ON om.model = o.model
WHERE o.status = 'done' AND o.model <> $model AND om.dataset = $dataset
  AND o.split = $split AND o.target = $target AND (o.height <> $h OR o.width <> $w)
GROUP BY o.model
ORDER BY o.model
"""


def unpaired_models(store, ingest) -> list[tuple[str, str]]:
    """(model, why) for the models ingested on the same dataset, split and target that get no
    AR with this ingest's model: AR compares masks pixel by pixel, so only masks of one size."""
    return [
        (model, f"its masks are {h}x{w} px and these {ingest.height}x{ingest.width}: AR compares masks of one "
                "size (train both at the same --img-size)")
        for model, h, w in store.con.execute(_OTHER_SIZES, {
            "model": ingest.model, "dataset": ingest.dataset, "split": ingest.split, "target": ingest.target,
            "h": ingest.height, "w": ingest.width,
        }).fetchall()
    ]


def pairs_without_common_by_ingest(store) -> list[tuple[int, int, str, str]]:
    """Every pair lacking AR at a common resolution: (ingest_a, ingest_b, model_a, model_b)."""
    return [tuple(r) for r in store.con.execute(
        "SELECT p.ingest_a, p.ingest_b, a.model, b.model FROM residual_pairs p "
        "JOIN ingests a ON a.ingest_id = p.ingest_a JOIN ingests b ON b.ingest_id = p.ingest_b "
        "WHERE p.mean_ar_common IS NULL ORDER BY 1, 2"
    ).fetchall()]


def rerun_command(store, ingest_id: int) -> str:
    """The `cityq ingest` line that finds this (finished) ingest again: its model, segmenter,
    split, target and grid, each flag only where it is not the default."""
    from cityq.thresholds import DEFAULT_GRID, parse_grid

    model, segmenter, split, target, grid = store.con.execute(
        "SELECT g.model, s.segmenter, g.split, g.target, g.thresholds FROM ingests g "
        "JOIN segmentations s ON s.segmentation_id = g.segmentation_id WHERE g.ingest_id = $i", {"i": ingest_id}
    ).fetchall()[0]
    flags = [f"--model {model}"]
    flags += [f"--segmenter {segmenter}"] if segmenter != "labels" else []
    flags += [f"--split {split}"] if split != "test" else []
    flags += [f"--target {target}"] if target != "true" else []
    if tuple(round(t, 6) for t in grid) != parse_grid(DEFAULT_GRID):
        flags.append("--thresholds " + ",".join(f"{t:g}" for t in grid))
    return "cityq ingest " + " ".join(flags)
