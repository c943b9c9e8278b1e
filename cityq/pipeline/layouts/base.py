"""What a layout tells `dataset add` about one city folder.

A layout looks at the files under `ROOT/<city>/` (all of them, sorted) and sorts them into
images (with the place each one shows, its role and metadata), metadata files it read, files
it leaves out on purpose, and everything else (which `dataset add` checks as before: label
maps, or bad files). It never decodes an image: `dataset add` still reads every one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

ROLES = ("database", "query")


@dataclass(frozen=True)
class ImageMeta:
    """What a data set's own metadata files say about one image (None: not given)."""

    source_split: str | None = None  # the data set's own division, e.g. Pittsburgh 250k's train/val/test
    utm_easting: float | None = None  # metres
    utm_northing: float | None = None
    utm_zone: str | None = None  # e.g. '17T' (Pittsburgh), '54S' (Tokyo)
    latitude: float | None = None  # degrees (Tokyo 24/7's query CSV files)
    longitude: float | None = None


@dataclass(frozen=True)
class Entry:
    """One image file as the layout sees it."""

    path: Path  # absolute
    place_id: str | None = None  # None: the layout knows no place; the file stem is used
    role: str | None = None  # 'database' or 'query' where the data set divides them, else None
    meta: ImageMeta = ImageMeta()


@dataclass(frozen=True)
class Problem:
    """A file the layout could place only partly (its place falls back to the stem, or it
    lacks metadata). `dataset add` counts these per kind and stores each one."""

    kind: str  # short and fixed per cause: the summary groups by it
    path: Path  # absolute
    detail: str = ""
    fallback: bool = False  # the place id fell back to the stem: the views of its place may straddle splits


@dataclass
class Scan:
    images: list[Entry] = field(default_factory=list)
    metadata_files: list[Path] = field(default_factory=list)  # read, not images
    skipped: dict[str, list[Path]] = field(default_factory=dict)  # why -> files left out on purpose
    other: list[Path] = field(default_factory=list)  # for the generic checks (label maps, bad files)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # one line each, e.g. what metadata was found


@dataclass(frozen=True)
class LayoutOptions:
    queries: bool = False  # also register the data set's query images (default: its database only)


class Layout(Protocol):
    name: str
    summary: str  # one line: --help, `cityq dataset add` output, docs

    def detect(self, city_dir: Path, files: list[Path]) -> bool:
        """Whether `--layout auto` should take this layout for the city folder."""

    def scan(self, city_dir: Path, files: list[Path], options: LayoutOptions) -> Scan:
        """Sort every file under city_dir (given, sorted) into the Scan's lists."""
