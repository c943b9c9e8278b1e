"""The `segmenters` table: adding a segmenter (validated by loading it) and reading rows back."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from cityq.errors import CityqError
from cityq.segmenters.registry import SegmenterRecord, load_segmenter, segmenter_kinds

# `labels` needs no weights, so every store has it without `cityq segmenter add`.
BUILTIN = {"labels": SegmenterRecord("labels", "labels")}


def get_segmenter_record(store, name: str) -> SegmenterRecord:
    rows = store.fetch_df(
        "SELECT segmenter, kind, path, config FROM segmenters WHERE segmenter = $name", {"name": name}
    )
    if len(rows):
        row = rows.iloc[0]
        config = json.loads(row["config"]) if isinstance(row["config"], str) else (row["config"] or {})
        path = None if pd.isna(row["path"]) else row["path"]
        return SegmenterRecord(row["segmenter"], row["kind"], path, config)
    if name in BUILTIN:
        if not store.read_only:
            _insert(store, BUILTIN[name], {})
        return BUILTIN[name]
    known = store.fetch_df("SELECT segmenter FROM segmenters ORDER BY 1")["segmenter"].tolist()
    choices = sorted(set(known) | set(BUILTIN))
    raise CityqError(
        f"no segmenter named {name!r}; choose one of {', '.join(choices)} or add one with `cityq segmenter add`."
    )


def add_segmenter(
    store, name: str, kind: str, path: str | Path | None = None, config: dict | None = None, metrics: dict | None = None
) -> SegmenterRecord:
    """Validate by loading on the CPU (strict keys, class count), then record the resolved config."""
    if kind not in segmenter_kinds():
        raise CityqError(f"unknown segmenter kind {kind!r}; choose one of: {', '.join(segmenter_kinds())}.")
    exists = store.fetch_df("SELECT 1 FROM segmenters WHERE segmenter = $name", {"name": name})
    if len(exists):
        raise CityqError(f"a segmenter named {name!r} exists already; choose another --name.")
    if path is not None and kind != "trained":
        path = str(Path(path).expanduser().resolve())
    record = SegmenterRecord(name, kind, None if path is None else str(path), dict(config or {}))
    segmenter = load_segmenter(record, store.path, device="cpu")
    record = SegmenterRecord(name, kind, record.path, getattr(segmenter, "config", None) or record.config)
    _insert(store, record, metrics or {})
    return record


def _insert(store, record: SegmenterRecord, metrics: dict) -> None:
    store.con.execute(
        "INSERT INTO segmenters (segmenter, kind, path, config, metrics, created_at) "
        "VALUES ($name, $kind, $path, $config, $metrics, current_timestamp)",
        {
            "name": record.name,
            "kind": record.kind,
            "path": record.path,
            "config": json.dumps(record.config),
            "metrics": json.dumps(metrics),
        },
    )


def list_segmenters(store) -> pd.DataFrame:
    return store.fetch_df(
        "SELECT segmenter, kind, path, "
        "round(CAST(metrics->>'pixel_accuracy' AS DOUBLE), 4) AS pixel_accuracy, "
        "round(CAST(metrics->>'miou' AS DOUBLE), 4) AS miou, config, created_at "
        "FROM segmenters ORDER BY created_at, segmenter"
    )


def register_trained(store, name: str, relative_path: str, config: dict, metrics: dict) -> SegmenterRecord:
    """Record a segmenter cityq trained itself (its weights already under the store)."""
    record = SegmenterRecord(name, "trained", relative_path, config)
    _insert(store, record, metrics)
    return record
