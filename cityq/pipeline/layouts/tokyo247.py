"""`tokyo247`: Tokyo 24/7 as released (Torii et al., CVPR 2015).

    tokyo/                            the city folder: the release's files, unchanged
      03814/ ... 03829/               database blocks (one .tar each), named by the first five
                                      digits of the 7-digit UTM easting; at any depth below:
        <panorama>_012_<yaw>.png      12 views per panorama, yaw 000, 030, ..., 330
      247query_subset_v2/ (or 247query_v3/)   NNNNN.jpg query photos, NNNNN.csv beside each
      tokyo247.mat (or datasets/tokyo247.mat) dbStruct: UTM of database and query images

A database place is one panorama: the name before `_012_<yaw>` (Google's 22-character
panorama id), shared by its 12 views. Query photos (with --queries) of one spot were taken
at day, sunset and night: queries closer than the .mat's posDistThr (25 m) are chained into one
place, from the .mat's UTM or else the CSV's latitude and longitude. UTM zone 54S.
Sources and what is not verified: docs/real-data.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from cityq.pipeline.layouts.base import Entry, ImageMeta, LayoutOptions, Problem, Scan
from cityq.pipeline.layouts.dbstruct import MatError, read_dbstruct
from cityq.pipeline.layouts.files import is_image
from cityq.places import group_within, local_metres

NAME = re.compile(r"^(.+)_(\d{3})_(\d{3})$")  # <panorama>_<pitch>_<yaw>, on the file stem
QUERY_DIR = re.compile(r"^247query", re.IGNORECASE)
BLOCK_DIR = re.compile(r"^\d{5}$")
MAT_NAME = "tokyo247.mat"
UTM_ZONE = "54S"  # Tokyo; the zone the public converters use (VPR-datasets-downloader)
QUERY_RADIUS = 25.0  # metres, when the .mat gives no posDistThr: the data set's positive radius
SKIPPED_QUERY = "query image (add them with --queries)"


class Tokyo247:
    name = "tokyo247"
    summary = "Tokyo 24/7: 038xx/ blocks of <panorama>_012_<yaw>.png, 12 views per place; 247query*/"

    def detect(self, city_dir: Path, files: list[Path]) -> bool:
        images = [p for p in files if is_image(p)]
        named = sum(bool(NAME.match(p.stem)) for p in images)
        looks_released = any(p.name == MAT_NAME for p in files) or any(
            BLOCK_DIR.match(part) for p in images[:1000] for part in p.relative_to(city_dir).parts[:-1])
        return bool(images) and named * 2 >= len(images) and looks_released

    def scan(self, city_dir: Path, files: list[Path], options: LayoutOptions) -> Scan:
        scan = Scan()
        struct = None
        for path in files:
            if path.suffix.lower() == ".mat":
                scan.metadata_files.append(path)
                if path.name == MAT_NAME and struct is None:
                    try:
                        struct = read_dbstruct(path)
                    except MatError as exc:
                        scan.problems.append(Problem("unreadable .mat file", path, str(exc)))
        scan.notes.append(f"UTM coordinates from {struct.path.name}" if struct else
                          f"no {MAT_NAME}: no UTM coordinates for the database images")
        queries: list[Path] = []
        for path in files:
            rel_dirs = path.relative_to(city_dir).parts[:-1]
            in_queries = any(QUERY_DIR.match(part) for part in rel_dirs)
            if path.suffix.lower() == ".mat":
                continue
            if in_queries and path.suffix.lower() == ".csv":
                scan.metadata_files.append(path)
            elif not is_image(path):
                scan.other.append(path)
            elif in_queries and not options.queries:
                scan.skipped.setdefault(SKIPPED_QUERY, []).append(path)
            elif in_queries:
                queries.append(path)
            else:
                scan.images.append(self._database(path, struct, scan))
        scan.images += self._queries(queries, struct, scan)
        return scan

    def _database(self, path: Path, struct, scan: Scan) -> Entry:
        match = NAME.match(path.stem)
        if not match:
            scan.problems.append(Problem("name not as tokyo247 names files", path,
                                         "expected <panorama>_012_<yaw>.png; its place id is its stem", fallback=True))
        meta = ImageMeta()
        if struct is not None and path.stem in struct.db:
            east, north = struct.db[path.stem]
            meta = ImageMeta(utm_easting=east, utm_northing=north, utm_zone=UTM_ZONE)
        elif struct is not None:
            scan.problems.append(Problem("not in tokyo247.mat", path, "no UTM coordinates"))
        return Entry(path, match.group(1) if match else None, "database", meta)

    def _queries(self, paths: list[Path], struct, scan: Scan) -> list[Entry]:
        metas = [self._query_meta(path, struct, scan) for path in paths]
        utm = [m.utm_easting is not None for m in metas]
        gps = [m.latitude is not None for m in metas]
        points = np.full((len(paths), 2), np.nan)
        if any(utm):  # one frame for all: UTM where the .mat has it, else none
            points[utm] = [(m.utm_easting, m.utm_northing) for m, u in zip(metas, utm) if u]
        elif any(gps):
            points[gps] = local_metres([m.latitude for m in metas if m.latitude is not None],
                                       [m.longitude for m in metas if m.longitude is not None])
        placed = ~np.isnan(points).any(axis=1)
        radius = struct.pos_dist_thr if struct is not None and struct.pos_dist_thr else QUERY_RADIUS
        groups = group_within(points[placed], radius)
        placed_index = np.flatnonzero(placed)
        place = {}
        for k, g in enumerate(groups):
            place[int(placed_index[k])] = "q:" + paths[int(placed_index[g])].stem
        out = []
        for i, (path, meta) in enumerate(zip(paths, metas)):
            if i not in place:
                scan.problems.append(Problem("query without coordinates", path,
                                             "neither tokyo247.mat nor its .csv locates it; it is its own place",
                                             fallback=True))
            out.append(Entry(path, place.get(i, "q:" + path.stem), "query", meta))
        return out

    def _query_meta(self, path: Path, struct, scan: Scan) -> ImageMeta:
        east = north = zone = lat = lon = None
        if struct is not None and path.stem in struct.queries:
            (east, north), zone = struct.queries[path.stem], UTM_ZONE
        csv = path.with_suffix(".csv")
        if csv.is_file():
            try:
                fields = csv.read_text(errors="replace").splitlines()[0].split(",")
                lat, lon = float(fields[1]), float(fields[2])
            except (IndexError, ValueError, OSError):
                scan.problems.append(Problem("unreadable query .csv", csv, "expected name,latitude,longitude,..."))
        return ImageMeta(utm_easting=east, utm_northing=north, utm_zone=zone, latitude=lat, longitude=lon)


LAYOUT = Tokyo247()
