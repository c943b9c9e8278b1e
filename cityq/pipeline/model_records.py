"""Reading a model's row and weights from the store."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass

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


def get_model_record(store, name: str) -> ModelRecord:
    rows = store.con.execute(
        "SELECT model, arch, seed, dataset, cities, img_size, checkpoint, config FROM models WHERE model = $m",
        {"m": name},
    ).fetchall()
    if not rows:
        known = [r[0] for r in store.con.execute("SELECT model FROM models ORDER BY 1").fetchall()]
        close = difflib.get_close_matches(name, known, n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else (f" Known: {', '.join(known)}." if known else "")
        raise CityqError(f"no model named {name!r} in the store.{hint} Train one with `cityq train` or `cityq model import`.")
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
