"""The rows of a model (`models`, `epochs`, `predictions`) and its checkpoint file.

A model's rows go in together, in one transaction, after its checkpoint file is saved under a
name of its own run (`<name>.run<run_id>.pt`): a killed run leaves no model behind, only a
checkpoint file no row names, which the next run of that name removes.
"""

from __future__ import annotations

import difflib
import glob
import json
from dataclasses import dataclass
from pathlib import Path

from cityq.errors import CityqError


@dataclass(frozen=True)
class ModelRecord:
    model: str
    arch: str
    seed: int | None
    dataset: str
    cities: tuple[str, ...]
    img_size: int
    checkpoint: str
    config: dict


def model_names(store) -> list[str]:
    return [r[0] for r in store.con.execute("SELECT model FROM models ORDER BY 1").fetchall()]


def get_model_record(store, name: str) -> ModelRecord:
    rows = store.con.execute(
        "SELECT model, arch, seed, dataset, cities, img_size, checkpoint, config FROM models WHERE model = $m",
        {"m": name},
    ).fetchall()
    if not rows:
        known = model_names(store)
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else (f" Known: {', '.join(known)}." if known else "")
        raise CityqError(
            f"no model named {name!r} in the store.{hint} Train one with `cityq train` or `cityq model import`.")
    r = rows[0]
    return ModelRecord(r[0], r[1], r[2], r[3], tuple(r[4]), int(r[5]), r[6], json.loads(r[7]) if r[7] else {})


def load_model_weights(store, record: ModelRecord):
    """The torch module of a stored model, in eval mode on the CPU."""
    from cityq.models.checkpoint import load_model

    path = store.path / record.checkpoint
    if not path.exists():
        raise CityqError(
            f"the checkpoint of model {record.model!r} is missing ({path}); re-import it with "
            f"`cityq model import` or retrain it with `cityq train --force`"
        )
    module, _ = load_model(path, record.arch, len(record.cities))
    return module


def existing_model(store, name: str) -> tuple[str, float | None] | None:
    """(source, test accuracy) of the model of that name, or None."""
    rows = store.con.execute("SELECT source, test_accuracy FROM models WHERE model = $m", {"m": name}).fetchall()
    return rows[0] if rows else None


def checkpoint_file(store, name: str, run_id: int) -> Path:
    """Where a run saves its model's weights: a file of its own, so that a crash during a --force
    retrain never leaves the old rows pointing at new weights."""
    return store.checkpoints_dir / f"{name}.run{run_id}.pt"


def write_model(store, row: dict, epochs, predictions, replace: bool) -> None:
    """All rows of one model in one transaction (replacing an older model of that name, and
    with it the ingests of its old weights), then the files no row names any more."""
    import pandas as pd

    from cityq.store.ingests import delete_ingest, model_ingest_ids

    if replace:
        # The old weights' masks and counts would otherwise pass for the new model's.
        for ingest_id in model_ingest_ids(store, row["model"]):
            delete_ingest(store, ingest_id)
    with store.transaction():
        if replace:
            # Reliance rows measured the old weights too.
            for table in ("models", "epochs", "predictions", "reliance"):
                store.con.execute(f"DELETE FROM {table} WHERE model = $m", {"m": row["model"]})
        store.insert_df("models", pd.DataFrame([row]))
        if epochs is not None:
            store.insert_df("epochs", epochs)
        store.insert_df("predictions", predictions)
    remove_orphan_checkpoints(store, row["model"])


def remove_orphan_checkpoints(store, name: str) -> None:
    """Checkpoint files of `name` that no `models` row names: left by a run killed between
    saving the weights and committing its rows, or by the model a --force run replaced."""
    rows = store.con.execute("SELECT checkpoint FROM models WHERE model = $m", {"m": name}).fetchall()
    keep = {store.path / r[0] for r in rows}
    for file in store.checkpoints_dir.glob(f"{glob.escape(name)}.run*.pt"):
        if file not in keep:
            file.unlink(missing_ok=True)


def list_models(store):
    """One row per model, as `cityq models` prints it (a relation; `.df()` for a DataFrame). The
    column is `model`, as in the models table and every query."""
    return store.con.sql(
        "SELECT model, arch, seed, dataset, img_size, source, test_accuracy FROM models ORDER BY model"
    )
