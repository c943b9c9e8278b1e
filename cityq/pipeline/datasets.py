"""Datasets from class folders: `<root>/<city>/<file>` images, optional `<stem>.labels.png`.

`add_dataset` registers one row per image in `images` (size, sha256, place id, split, and the
role and coordinates a layout finds), records unreadable files in `bad_files` and images whose
place could only partly be worked out in `place_warnings`, and does it all in one transaction.
Adding the same folder again changes nothing; new files are added; files whose content changed
are reported. Problems are summarised (a count per kind, five examples); the tables hold them
all, and `cityq check` reports them.

How each city folder is organised is its layout (`cityq/pipeline/layouts/`): `folders` (any
tree of images), `pitts250k`, `tokyo247`; `--layout auto` recognises the last two. A layout
names the place of each image (Pittsburgh's panorama number, Tokyo's panorama id); a
`--place-pattern` overrides it, matched against the file name (or, with `--place-pattern-on
path`, the path below the city folder).

Splits are 6:2:2 over places (all views of a place share a split), per city. The first add
ranks each city's places by a hash of (seed, city, place) and cuts the ranking 6:2:2, so the
proportions are exact; a place first seen by a later add gets the split its hash falls in,
so no existing image ever changes split. Before anything is written, the place-leakage check
(`cityq/places.py`) refuses a dataset whose places straddle splits, or whose every image is
its own place while the file names share prefixes the way views of one place do.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from cityq.errors import CityqError
from cityq.objects import N_CLASSES
from cityq.pipeline.layouts.files import IMAGE_SUFFIXES, LABELS_SUFFIX, files_under, is_image, is_label_map
from cityq.places import PATTERN_TARGETS, compile_pattern, mostly_alone, place_from_pattern, shared_prefixes
from cityq.problems import Problems
from cityq.store import datasets as rows

SPLITS = (("train", 0.6), ("val", 0.2), ("test", 0.2))
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
META_COLUMNS = ("role", "source_split", "utm_easting", "utm_northing", "utm_zone", "latitude", "longitude")
CHUNK = 1024  # files handed to the reading threads at a time
JPEG_DRAFT = True  # check JPEGs at 1/8 scale (False: the full decode, the benchmark's baseline)


@dataclass
class AddOptions:
    split_seed: int = 0  # seed of the 6:2:2 split over places
    place_pattern: str | None = None  # regex; group 1 is the place id (overrides the layout's)
    place_pattern_on: str = "name"  # what the pattern is matched against: 'name' or 'path' below the city
    layouts: tuple[str, ...] = ("auto",)  # NAME for every city, or CITY=NAME
    queries: bool = False  # also register the query images of layouts that have them
    single_view: bool = False  # every image is its own place on purpose: no shared-prefix check
    progress: bool = True
    workers: int | None = None  # threads reading files; None: min(8, CPU count)


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
    bad_kinds: list[str] = field(default_factory=list)  # the kind of each of `bad`
    place_problems: Problems = field(default_factory=Problems)  # images placed only partly
    skipped: dict[str, int] = field(default_factory=dict)  # why -> files a layout left out on purpose
    layouts: dict[str, str] = field(default_factory=dict)  # city -> layout
    notes: dict[str, list[str]] = field(default_factory=dict)  # city -> what its layout found
    warnings: list[str] = field(default_factory=list)
    splits: dict[str, dict[str, int]] = field(default_factory=dict)  # city -> split -> images
    places: dict[str, int] = field(default_factory=dict)  # city -> places

    def lines(self) -> list[str]:
        verb = "registered" if self.created else "updated"
        out = [f"dataset {self.dataset} {verb}: {len(self.cities)} cities ({', '.join(self.cities)}) at {self.root}"]
        for city, layout in self.layouts.items():
            found = "; ".join(self.notes.get(city, []))
            out.append(f"  {city}: layout {layout}" + (f" ({found})" if found else ""))
        out.append(f"  {self.added} images added, {self.unchanged} already registered, "
                   f"{len(self.bad)} bad files skipped")
        for city, counts in self.splits.items():
            places = f" ({self.places[city]} places)" if city in self.places else ""
            out.append(f"  {city}: " + ", ".join(f"{s} {counts.get(s, 0)}" for s, _ in SPLITS) + places)
        out += [f"  left out: {n} {why}" for why, n in self.skipped.items()]
        if self.bad:
            out.append(f"  bad files, skipped ({len(self.bad)}; all of them: `cityq check`, table bad_files):")
            bad = Problems()
            for kind, (path, reason) in zip(self.bad_kinds, self.bad):
                bad.add(kind, path, reason)
            out += bad.summary()
        if len(self.place_problems):
            out.append(f"  place warnings ({len(self.place_problems)}; all of them: `cityq check`, "
                       "table place_warnings):")
            out += self.place_problems.summary()
        kept = Problems()
        for path in self.changed:
            kept.add("changed since it was added (kept as registered)", path)
        for path in self.missing:
            kept.add("missing on disk (kept as registered)", path)
        out += kept.summary(indent="  ")
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
    role: str | None = None
    meta: object = None  # the layout's ImageMeta


def add_dataset(store, root: str | Path, name: str, options: AddOptions | None = None, **overrides) -> AddReport:
    """Register (or update) dataset `name` from the class folders under `root`.
    `add_dataset(store, root, name, split_seed=0, place_pattern=...)` works too."""
    from cityq.pipeline.layouts import LayoutOptions, detect_layout, get_layout, resolve_layouts

    options = options or AddOptions(**overrides)
    root = Path(root).expanduser().resolve()
    if not root.is_dir():
        raise CityqError(f"{root} is not a folder; give the folder that holds one sub-folder per city")
    if not NAME.match(name or ""):
        raise CityqError(f"dataset name {name!r}: use letters, digits, _ . - (e.g. --name synth)")
    if options.place_pattern_on not in PATTERN_TARGETS:
        raise CityqError(f"--place-pattern-on must be one of {', '.join(PATTERN_TARGETS)}, "
                         f"not {options.place_pattern_on!r}")
    pattern = compile_pattern(options.place_pattern)
    existing = rows.get_dataset(store, name)
    stored = json.loads(existing["config"] or "{}") if existing is not None else {}
    if existing is not None:
        _check_same(existing, stored, root, options, name)
    known = rows.known_images(store, name)
    known_sha = dict(zip(known["path"], known["sha256"]))

    report = AddReport(name, str(root), [], created=existing is None)
    city_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    stray = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if stray:
        report.warnings.append(f"{len(stray)} image(s) directly in {root} ignored (e.g. {stray[0]}): "
                               "images belong in one sub-folder per city")
    chosen = resolve_layouts(options.layouts, [d.name for d in city_dirs])  # before walking a large tree
    if existing is not None:  # a dataset keeps the layouts it was registered with (older ones: folders)
        before = {city: stored.get("layouts", {}).get(city, "folders") for city in chosen}
        for city, wanted in chosen.items():
            if wanted is not None and wanted != before[city]:
                raise CityqError(f"dataset {name}: city {city} was added with --layout {before[city]}; use the same "
                                 "(or auto) to add files to it, or another --name")
        chosen = before
    files = {d.name: files_under(d) for d in city_dirs}
    layout_options = LayoutOptions(queries=options.queries)
    scans = {}
    for city, paths in files.items():
        layout = get_layout(chosen[city]) if chosen[city] else detect_layout(root / city, paths)
        report.layouts[city] = layout.name
        scans[city] = layout.scan(root / city, paths, layout_options)
        report.notes[city] = scans[city].notes

    from cityq.progress import bar

    new: list[_Image] = []
    good_cities = set(known["city"])
    on_disk: set[str] = set()
    total = sum(len(v) for v in files.values())
    workers = options.workers or min(8, os.cpu_count() or 1)
    quiet = None if options.progress else True
    with bar(total=total, desc=f"dataset add {name}", unit="file", disable=quiet) as pbar, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        for city, scan in scans.items():
            names = {p.name for p in files[city]}
            pbar.update(len(scan.metadata_files))
            for why, left_out in scan.skipped.items():
                report.skipped[why] = report.skipped.get(why, 0) + len(left_out)
                on_disk.update(p.relative_to(root).as_posix() for p in left_out)  # not "missing" when registered
                pbar.update(len(left_out))
            for path in scan.other:
                pbar.update(1)
                rel = path.relative_to(root).as_posix()
                on_disk.add(rel)
                if is_label_map(path):
                    if not any(n != path.name and n.startswith(path.name[: -len(LABELS_SUFFIX)] + ".") and
                               not n.endswith(LABELS_SUFFIX) for n in names):
                        _bad(report, "label map without an image", rel, "label map without an image beside it")
                    continue
                _bad(report, "not an image", rel,
                     f"not an image (suffix {path.suffix or 'none'}; images are {', '.join(sorted(IMAGE_SUFFIXES))})")
            layout_problems = {}
            for problem in scan.problems:
                layout_problems.setdefault(problem.path, []).append(problem)
                if not is_image(problem.path):  # a metadata file: reported with the images' warnings
                    report.place_problems.add(problem.kind, problem.path.relative_to(root).as_posix(), problem.detail,
                                              problem.fallback)
            for lo in range(0, len(scan.images), CHUNK):
                entries = scan.images[lo:lo + CHUNK]
                read = partial(_read, root=root, city=city, known_sha=known_sha)
                for entry, result in zip(entries, pool.map(read, entries)):
                    pbar.update(1)
                    rel = entry.path.relative_to(root).as_posix()
                    on_disk.add(rel)
                    kind, value = result
                    if kind == "known":
                        good_cities.add(city)
                        if value == known_sha[rel]:
                            report.unchanged += 1
                        else:
                            report.changed.append(rel)
                    elif kind == "bad":
                        _bad(report, *value)
                    else:
                        image = value
                        image.place_id = _place(entry, image, root / city, pattern, options, report)
                        for problem in layout_problems.get(entry.path, []):
                            report.place_problems.add(problem.kind, rel, problem.detail, problem.fallback)
                        new.append(image)
                        good_cities.add(city)
    for city in files:
        if city not in good_cities:
            report.warnings.append(f"city folder {city}/ has no readable images; skipped")
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
    report.layouts = {c: report.layouts[c] for c in cities if c in report.layouts}

    splits = _splits(new, known, options.split_seed)
    frame = _frame(new, name, splits)
    _check_leakage(name, known, frame, options.single_view)
    layouts = {**stored.get("layouts", {}), **report.layouts} if existing is not None else report.layouts
    config = {"root": str(root), "split_seed": options.split_seed, "place_pattern": options.place_pattern,
              "place_pattern_on": options.place_pattern_on, "layouts": layouts, "queries": options.queries,
              "single_view": options.single_view, "splits": dict(SPLITS), "image_suffixes": sorted(IMAGE_SUFFIXES),
              "synth": _synth_record(root)}
    with store.run("dataset add", subject=name, config=config):
        rows.register(store, name, str(root), cities, options.split_seed, options.place_pattern, config, frame,
                      report.bad, new=existing is None, place_warnings=_warnings_frame(name, report.place_problems))
    report.added = len(frame)
    counts = rows.split_counts(store, name)
    report.places = rows.place_counts(store, name)
    for city in cities:
        report.splits[city] = {s: counts.get(city, {}).get(s, 0) for s, _ in SPLITS}
        if existing is None and min(report.splits[city].values()) == 0:
            report.warnings.append(f"{city} has too few places for every split to get one "
                                   f"({report.splits[city]}); add more images")
    return report


# -- reading one file ----------------------------------------------------------------------

def _read(entry, root: Path, city: str, known_sha: dict[str, str]):
    """Runs on a reading thread (PIL and hashlib release the GIL): ('known', sha256) for a
    registered file, ('bad', (kind, rel, reason)), or ('new', _Image)."""
    rel = entry.path.relative_to(root).as_posix()
    if rel in known_sha:
        return "known", _sha256(entry.path)
    image = _read_image(entry.path, root, city)
    if isinstance(image, tuple):
        return "bad", image
    image.role, image.meta = entry.role, entry.meta
    return "new", image


def _read_image(path: Path, root: Path, city: str):
    """An _Image (its place id still the stem), or (kind, rel, reason) when it is bad."""
    from PIL import Image

    rel = path.relative_to(root).as_posix()
    if path.stat().st_size == 0:
        return "empty file", rel, "empty file (0 bytes)"
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        suffixes = ", ".join(sorted(IMAGE_SUFFIXES))
        return "not an image", rel, f"not an image (suffix {path.suffix or 'none'}; images are {suffixes})"
    try:
        with Image.open(path) as im:
            width, height = im.size
            if JPEG_DRAFT and im.format == "JPEG":
                # libjpeg still entropy-decodes every scan, so a truncated file fails as before,
                # but scales the IDCT by 1/8: 1.4x faster per thread (docs/benchmarks.md).
                im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
            im.load()  # decodes everything: truncated files fail here, not later in training
    except Exception as exc:  # PIL raises many types for broken files
        return "unreadable image", rel, f"unreadable image: {_first_line(exc)}"
    labels_file = path.with_name(path.stem + LABELS_SUFFIX)
    labels_rel = None
    if labels_file.exists():
        labels_rel = labels_file.relative_to(root).as_posix()
        why = _check_labels(labels_file, width, height)
        if why:
            return "bad label map", labels_rel, f"{why}; its image {path.name} is skipped"
    return _Image(city, rel, width, height, _sha256(path), path.stem, labels_rel)


def _place(entry, image: _Image, city_dir: Path, pattern, options: AddOptions, report: AddReport) -> str:
    """--place-pattern's group 1, else the layout's place, else the stem; a pattern that does
    not match is a place warning (the fallback may split a place's views)."""
    fallback = entry.place_id or image.place_id
    if pattern is None:
        return fallback
    rel_in_city = entry.path.relative_to(city_dir).as_posix()
    place = place_from_pattern(pattern, rel_in_city, options.place_pattern_on)
    if place is None:
        target = "file name" if options.place_pattern_on == "name" else "path below the city folder"
        report.place_problems.add("does not match --place-pattern", image.path,
                                  f"its {target} does not match; its place id is {fallback!r}",
                                  fallback=entry.place_id is None)
        return fallback
    return place


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
    return pd.DataFrame({
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
        "role": pd.array([i.role for i in new], dtype="object"),
        **{column: pd.array([getattr(i.meta, column, None) for i in new],
                            dtype="object" if column in ("source_split", "utm_zone") else "Float64")
           for column in META_COLUMNS[1:]},
    })


# -- place leakage -------------------------------------------------------------------------

def _check_leakage(dataset: str, known: pd.DataFrame, frame: pd.DataFrame, single_view: bool) -> None:
    """Refuse, before anything is written, a dataset whose places straddle splits or whose
    every image is its own place while the names share prefixes (cityq/places.py)."""
    rows = pd.concat([known[["city", "path", "place_id", "split"]], frame[["city", "path", "place_id", "split"]]])
    problems = []
    straddle = rows.groupby(["city", "place_id"])["split"].nunique()
    straddle = straddle[straddle > 1]
    if len(straddle):
        examples = ", ".join(f"{c}/{p}" for c, p in straddle.index[:5])
        problems.append(f"{len(straddle)} place(s) have views in more than one split (e.g. {examples})")
    if not single_view:
        for city, group in rows.groupby("city", sort=True):
            alone = int((group.groupby("place_id")["path"].transform("size") == 1).sum())
            if mostly_alone(len(group), alone):
                found = shared_prefixes(group["path"].tolist())
                if found:
                    problems.append(f"{city}: {found.line(alone)}")
    if problems:
        raise CityqError(
            f"dataset {dataset}: place leakage: {'; '.join(problems)}. Views of one place in train and test "
            "inflate accuracy; give --layout (pitts250k, tokyo247), or a --place-pattern whose group 1 is the "
            "shared part of the file name, or --single-view if every image really is a place of its own")


# -- helpers -------------------------------------------------------------------------------


def _warnings_frame(dataset: str, problems: Problems) -> pd.DataFrame:
    """The place_warnings rows of this add (the store keeps each (path, kind) once)."""
    return pd.DataFrame({
        "dataset": [dataset] * len(problems), "path": [i.path for i in problems.items],
        "kind": [i.kind for i in problems.items], "detail": [i.detail for i in problems.items],
        "fallback": [i.fallback for i in problems.items], "seen_at": [pd.Timestamp.now()] * len(problems)})


def _synth_record(root: Path) -> dict | None:
    """What `cityq synth` wrote beside a synthetic dataset (its spec, seed, size, views): kept with
    the dataset, so that a stored image's scene can be drawn again (object removal replays it)."""
    path = root / "synth.json"
    try:
        return json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None


def _bad(report: AddReport, kind: str, rel: str, reason: str) -> None:
    report.bad.append((rel, reason))
    report.bad_kinds.append(kind)


def _check_same(row, stored: dict, root: Path, options: AddOptions, name: str) -> None:
    if Path(row["root"]) != root:
        raise CityqError(f"dataset {name} is registered at {row['root']}, not {root}; choose another --name")
    if int(row["split_seed"]) != options.split_seed:
        raise CityqError(f"dataset {name} was added with --split-seed {row['split_seed']}; use the same seed "
                         "to add files to it, or another --name")
    pattern = row["place_pattern"] if isinstance(row["place_pattern"], str) else None
    if pattern != options.place_pattern:
        raise CityqError(f"dataset {name} was added with --place-pattern {pattern!r}; use the same pattern "
                         "to add files to it, or another --name")
    # Datasets registered before the switch matched their pattern against the path.
    on = stored.get("place_pattern_on", "path")
    if pattern is not None and on != options.place_pattern_on:
        raise CityqError(f"dataset {name} was added with --place-pattern-on {on}; use the same to add files "
                         "to it, or another --name")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
