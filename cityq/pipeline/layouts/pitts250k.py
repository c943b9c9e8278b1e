"""`pitts250k`: Pittsburgh 250k as released with NetVLAD (Torii et al. 2013; Arandjelovic et al.).

    pittsburgh/                       the city folder: the release's root, unchanged
      000/ 000000_pitch1_yaw1.jpg ... 000999_pitch2_yaw12.jpg
      ...                             (001/ ... 010/: the first three digits of the place)
      queries_real/ .../NNNNNN_pitchP_yawY.jpg      query images (with --queries)
      datasets/ pitts250k_train.mat pitts250k_val.mat pitts250k_test.mat   (optional)

A place is one panorama: the six digits before `_pitch`, shared by its 24 views (2 pitches x
12 yaws). Query panoramas are numbered on their own, so their place ids get a `q` prefix. The
pitts250k_*.mat dbStructs give each image its UTM coordinates (zone 17T) and the release's own
train/val/test division (stored as `source_split`; cityq's splits stay its 6:2:2 over places).
Sources and what is not verified: docs/real-data.md.
"""

from __future__ import annotations

import re
from pathlib import Path

from cityq.pipeline.layouts.base import Entry, ImageMeta, LayoutOptions, Problem, Scan
from cityq.pipeline.layouts.dbstruct import MatError, read_dbstruct
from cityq.pipeline.layouts.files import is_image

NAME = re.compile(r"^(\d{6})_pitch(\d+)_yaw(\d+)$")  # on the file stem
QUERY_DIR = "queries_real"
MAT = re.compile(r"^pitts250k_(train|val|test)\.mat$")
UTM_ZONE = "17T"  # Pittsburgh; the zone the public converters use (VPR-datasets-downloader)
SKIPPED_QUERY = "query image (add them with --queries)"


class Pitts250k:
    name = "pitts250k"
    summary = "Pittsburgh 250k (NetVLAD release): NNN/NNNNNN_pitchP_yawY.jpg, 24 views per place"

    def detect(self, city_dir: Path, files: list[Path]) -> bool:
        images = [p for p in files if is_image(p)]
        return bool(images) and sum(bool(NAME.match(p.stem)) for p in images) * 2 >= len(images)

    def scan(self, city_dir: Path, files: list[Path], options: LayoutOptions) -> Scan:
        scan = Scan()
        structs = []
        for path in files:
            if path.suffix.lower() == ".mat":
                scan.metadata_files.append(path)
                if MAT.match(path.name):
                    try:
                        structs.append(read_dbstruct(path))
                    except MatError as exc:
                        scan.problems.append(Problem("unreadable .mat file", path, str(exc)))
        db, queries = {}, {}
        for struct in structs:
            split = struct.which_set or MAT.match(struct.path.name).group(1)
            db.update({stem: (utm, split) for stem, utm in struct.db.items()})
            queries.update({stem: (utm, split) for stem, utm in struct.queries.items()})
        if structs:
            scan.notes.append(f"UTM coordinates and source splits from {', '.join(s.path.name for s in structs)}")
        else:
            scan.notes.append("no datasets/pitts250k_*.mat: no UTM coordinates or source splits")
        for path in files:
            if path.suffix.lower() == ".mat":
                continue
            if not is_image(path):
                scan.other.append(path)
                continue
            is_query = QUERY_DIR in path.relative_to(city_dir).parts[:-1]
            if is_query and not options.queries:
                scan.skipped.setdefault(SKIPPED_QUERY, []).append(path)
                continue
            scan.images.append(self._entry(path, is_query, queries if is_query else db, bool(structs), scan))
        return scan

    def _entry(self, path: Path, is_query: bool, located: dict, have_mat: bool, scan: Scan) -> Entry:
        match = NAME.match(path.stem)
        place = None
        if match:
            place = ("q" if is_query else "") + match.group(1)
        else:
            scan.problems.append(Problem("name not as pitts250k names files", path,
                                         "expected NNNNNN_pitchP_yawY.jpg; its place id is its stem", fallback=True))
        meta = ImageMeta()
        if path.stem in located:
            (east, north), split = located[path.stem]
            meta = ImageMeta(source_split=split, utm_easting=east, utm_northing=north, utm_zone=UTM_ZONE)
        elif have_mat:
            scan.problems.append(Problem("not in the pitts250k .mat files", path, "no UTM coordinates"))
        return Entry(path, place, "query" if is_query else "database", meta)


LAYOUT = Pitts250k()
