"""The 150 ADE20K classes: 0-based model index, first synonym as the name, stuff flag."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

from cityq.errors import CityqError

N_CLASSES = 150


@dataclass(frozen=True)
class AdeClass:
    index: int  # 0-based output index of ADE20K models
    name: str  # first synonym: "signboard", "fence", "skyscraper", "earth"
    synonyms: str  # the full comma-separated list of the tsv
    is_stuff: bool


@functools.cache
def ade20k_classes() -> tuple[AdeClass, ...]:
    text = resources.files("cityq.data").joinpath("ade20k_150.tsv").read_text()
    rows = csv.DictReader(text.splitlines(), delimiter="\t")
    classes = tuple(
        AdeClass(int(r["index"]), r["names"].split(",")[0].strip(), r["names"], r["stuff"] == "1")
        for r in rows
    )
    assert len(classes) == N_CLASSES
    return classes


@functools.cache
def _by_name() -> dict[str, int]:
    table: dict[str, int] = {}
    for c in ade20k_classes():
        for synonym in c.synonyms.split(","):
            table.setdefault(synonym.strip().lower(), c.index)
    return table


def object_index(name: str) -> int:
    """ADE20K index of a class by any of its synonyms ("ground" -> 13)."""
    try:
        return _by_name()[name.strip().lower()]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name.lower(), list(_by_name()), n=3)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise CityqError(f"unknown ADE20K object {name!r}.{hint} See `cityq sql \"select * from objects\"`.") from None


def object_name(index: int) -> str:
    return ade20k_classes()[index].name
