"""A store's summary, as tables: what `cityq info` prints and the report opens with."""

from __future__ import annotations

import pandas as pd

from cityq.store.core import Store


def _disk_size(store: Store) -> int:
    return sum(f.stat().st_size for f in store.path.rglob("*") if f.is_file())


def summarise(store: Store) -> dict[str, pd.DataFrame]:
    sql = store.fetch_df
    return {
        "store": pd.DataFrame(
            [{"path": str(store.path.resolve()), "size_mb": round(_disk_size(store) / 1e6, 2),
              "schema_version": int(sql("SELECT max(version) AS v FROM schema_version")["v"][0])}]
        ),
        "images": sql(
            "SELECT dataset, city, "
            "count(*) FILTER (WHERE split = 'train') AS train, "
            "count(*) FILTER (WHERE split = 'val') AS val, "
            "count(*) FILTER (WHERE split = 'test') AS test "
            "FROM images GROUP BY ALL ORDER BY ALL"
        ),
        "models": sql(
            "SELECT model, arch, seed, dataset, img_size, round(test_accuracy, 4) AS test_accuracy, source "
            "FROM models ORDER BY model"
        ),
        "ingests": sql(
            "SELECT i.model, i.split, i.target, s.segmenter, i.n_images, i.status, "
            "count(b.block) AS blocks_done FROM ingests i "
            "JOIN segmentations s USING (segmentation_id) LEFT JOIN mask_blocks b USING (ingest_id) "
            "GROUP BY ALL ORDER BY ALL"
        ),
        "stages": sql(
            "SELECT stage, status, count(*) AS runs, max(ended_at) AS last_ended "
            "FROM runs GROUP BY ALL ORDER BY ALL"
        ),
    }


def provenance(store: Store) -> dict[str, pd.DataFrame]:
    """How everything was made: stage runs with their resolved configs and code versions, the
    models, the ingests with their threshold grids (the report's last section)."""
    sql = store.fetch_df
    return {
        "Stage runs (resolved configs and code versions)": sql(
            "SELECT run_id, stage, subject, status, code_version, started_at, ended_at, config, message "
            "FROM runs ORDER BY run_id"),
        "Models": sql(
            "SELECT model, arch, seed, dataset, img_size, source, test_accuracy, code_version, created_at, config "
            "FROM models ORDER BY model"),
        "Ingests (threshold grids)": sql(
            "SELECT g.ingest_id, g.model, g.split, g.target, s.segmenter, g.height, g.width, g.thresholds, "
            "g.n_images, g.status, g.config FROM ingests g JOIN segmentations s USING (segmentation_id) "
            "ORDER BY g.ingest_id"),
    }
