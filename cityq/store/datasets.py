"""The rows of a dataset: `datasets`, `images`, `bad_files`, `place_warnings`.

`cityq.pipeline.datasets` scans class folders and decides splits; this module reads and
writes the rows. A dataset's images go in with its row in one transaction (`register`).
"""

from __future__ import annotations

import json

from cityq.errors import CityqError


def dataset_names(store) -> list[str]:
    return [r[0] for r in store.con.execute("SELECT dataset FROM datasets ORDER BY 1").fetchall()]


def get_dataset(store, name: str) -> dict | None:
    """The dataset's row as a dict, or None."""
    cursor = store.con.execute("SELECT * FROM datasets WHERE dataset = $d", {"d": name})
    row = cursor.fetchone()
    if row is None:
        return None
    return dict(zip([c[0] for c in cursor.description], row))


def dataset_cities(store, name: str) -> list[str]:
    """A dataset's cities in class-index order; an unknown dataset is an error naming the known ones."""
    row = get_dataset(store, name)
    if row is None:
        known = dataset_names(store)
        listed = f"known: {', '.join(known)}" if known else "the store has none yet"
        raise CityqError(f"dataset {name!r} is not in the store ({listed}); add it with "
                         f"`cityq dataset add ROOT --name {name}`")
    return list(row["cities"])


def known_images(store, name: str):
    """city, path, sha256, place_id, split of the dataset's registered images (a DataFrame)."""
    return store.fetch_df("SELECT city, path, sha256, place_id, split FROM images WHERE dataset = $d", {"d": name})


def register(store, name: str, root: str, cities: list[str], split_seed: int, place_pattern: str | None,
             config: dict, images, bad: list[tuple[str, str]], new: bool, place_warnings=None) -> None:
    """The dataset's row (when new), its new images, what the add found bad and the images it
    could only partly place: one transaction."""
    import pandas as pd

    with store.transaction():
        if new:
            store.con.execute(
                "INSERT INTO datasets VALUES ($d, $root, $cities, $seed, $pattern, $config, current_timestamp)",
                {"d": name, "root": root, "cities": cities, "seed": split_seed, "pattern": place_pattern,
                 "config": json.dumps(config)})
        store.insert_df("images", images)
        # bad_files holds what the latest add found; left alone when that did not change.
        current = store.fetch_df("SELECT path, reason FROM bad_files WHERE dataset = $d", {"d": name})
        if sorted(zip(current["path"], current["reason"])) != sorted(bad):
            store.con.execute("DELETE FROM bad_files WHERE dataset = $d", {"d": name})
            store.insert_df("bad_files", pd.DataFrame({
                "dataset": [name] * len(bad), "path": [p for p, _ in bad], "reason": [r for _, r in bad],
                "seen_at": [pd.Timestamp.now()] * len(bad)}))
        if place_warnings is not None and len(place_warnings):
            # They accumulate: each is about a registered image, whose place never changes;
            # a (path, kind) already recorded is not recorded again.
            seen = store.fetch_df("SELECT path, kind FROM place_warnings WHERE dataset = $d", {"d": name})
            keys = set(zip(seen["path"], seen["kind"]))
            fresh = [(p, k) not in keys for p, k in zip(place_warnings["path"], place_warnings["kind"])]
            store.insert_df("place_warnings", place_warnings[fresh])


def split_counts(store, name: str) -> dict[str, dict[str, int]]:
    """city -> split -> images."""
    counts: dict[str, dict[str, int]] = {}
    for city, split, n in store.con.execute(
            "SELECT city, split, count(*) FROM images WHERE dataset = $d GROUP BY ALL", {"d": name}).fetchall():
        counts.setdefault(city, {})[split] = int(n)
    return counts


def place_counts(store, name: str) -> dict[str, int]:
    """city -> places."""
    return {city: int(n) for city, n in store.con.execute(
        "SELECT city, count(DISTINCT place_id) FROM images WHERE dataset = $d GROUP BY ALL", {"d": name}).fetchall()}


def list_datasets(store):
    """One row per dataset and city: images per split, places, bad files, root (a relation)."""
    return store.con.sql(
        "SELECT d.dataset, i.city, count(*) FILTER (WHERE i.split = 'train') AS train, "
        "count(*) FILTER (WHERE i.split = 'val') AS val, count(*) FILTER (WHERE i.split = 'test') AS test, "
        "count(*) AS images, count(DISTINCT i.place_id) AS places, count(i.labels_path) AS with_labels, "
        "(SELECT count(*) FROM bad_files b WHERE b.dataset = d.dataset) AS bad_files, d.root "
        "FROM datasets d JOIN images i USING (dataset) GROUP BY d.dataset, i.city, d.root ORDER BY d.dataset, i.city")


def dataset_images(store, name: str):
    """image_id, city, split of every image of the dataset, by image_id (a DataFrame)."""
    return store.fetch_df("SELECT image_id, city, split FROM images WHERE dataset = $d ORDER BY image_id", {"d": name})


def split_image_ids(store, name: str, split: str | None):
    """The image ids of a dataset's split (every split with None), in id order."""
    rows = store.con.execute(
        "SELECT image_id FROM images WHERE dataset = $d AND ($s IS NULL OR split = $s) ORDER BY image_id",
        {"d": name, "s": split},
    ).fetchall()
    import numpy as np  # here, not above: `cityq datasets` need not load numpy

    return np.array([r[0] for r in rows], dtype=np.int64)


def image_cities(store, image_ids) -> dict[int, str]:
    """image_id -> city."""
    return dict(store.con.execute(
        "SELECT image_id, city FROM images WHERE list_contains($ids, image_id)",
        {"ids": [int(i) for i in image_ids]}).fetchall())


def image_files(store, image_ids):
    """image_id, dataset, path, labels_path, sha256 and the dataset's root of the given images,
    one row each (a DataFrame, unordered); an id not in the store is an error."""
    ids = [int(i) for i in image_ids]
    frame = store.fetch_df(
        "SELECT i.image_id, i.dataset, i.path, i.labels_path, i.sha256, d.root FROM images i "
        "JOIN datasets d USING (dataset) WHERE i.image_id IN (SELECT unnest($ids))",
        {"ids": ids},
    )
    found = set(frame["image_id"].tolist())
    missing = [i for i in dict.fromkeys(ids) if i not in found]
    if missing:
        raise CityqError(f"image ids not in the store: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return frame


def count_images(store, split: str | None = None) -> int:
    return int(store.con.execute(
        "SELECT count(*) FROM images WHERE $s IS NULL OR split = $s", {"s": split}).fetchall()[0][0])
