"""The `segmenters` table: adding a segmenter (validated by loading it) and reading rows back."""

from __future__ import annotations

from pathlib import Path

from cityq.errors import CityqError
from cityq.segmenters.registry import SegmenterRecord, load_segmenter, segmenter_kinds
from cityq.store import segmenters as rows

# `labels` needs no weights, so every store has it without `cityq segmenter add`.
BUILTIN = {"labels": SegmenterRecord("labels", "labels")}


def get_segmenter_record(store, name: str) -> SegmenterRecord:
    row = rows.segmenter_row(store, name)
    if row is not None:
        return SegmenterRecord(*row)
    if name in BUILTIN:
        if not store.read_only:
            _insert(store, BUILTIN[name], {})
        return BUILTIN[name]
    choices = sorted(set(rows.segmenter_names(store)) | set(BUILTIN))
    raise CityqError(
        f"no segmenter named {name!r}; choose one of {', '.join(choices)} or add one with `cityq segmenter add`."
    )


def add_segmenter(
    store, name: str, kind: str, path: str | Path | None = None, config: dict | None = None, metrics: dict | None = None
) -> SegmenterRecord:
    """Validate by loading on the CPU (strict keys, class count), then record the resolved config."""
    if kind not in segmenter_kinds():
        raise CityqError(f"unknown segmenter kind {kind!r}; choose one of: {', '.join(segmenter_kinds())}.")
    if rows.segmenter_row(store, name) is not None:
        raise CityqError(f"a segmenter named {name!r} exists already; choose another --name.")
    if path is not None and kind != "trained":
        path = str(Path(path).expanduser().resolve())
    record = SegmenterRecord(name, kind, None if path is None else str(path), dict(config or {}))
    segmenter = load_segmenter(record, store.path, device="cpu")
    record = SegmenterRecord(name, kind, record.path, getattr(segmenter, "config", None) or record.config)
    _insert(store, record, metrics or {})
    return record


def _insert(store, record: SegmenterRecord, metrics: dict) -> None:
    rows.insert_segmenter(store, record.name, record.kind, record.path, record.config, metrics)


def register_trained(store, name: str, relative_path: str, config: dict, metrics: dict) -> SegmenterRecord:
    """Record a segmenter cityq trained itself (its weights already under the store)."""
    record = SegmenterRecord(name, "trained", relative_path, config)
    _insert(store, record, metrics)
    return record
