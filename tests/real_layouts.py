"""Fixture trees shaped like the real data sets as they ship (names, depth, views per place),
with tiny generated images; importable by tests and benchmarks (pytest puts tests/ on the path).

    pitts250k(city_dir, places_per_folder=5, folders=2)   000/000000_pitch1_yaw1.jpg ... + datasets/*.mat
    tokyo247(city_dir, panoramas_per_block=5, blocks=2)    03814/<panorama>_012_000.png ... + tokyo247.mat

See docs/real-data.md for the sources of each detail.
"""

from __future__ import annotations

import string
from pathlib import Path

import numpy as np
from PIL import Image

PITCHES, YAWS = 2, 12  # Pittsburgh: 24 views per place
TOKYO_YAWS = tuple(range(0, 360, 30))  # Tokyo 24/7: 12 views per place
_B64 = string.ascii_letters + string.digits + "-_"


def write_image(path: Path, rng: np.random.Generator, size=(16, 12)) -> None:
    """A tiny image of its own (distinct content, so distinct sha256)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        Image.fromarray(pixels).save(path, quality=90)
    else:
        Image.fromarray(pixels).save(path)


def _cell(items: list[str]) -> np.ndarray:
    cell = np.empty((len(items), 1), dtype=object)
    cell[:, 0] = items
    return cell


def save_dbstruct(path: Path, which_set: str, db: list[str], utm_db: np.ndarray, q: list[str],
                  utm_q: np.ndarray) -> None:
    """A NetVLAD dbStruct as Relja/netvlad's datasets/dbBase.m describes it."""
    from scipy.io import savemat

    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), {"dbStruct": {
        "whichSet": which_set, "dbImageFns": _cell(db), "utmDb": np.asarray(utm_db, float).reshape(2, -1),
        "qImageFns": _cell(q), "utmQ": np.asarray(utm_q, float).reshape(2, -1),
        "numImages": len(db), "numQueries": len(q), "posDistThr": 25.0, "posDistSqThr": 625.0,
        "nonTrivPosDistSqThr": 100.0}})


def pitts250k(city_dir: Path, places_per_folder: int = 5, folders: int = 2, query_places: int = 2,
              query_views: int = 4, mat: bool = True, seed: int = 0) -> dict:
    """`NNN/NNNNNN_pitchP_yawY.jpg` (place NNNNNN = folder NNN + 3 digits), `queries_real/NNN/...`,
    and `datasets/pitts250k_{train,val,test}.mat` splitting the places by position."""
    rng = np.random.default_rng(seed)
    places, db, q = [], [], []
    for folder in range(folders):
        for k in range(places_per_folder):
            place = f"{folder:03d}{k:03d}"
            places.append(place)
            for pitch in range(1, PITCHES + 1):
                for yaw in range(1, YAWS + 1):
                    rel = f"{folder:03d}/{place}_pitch{pitch}_yaw{yaw}.jpg"
                    write_image(city_dir / rel, rng)
                    db.append(rel)
    for k in range(query_places):
        for view in range(query_views):
            rel = f"{k // 1000:03d}/{k:06d}_pitch1_yaw{view + 1}.jpg"
            write_image(city_dir / "queries_real" / rel, rng)
            q.append(rel)
    if mat:
        place_xy = {p: (585_000.0 + 30 * i, 4_477_000.0 + 10 * i) for i, p in enumerate(places)}
        sets = ("train", "val", "test")
        for s, which in enumerate(sets):
            mine = [r for r in db if places.index(r.split("/")[1][:6]) % 3 == s]
            utm = np.array([place_xy[r.split("/")[1][:6]] for r in mine]).T
            mq = [r for i, r in enumerate(q) if i % 3 == s]
            utm_q = np.array([(585_001.0, 4_477_001.0)] * len(mq)).T.reshape(2, -1)
            save_dbstruct(city_dir / "datasets" / f"pitts250k_{which}.mat", which, mine, utm, mq, utm_q)
    return {"places": places, "database": db, "queries": q}


def panorama_id(rng: np.random.Generator) -> str:
    """22 characters of URL-safe base64, like Google Street View panorama ids."""
    return "".join(_B64[i] for i in rng.integers(0, len(_B64), size=22))


def tokyo247(city_dir: Path, panoramas_per_block: int = 5, blocks: int = 2, suffix: str = ".png",
             nested: str = "", queries: tuple = ((0.0, 0.0), (3.0, 4.0), (0.0, 8.0), (200.0, 0.0), (205.0, 0.0)),
             unlocated_queries: int = 1, mat: bool = True, seed: int = 1) -> dict:
    """`038xx/[nested/]<panorama>_012_<yaw>.png`, `247query_subset_v2/NNNNN.jpg` + `.csv`
    (name, latitude, longitude, ..., time of day), and `tokyo247.mat` listing `.jpg` names (as
    the release does; its database ships as .png). `queries` are (east, north) metre offsets."""
    rng = np.random.default_rng(seed)
    panoramas, db, utm_db = [], [], []
    for b in range(blocks):
        block = f"038{14 + b:02d}"
        for k in range(panoramas_per_block):
            pano = panorama_id(rng)
            panoramas.append(pano)
            for yaw in TOKYO_YAWS:
                rel = f"{block}/{nested + '/' if nested else ''}{pano}_012_{yaw:03d}{suffix}"
                write_image(city_dir / rel, rng)
                db.append(rel)
                utm_db.append((int(block) * 100 + 10.0 * k, 3_950_000.0 + 10 * b))
    qdir = city_dir / "247query_subset_v2"
    q, utm_q = [], []
    lat0, lon0 = 35.6581, 139.7017
    for i, (east, north) in enumerate(queries):
        name = f"{i + 1:05d}.jpg"
        write_image(qdir / name, rng, size=(24, 18))
        lat, lon = lat0 + north / 111_195.0, lon0 + east / (111_195.0 * np.cos(np.radians(lat0)))
        (qdir / name).with_suffix(".csv").write_text(f"{name},{lat:.7f},{lon:.7f},0,0,Day\n")
        q.append(name)
        utm_q.append((381_900.0 + east, 3_946_000.0 + north))
    for j in range(unlocated_queries):
        write_image(qdir / f"{len(queries) + j + 1:05d}.jpg", rng, size=(24, 18))
    if mat:
        save_dbstruct(city_dir / "tokyo247.mat", "test", [r.rsplit(".", 1)[0] + ".jpg" for r in db],
                      np.array(utm_db).T, q, np.array(utm_q).T)
    return {"panoramas": panoramas, "database": db, "queries": q}
