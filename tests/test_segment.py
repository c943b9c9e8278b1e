"""ensure_segmentation: maps to Zarr, N_p,i to DuckDB, resumable after a kill, bad input refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cityq.counting import count_pixels
from cityq.errors import CityqError
from cityq.pipeline.segment import ensure_segmentation
from cityq.store import Store
from cityq.store.segmentations import load_segmentation


def _write_dataset(store: Store, root: Path, n: int = 7, size=(40, 48), name: str = "tiny") -> list[int]:
    """A tiny dataset straight into the tables: images with their '<stem>.labels.png'."""
    rng = np.random.default_rng(0)
    h, w = size
    rows = []
    for i in range(n):
        city = "a" if i % 2 else "b"
        (root / city).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / city / f"{i}.png")
        labels = np.zeros((h, w), np.uint8)
        labels[: h // 2] = 2  # sky
        labels[h // 2 :, : w // 3] = 32  # fence
        labels[h // 2 :, w // 3 :] = 6 + i % 3  # road / bed / windowpane
        Image.fromarray(labels).save(root / city / f"{i}.labels.png")
        rows.append((name, city, f"{city}/{i}.png", w, h, f"sha{i}", str(i), "test", f"{city}/{i}.labels.png"))
    store.con.execute(
        "INSERT INTO datasets VALUES ($d, $root, ['a','b'], 0, NULL, NULL, current_timestamp)",
        {"d": name, "root": str(root)},
    )
    ids = []
    for r in rows:
        ids.append(store.con.execute(
            "INSERT INTO images (dataset, city, path, width, height, sha256, place_id, split, labels_path, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp) RETURNING image_id", list(r)).fetchall()[0][0])
    return ids


@pytest.fixture
def store(tmp_path):
    s = Store.create(tmp_path / "store")
    yield s
    s.close()


def _expected_maps(root: Path, store: Store, ids, h, w) -> np.ndarray:
    paths = store.fetch_df("SELECT labels_path FROM images WHERE image_id IN (SELECT unnest($ids)) ORDER BY image_id",
                           {"ids": ids})["labels_path"]
    # PIL's NEAREST samples pixel centres, like torch's 'nearest-exact'.
    return np.stack([np.asarray(Image.open(root / p).resize((w, h), Image.NEAREST)) for p in paths])


def test_labels_segmentation_counts_and_maps(store, tmp_path):
    root = tmp_path / "data"
    ids = _write_dataset(store, root)
    seg_id = ensure_segmentation(store, "labels", "tiny", ids, 32, 32, device="cpu", batch_size=3, progress=False)
    maps = load_segmentation(store, seg_id, ids)
    expected = _expected_maps(root, store, ids, 32, 32)
    assert maps.dtype == np.uint8 and maps.shape == (7, 32, 32)
    np.testing.assert_array_equal(maps, expected)
    counts = store.fetch_df("SELECT image_id, object_id, n_pixels FROM pixel_counts WHERE segmentation_id = $id "
                            "ORDER BY image_id, object_id", {"id": seg_id})
    for k, image_id in enumerate(ids):
        values, n = np.unique(expected[k], return_counts=True)
        got = counts[counts.image_id == image_id]
        assert got.object_id.tolist() == values.tolist()  # no rows for absent objects
        assert got.n_pixels.tolist() == n.tolist()
    # Reversed order comes back reversed.
    np.testing.assert_array_equal(load_segmentation(store, seg_id, ids[::-1]), maps[::-1])
    # Rerun: nothing new, same id.
    assert ensure_segmentation(store, "labels", "tiny", ids, 32, 32, device="cpu", progress=False) == seg_id
    assert store.fetch_df("SELECT count(*) AS n FROM segmented_images").n[0] == 7


def test_killed_run_resumes_without_duplicates(store, tmp_path, monkeypatch):
    ids = _write_dataset(store, tmp_path / "data")
    real_insert = store.insert_df
    calls = {"n": 0}

    def dying_insert(table, frame):
        calls["n"] += 1
        if calls["n"] == 4:  # the 2nd block's pixel_counts: its segmented_images rows must roll back
            raise KeyboardInterrupt
        return real_insert(table, frame)

    monkeypatch.setattr(store, "insert_df", dying_insert)
    with pytest.raises(KeyboardInterrupt):
        ensure_segmentation(store, "labels", "tiny", ids, 24, 20, device="cpu", batch_size=3, progress=False)
    assert store.fetch_df("SELECT count(*) AS n FROM segmented_images").n[0] == 3
    monkeypatch.setattr(store, "insert_df", real_insert)
    seg_id = ensure_segmentation(store, "labels", "tiny", ids, 24, 20, device="cpu", batch_size=3, progress=False)
    done = store.fetch_df("SELECT image_id, zarr_index FROM segmented_images ORDER BY zarr_index")
    assert done.image_id.tolist() == ids and done.zarr_index.tolist() == list(range(7))
    dup = store.fetch_df("SELECT count(*) AS n FROM (SELECT image_id, object_id FROM pixel_counts "
                         "GROUP BY ALL HAVING count(*) > 1)")
    assert dup.n[0] == 0
    np.testing.assert_array_equal(load_segmentation(store, seg_id, ids),
                                  _expected_maps(tmp_path / "data", store, ids, 24, 20))


def test_label_values_over_149_are_refused(store, tmp_path):
    root = tmp_path / "data"
    ids = _write_dataset(store, root, n=2)
    Image.fromarray(np.full((40, 48), 150, np.uint8)).save(root / "b" / "0.labels.png")
    with pytest.raises(CityqError, match=r"0\.labels\.png has value 150"):
        ensure_segmentation(store, "labels", "tiny", ids, 16, 16, device="cpu", progress=False)


def test_label_map_of_another_size_is_refused(store, tmp_path):
    root = tmp_path / "data"
    ids = _write_dataset(store, root, n=2)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "a" / "1.labels.png")
    with pytest.raises(CityqError, match=r"1\.labels\.png is 10x10 but its image is 48x40"):
        ensure_segmentation(store, "labels", "tiny", ids, 16, 16, device="cpu", progress=False)


def test_corrupt_image_is_named(store, tmp_path):
    root = tmp_path / "data"
    ids = _write_dataset(store, root, n=2)
    (root / "b" / "0.png").write_bytes(b"not a png")
    with pytest.raises(CityqError, match=r"cannot read image .*b/0\.png"):
        ensure_segmentation(store, "labels", "tiny", ids, 16, 16, device="cpu", progress=False)


def test_count_pixels_matches_numpy():
    maps = torch.randint(0, 150, (3, 9, 11), dtype=torch.uint8)
    counts = count_pixels(maps).numpy()
    for i in range(3):
        np.testing.assert_array_equal(counts[i], np.bincount(maps[i].numpy().ravel(), minlength=150))
