"""The rows of a t-SNE map: `embeddings` (per image) and `embedding_runs` (per map)."""

from __future__ import annotations

import json

import numpy as np


def write_embedding(store, ingest_id: int, method: str, image_ids, xy: np.ndarray,
                    pca_coords: np.ndarray, config: dict, seconds: float) -> None:
    """Replace the embedding of (ingest, method) by these rows, in one transaction."""
    import pyarrow as pa

    n, p = pca_coords.shape
    values = pa.array(np.ascontiguousarray(pca_coords, dtype=np.float32).ravel(), type=pa.float32())
    offsets = pa.array(np.arange(0, n * p + 1, p, dtype=np.int32))
    table = pa.table({
        "ingest_id": pa.array(np.full(n, ingest_id, dtype=np.int32)),
        "method": pa.array([method] * n, type=pa.string()),
        "image_id": pa.array(np.asarray(image_ids, dtype=np.int32)),
        "x": pa.array(xy[:, 0].astype(np.float64)),
        "y": pa.array(xy[:, 1].astype(np.float64)),
        "pca": pa.ListArray.from_arrays(offsets, values),
    })
    key = {"ingest_id": int(ingest_id), "method": method}
    with store.transaction():
        store.con.execute("DELETE FROM embeddings WHERE ingest_id = $ingest_id AND method = $method", key)
        store.con.execute("DELETE FROM embedding_runs WHERE ingest_id = $ingest_id AND method = $method", key)
        store.insert_df("embeddings", table)
        store.con.execute(
            "INSERT INTO embedding_runs (ingest_id, method, config, seconds, created_at) "
            "VALUES ($ingest_id, $method, $config, $seconds, current_timestamp)",
            {**key, "config": json.dumps(config, default=str), "seconds": float(seconds)},
        )
