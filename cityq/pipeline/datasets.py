"""Datasets from class folders: `<root>/<city>/<file>` images, optional `<stem>.labels.png`.

`add_dataset` registers one row per image in `images` (size, sha256, place id, split), records
unreadable files in `bad_files`, and does it all in one transaction. Adding the same folder
again changes nothing; new files are added; files whose content changed are reported.

Splits are 6:2:2 over places (all views of a place share a split), per city. The first add
ranks each city's places by a hash of (seed, city, place) and cuts the ranking 6:2:2, so the
proportions are exact; a place first seen by a later add gets the split its hash falls in,
so no existing image ever changes split.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from cityq.errors import CityqError
from cityq.objects import N_CLASSES
from cityq.store import datasets as rows

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm"}
LABELS_SUFFIX = ".labels.png"
SPLITS = (("train", 0.6), ("val", 0.2), ("test", 0.2))
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class AddReport:
    dataset: str
    root: str
    cities: list[str]
    created: bool  # a new dataset (else files were added to an existing one)
    added: int = 0
    unchanged: int = 0
    changed: list[str] = field(default_factory=list)  # registered files whose content differs now
    missing: list[str] = field(default_factory=list)  # registered files no longer on disk
    bad: list[tuple[str, str]] = field(default_factory=list)  # (path, reason), skipped
    warnings: list[str] = field(default_factory=list)
    splits: dict[str, dict[str, int]] = field(default_factory=dict)  # city -> split -> images

    def lines(self) -> list[str]:
        verb = "registered" if self.created else "updated"
        out = [f"dataset {self.dataset} {verb}: {len(self.cities)} cities ({', '.join(self.cities)}) at {self.root}",
               f"  {self.added} images added, {self.unchanged} already registered, {len(self.bad)} bad files skipped"]
        for city, counts in self.splits.items():
            out.append(f"  {city}: " + ", ".join(f"{s} {counts.get(s, 0)}" for s, _ in SPLITS))
        out += [f"  changed since it was added (kept as registered): {p}" for p in self.changed]
        out += [f"  missing on disk (kept as registered): {p}" for p in self.missing]
        out += [f"  bad file {p}: {why}" for p, why in self.bad]
        out += [f"  warning: {w}" for w in self.warnings]
        return out


@dataclass
class _Image:
    city: str
    path: str  # relative to the root, posix
    width: int
    height: int
    sha256: str
    place_id: str
    labels_path: str | None


def add_dataset(store, root: str | Path, name: str, split_seed: int = 0, place_pattern: str | None = None,
                progress: bool = True) -> AddReport:
    """Register (or update) dataset `name` from the class folders under `root`."""
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise CityqError(f"{root} is not a folder; give the folder that holds one sub-folder per city")
    if not NAME.match(name or ""):
        raise CityqError(f"dataset name {name!r}: use letters, digits, _ . - (e.g. --name synth)")
    pattern = _compile(place_pattern)
    existing = rows.get_dataset(store, name)
    if existing is not None:
        _check_same(existing, root, split_seed, place_pattern, name)
    known = rows.known_images(store, name)
    known_sha = dict(zip(known["path"], known["sha256"]))

    report = AddReport(name, str(root), [], created=existing is None)
    city_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    stray = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if stray:
        report.warnings.append(f"{len(stray)} image(s) directly in {root} ignored (e.g. {stray[0]}): "
                               "images belong in one sub-folder per city")
    files = {d.name: sorted(f for f in d.rglob("*") if f.is_file() and not f.name.startswith(".")) for d in city_dirs}

    from cityq.progress import bar

    new: list[_Image] = []
    good_cities = set(known["city"])
    total = sum(len(v) for v in files.values())
    with bar(total=total, desc=f"dataset add {name}", unit="file", disable=None if progress else True) as pbar:
        for city, paths in files.items():
            names = {p.name for p in paths}
            for path in paths:
                pbar.update(1)
                rel = path.relative_to(root).as_posix()
                if path.name.endswith(LABELS_SUFFIX):
                    if not any(n != path.name and n.startswith(path.name[: -len(LABELS_SUFFIX)] + ".") and
                               not n.endswith(LABELS_SUFFIX) for n in names):
                        report.bad.append((rel, "label map without an image beside it"))
                    continue
                if rel in known_sha:
                    sha = _sha256(path)
                    if sha == known_sha[rel]:
                        report.unchanged += 1
                    else:
                        report.changed.append(rel)
                    good_cities.add(city)
                    continue
                image = _read_image(path, root, city, pattern, report)
                if image is not None:
                    new.append(image)
                    good_cities.add(city)
    for city in files:
        if city not in good_cities:
            report.warnings.append(f"city folder {city}/ has no readable images; skipped")
    on_disk = {p.relative_to(root).as_posix() for ps in files.values() for p in ps}
    report.missing = sorted(set(known["path"]) - on_disk)

    cities = sorted(good_cities)
    if existing is not None:
        registered = list(existing["cities"])
        extra = sorted(set(cities) - set(registered))
        if extra:
            raise CityqError(f"dataset {name} was registered with cities {', '.join(registered)}; new city folder(s) "
                             f"{', '.join(extra)}: a model's classes are fixed, so register a new dataset (--name)")
        cities = registered
    elif len(cities) < 2:
        found = f"only {cities[0]}" if cities else "none"
        raise CityqError(f"{root} has {len(cities)} city folder(s) with images ({found}); a dataset needs at least "
                         "two, one sub-folder per city: ROOT/<city>/<image>")
    report.cities = cities

    frame = _frame(new, name, _splits(new, known, split_seed))
    config = {"root": str(root), "split_seed": split_seed, "place_pattern": place_pattern,
              "splits": dict(SPLITS), "image_suffixes": sorted(IMAGE_SUFFIXES), "synth": _synth_record(root)}
    with store.run("dataset add", subject=name, config=config):
        rows.register(store, name, str(root), cities, split_seed, place_pattern, config, frame, report.bad,
                      new=existing is None)
    report.added = len(frame)
    counts = rows.split_counts(store, name)
    for city in cities:
        report.splits[city] = {s: counts.get(city, {}).get(s, 0) for s, _ in SPLITS}
        if existing is None and min(report.splits[city].values()) == 0:
            report.warnings.append(f"{city} has too few places for every split to get one "
                                   f"({report.splits[city]}); add more images")
    return report


# -- reading one file ----------------------------------------------------------------------

def _read_image(path: Path, root: Path, city: str, pattern, report: AddReport) -> _Image | None:
    from PIL import Image

    rel = path.relative_to(root).as_posix()
    if path.stat().st_size == 0:
        report.bad.append((rel, "empty file (0 bytes)"))
        return None
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        report.bad.append((rel, f"not an image (suffix {path.suffix or 'none'}; images are {suffixes})"))
        return None
    try:
        with Image.open(path) as im:
            im.load()  # decodes everything: truncated files fail here, not later in training
            width, height = im.size
    except Exception as exc:  # PIL raises many types for broken files
        report.bad.append((rel, f"unreadable image: {_first_line(exc)}"))
        return None
    labels_file = path.with_name(path.stem + LABELS_SUFFIX)
    labels_rel = None
    if labels_file.exists():
        labels_rel = labels_file.relative_to(root).as_posix()
        why = _check_labels(labels_file, width, height)
        if why:
            report.bad.append((labels_rel, f"{why}; its image {path.name} is skipped"))
            return None
    place = path.stem
    if pattern is not None:
        match = pattern.search(path.relative_to(root / city).as_posix())
        if match and match.group(1):
            place = match.group(1)
        else:
            report.warnings.append(f"{rel} does not match --place-pattern; its place id is its stem {path.stem!r}")
    return _Image(city, rel, width, height, _sha256(path), place, labels_rel)


def _check_labels(path: Path, width: int, height: int) -> str | None:
    from PIL import Image

    if path.stat().st_size == 0:
        return "empty label map (0 bytes)"
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("L", "P", "I", "I;16"):
                return f"label map has mode {im.mode}; it must be one channel of ADE20K indices (mode L)"
            size = im.size
            values = np.asarray(im)
    except Exception as exc:
        return f"unreadable label map: {_first_line(exc)}"
    if size != (width, height):
        return f"label map is {size[0]}x{size[1]} but its image is {width}x{height}"
    top = int(values.max()) if values.size else 0
    if top >= N_CLASSES:
        return f"label value {top} >= {N_CLASSES} (labels are 0-based ADE20K-150 indices)"
    return None


# -- splits --------------------------------------------------------------------------------


def _place_hash(seed: int, city: str, place: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\0{city}\0{place}".encode()).digest()[:8], "big")


def _splits(new: list[_Image], known: pd.DataFrame, seed: int) -> dict[tuple[str, str], str]:
    """(city, place) -> split for the places of the new images."""
    assigned = {(c, p): s for c, p, s in zip(known["city"], known["place_id"], known["split"])}
    fresh: dict[str, set[str]] = {}
    for image in new:
        if (image.city, image.place_id) not in assigned:
            fresh.setdefault(image.city, set()).add(image.place_id)
    first_add = known.empty
    for city, places in fresh.items():
        if first_add:  # exact 6:2:2 over a hash-ranked list of places
            ranked = sorted(places, key=lambda p: (_place_hash(seed, city, p), p))
            n = len(ranked)
            n_train, n_val = round(n * SPLITS[0][1]), round(n * SPLITS[1][1])
            for i, place in enumerate(ranked):
                assigned[(city, place)] = "train" if i < n_train else "val" if i < n_train + n_val else "test"
        else:  # a place seen for the first time: the split its hash falls in
            for place in places:
                u = _place_hash(seed, city, place) / 2**64
                assigned[(city, place)] = "train" if u < 0.6 else "val" if u < 0.8 else "test"
    return assigned


def _frame(new: list[_Image], dataset: str, splits) -> pd.DataFrame:
    now = pd.Timestamp.now()
    return pd.DataFrame(
        {
            "dataset": [dataset] * len(new),
            "city": [i.city for i in new],
            "path": [i.path for i in new],
            "width": pd.array([i.width for i in new], dtype="int32"),
            "height": pd.array([i.height for i in new], dtype="int32"),
            "sha256": [i.sha256 for i in new],
            "place_id": [i.place_id for i in new],
            "split": [splits[(i.city, i.place_id)] for i in new],
            "labels_path": pd.array([i.labels_path for i in new], dtype="object"),
            "added_at": [now] * len(new),
        }
    )


# -- helpers -------------------------------------------------------------------------------


def _synth_record(root: Path) -> dict | None:
    """What `cityq synth` wrote beside a synthetic dataset (its spec, seed, size, views): kept with
    the dataset, so that a stored image's scene can be drawn again (object removal replays it)."""
    path = root / "synth.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _check_same(row, root: Path, split_seed: int, place_pattern: str | None, name: str) -> None:
    if Path(row["root"]) != root:
        raise CityqError(f"dataset {name} is registered at {row['root']}, not {root}; choose another --name")
    if int(row["split_seed"]) != split_seed:
        raise CityqError(
            f"dataset {name} was added with --split-seed {row['split_seed']}; use the same seed "
            "to add files to it, or another --name"
        )
    stored = row["place_pattern"] if isinstance(row["place_pattern"], str) else None
    if stored != place_pattern:
        raise CityqError(
            f"dataset {name} was added with --place-pattern {stored!r}; use the same pattern "
            "to add files to it, or another --name"
        )


def _compile(place_pattern: str | None):
    if place_pattern is None:
        return None
    try:
        pattern = re.compile(place_pattern)
    except re.error as exc:
        raise CityqError(f"--place-pattern {place_pattern!r} is not a valid regex: {exc}") from None
    if pattern.groups < 1:
        raise CityqError(
            f"--place-pattern {place_pattern!r} needs a group for the place id, e.g. '^(\\d+)_\\d+\\.png$'"
        )
    return pattern


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
