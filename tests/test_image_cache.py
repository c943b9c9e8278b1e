"""The decoded-image cache: append-only records, read back a batch at a time (issue 20.1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cityq.imaging import decode_resized
from cityq.store import image_cache
from cityq.store.image_cache import ID_RECORD, ImageCache, fill_image_cache, load_image_files

SIZE = 16


@pytest.fixture
def files(tmp_path):
    """Ten small PNGs of different sizes, as `image_files` would list them."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(10):
        path = tmp_path / "img" / f"{i}.png"
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)).save(path)
        rows.append({"image_id": 100 + i, "dataset": "d", "root": str(tmp_path / "img"), "path": path.name,
                     "sha256": f"{i:064x}"})
    return pd.DataFrame(rows)


def _expected(frame, ids):
    by_id = frame.set_index("image_id")
    return np.stack([decode_resized(f"{by_id.root[i]}/{by_id.path[i]}", SIZE) for i in ids])


def test_appends_in_chunks_and_reads_back_without_decoding(tmp_path, files, monkeypatch):
    monkeypatch.setattr(image_cache, "DECODE_CHUNK", 3)  # four appends for ten images
    cache_dir = tmp_path / "cache"
    fill_image_cache(cache_dir, files, [105, 101, 109], SIZE)
    ids = [109, 100, 105, 100, 107, 102, 103, 104, 106, 108, 101]  # repeats, any order
    got = load_image_files(cache_dir, files, ids, SIZE).numpy()
    np.testing.assert_array_equal(got, _expected(files, ids))
    cache = ImageCache(cache_dir, "d", SIZE)
    known, _ = cache.index()
    assert sorted(known.tolist()) == list(range(100, 110))  # each image once
    assert cache.pixels_path.stat().st_size == 10 * 3 * SIZE * SIZE

    def no_decoding(*args):
        raise AssertionError("a cached image was decoded again")

    monkeypatch.setattr(image_cache, "decode_resized", no_decoding)
    np.testing.assert_array_equal(load_image_files(cache_dir, files, ids[::-1], SIZE).numpy(),
                                  _expected(files, ids[::-1]))


def test_what_a_killed_append_left_is_ignored_then_cut(tmp_path, files):
    cache_dir = tmp_path / "cache"
    fill_image_cache(cache_dir, files, [100, 101], SIZE)
    cache = ImageCache(cache_dir, "d", SIZE)
    # A kill after part of the pixels and part of an ids record were written:
    with open(cache.pixels_path, "ab") as data:
        data.write(b"\x07" * (cache.record + 5))
    with open(cache.ids_path, "ab") as ids:
        ids.write(b"\x01" * (ID_RECORD.itemsize // 2))
    assert sorted(cache.index()[0].tolist()) == [100, 101]
    got = load_image_files(cache_dir, files, [102, 100, 103], SIZE).numpy()  # appends after the debris
    np.testing.assert_array_equal(got, _expected(files, [102, 100, 103]))
    assert cache.pixels_path.stat().st_size == 4 * cache.record  # the debris was cut
    assert cache.ids_path.stat().st_size == 4 * ID_RECORD.itemsize


def test_above_the_limit_images_are_decoded_without_growing_the_cache(tmp_path, files, monkeypatch):
    cache_dir = tmp_path / "cache"
    monkeypatch.setenv("CITYQ_CACHE_LIMIT_GB", str(4 * 3 * SIZE * SIZE / 1e9))  # room for four images
    ids = list(range(100, 110))
    np.testing.assert_array_equal(load_image_files(cache_dir, files, ids, SIZE).numpy(), _expected(files, ids))
    cache = ImageCache(cache_dir, "d", SIZE)
    assert len(cache.index()[0]) <= 4
    np.testing.assert_array_equal(load_image_files(cache_dir, files, ids, SIZE).numpy(), _expected(files, ids))


def test_an_image_changed_on_disk_is_decoded_again(tmp_path, files):
    cache_dir = tmp_path / "cache"
    fill_image_cache(cache_dir, files, [100, 101], SIZE)
    path = f"{files.root[0]}/{files.path[0]}"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)
    changed = files.copy()
    changed.loc[0, "sha256"] = "f" * 64  # what `dataset add` records for the new file
    got = load_image_files(cache_dir, changed, [100, 101], SIZE).numpy()
    np.testing.assert_array_equal(got[0], 0)
    np.testing.assert_array_equal(got, _expected(changed, [100, 101]))
