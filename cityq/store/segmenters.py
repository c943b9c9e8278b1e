"""The rows of the `segmenters` table. Which kinds exist and how a segmenter is built from its
row is cityq.segmenters' business; this module only reads and writes the rows."""

from __future__ import annotations

import json


def segmenter_row(store, name: str) -> tuple[str, str, str | None, dict] | None:
    """(name, kind, path, config) of a registered segmenter, or None."""
    rows = store.con.execute(
        "SELECT segmenter, kind, path, config FROM segmenters WHERE segmenter = $name", {"name": name}).fetchall()
    if not rows:
        return None
    name, kind, path, config = rows[0]
    return name, kind, path, json.loads(config) if isinstance(config, str) else (config or {})


def segmenter_names(store) -> list[str]:
    return [r[0] for r in store.con.execute("SELECT segmenter FROM segmenters ORDER BY 1").fetchall()]


def insert_segmenter(store, name: str, kind: str, path: str | None, config: dict, metrics: dict) -> None:
    store.con.execute(
        "INSERT INTO segmenters (segmenter, kind, path, config, metrics, created_at) "
        "VALUES ($name, $kind, $path, $config, $metrics, current_timestamp)",
        {"name": name, "kind": kind, "path": path, "config": json.dumps(config), "metrics": json.dumps(metrics)},
    )


def list_segmenters(store):
    """One row per segmenter, as `cityq segmenters` prints it (a relation)."""
    return store.con.sql(
        "SELECT segmenter, kind, path, "
        "round(CAST(metrics->>'pixel_accuracy' AS DOUBLE), 4) AS pixel_accuracy, "
        "round(CAST(metrics->>'miou' AS DOUBLE), 4) AS miou, config, created_at "
        "FROM segmenters ORDER BY created_at, segmenter"
    )


def labelled_split(store, dataset: str, split: str):
    """image_id, labels_path and dataset root of a split's images, by image_id (a DataFrame):
    what training a segmenter reads."""
    return store.fetch_df(
        "SELECT i.image_id, i.labels_path, d.root FROM images i JOIN datasets d USING (dataset) "
        "WHERE i.dataset = $dataset AND i.split = $split ORDER BY i.image_id",
        {"dataset": dataset, "split": split},
    )
