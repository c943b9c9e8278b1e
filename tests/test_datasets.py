"""`cityq dataset add`: registration, grouped splits, re-adding, bad files, atomicity."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from cityq.errors import CityqError
from cityq.pipeline.datasets import add_dataset
from cityq.store.datasets import list_datasets
from cityq.synth import generate_dataset
from cityq.synth.writer import PLACE_PATTERN


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate_dataset(root, per_city=10, size=32, seed=0, progress=False)
    return root


@pytest.fixture
def root(synth_root, tmp_path):
    copy = tmp_path / "data"
    shutil.copytree(synth_root, copy)
    return copy


def _images(store, name="d"):
    return store.fetch_df(
        "SELECT * EXCLUDE (image_id, added_at) FROM images WHERE dataset = $d ORDER BY path", {"d": name}
    )


def test_every_image_gets_a_row_with_labels_and_an_exact_split(memory_store, root):
    report = add_dataset(memory_store, root, "d", progress=False)
    assert report.added == 20 and report.bad == [] and report.cities == ["pittsburgh", "tokyo"]
    rows = _images(memory_store)
    assert len(rows) == 20
    first = rows[rows["path"] == "tokyo/000003.png"].iloc[0]
    assert (first.width, first.height, first.place_id) == (32, 32, "000003")
    assert first.labels_path == "tokyo/000003.labels.png"
    assert len(first.sha256) == 64
    for city in ("tokyo", "pittsburgh"):
        assert report.splits[city] == {"train": 6, "val": 2, "test": 2}
    stored = memory_store.fetch_df("SELECT cities, split_seed FROM datasets").iloc[0]
    assert list(stored.cities) == ["pittsburgh", "tokyo"] and stored.split_seed == 0
    assert memory_store.fetch_df("SELECT status FROM runs WHERE stage = 'dataset add'")["status"].tolist() == ["done"]


def test_adding_again_is_a_no_op(memory_store, root):
    add_dataset(memory_store, root, "d", progress=False)
    before = _images(memory_store)
    again = add_dataset(memory_store, root, "d", progress=False)
    assert (again.added, again.unchanged, again.changed) == (0, 20, [])
    assert _images(memory_store).equals(before)


def test_split_depends_on_the_seed_only(memory_store, root):
    from cityq.store import Store

    add_dataset(memory_store, root, "d", split_seed=3, progress=False)
    other = Store(":memory:")
    try:
        add_dataset(other, root, "d", split_seed=3, progress=False)
        assert _images(other)["split"].tolist() == _images(memory_store)["split"].tolist()
        add_dataset(other, root, "e", split_seed=4, progress=False)
        assert _images(other, "e")["split"].tolist() != _images(memory_store)["split"].tolist()
    finally:
        other.close()


def test_new_files_are_added_and_existing_splits_never_move(memory_store, root, tmp_path):
    add_dataset(memory_store, root, "d", progress=False)
    before = _images(memory_store).set_index("path")["split"]
    generate_dataset(tmp_path / "more", per_city=16, size=32, seed=0, progress=False)  # a superset: same first 10
    for city in ("tokyo", "pittsburgh"):
        for path in (tmp_path / "more" / city).iterdir():
            shutil.copy(path, root / city / path.name)
    report = add_dataset(memory_store, root, "d", progress=False)
    assert (report.added, report.unchanged, report.changed) == (12, 20, [])
    after = _images(memory_store).set_index("path")["split"]
    assert after[before.index].equals(before)
    assert set(after) == {"train", "val", "test"}


def test_a_changed_file_is_reported_and_left_as_registered(memory_store, root):
    add_dataset(memory_store, root, "d", progress=False)
    before = _images(memory_store)
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(root / "tokyo" / "000001.png")
    report = add_dataset(memory_store, root, "d", progress=False)
    assert report.changed == ["tokyo/000001.png"]
    assert _images(memory_store).equals(before)


def test_bad_files_are_reported_skipped_and_recorded(memory_store, root):
    city = root / "tokyo"
    good = (city / "000000.png").read_bytes()
    (city / "truncated.png").write_bytes(good[: len(good) // 2])
    (city / "noise.jpg").write_bytes(bytes(range(256)) * 4)
    (city / "empty.png").write_bytes(b"")
    (city / "notes.txt").write_text("not an image")
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(city / "000001.labels.png")  # wrong size
    Image.fromarray(np.full((32, 32), 200, np.uint8)).save(city / "000002.labels.png")  # not ADE20K
    (city / "orphan.labels.png").write_bytes((city / "000003.labels.png").read_bytes())

    report = add_dataset(memory_store, root, "d", progress=False)
    reasons = dict(report.bad)
    assert "unreadable image" in reasons["tokyo/truncated.png"]
    assert "unreadable image" in reasons["tokyo/noise.jpg"]
    assert "empty file" in reasons["tokyo/empty.png"]
    assert "not an image" in reasons["tokyo/notes.txt"]
    assert "16x16 but its image is 32x32" in reasons["tokyo/000001.labels.png"]
    assert "label value 200 >= 150" in reasons["tokyo/000002.labels.png"]
    assert "without an image" in reasons["tokyo/orphan.labels.png"]
    assert report.added == 18  # the two images with bad label maps are skipped too
    stored = memory_store.fetch_df("SELECT path, reason FROM bad_files WHERE dataset = 'd'")
    assert sorted(stored["path"]) == sorted(reasons)
    paths = set(_images(memory_store)["path"])
    assert "tokyo/000001.png" not in paths and "tokyo/truncated.png" not in paths


def test_one_city_is_an_error_and_an_empty_city_a_warning(memory_store, root):
    (root / "empty_city").mkdir()
    report = add_dataset(memory_store, root, "d", progress=False)
    assert any("empty_city/ has no readable images" in w for w in report.warnings)
    shutil.rmtree(root / "pittsburgh")
    with pytest.raises(CityqError, match="at least\\s+two"):
        add_dataset(memory_store, root, "single", progress=False)
    assert memory_store.fetch_df("SELECT count(*) AS n FROM images WHERE dataset = 'single'").n[0] == 0


def test_place_pattern_keeps_the_views_of_a_place_together(memory_store, tmp_path):
    generate_dataset(tmp_path, per_city=30, size=24, seed=1, views=3, progress=False)
    add_dataset(memory_store, tmp_path, "v", place_pattern=PLACE_PATTERN, progress=False)
    rows = _images(memory_store, "v")
    assert rows.groupby(["city", "place_id"])["split"].nunique().max() == 1
    assert rows.groupby(["city", "place_id"]).size().max() == 3 and rows["place_id"].nunique() == 10
    with pytest.raises(CityqError, match="place-pattern"):
        add_dataset(memory_store, tmp_path, "v", progress=False)  # added with a pattern before
    with pytest.raises(CityqError, match="group"):
        add_dataset(memory_store, tmp_path, "w", place_pattern=r"\d+", progress=False)


def test_a_failure_registers_nothing(memory_store, root, monkeypatch):
    (root / "tokyo" / "empty.png").write_bytes(b"")
    real = memory_store.insert_df

    def failing(table, frame):
        if table == "bad_files":
            raise RuntimeError("disk full")
        return real(table, frame)

    monkeypatch.setattr(memory_store, "insert_df", failing)
    with pytest.raises(RuntimeError):
        add_dataset(memory_store, root, "d", progress=False)
    for table in ("datasets", "images", "bad_files"):
        assert memory_store.fetch_df(f"SELECT count(*) AS n FROM {table}").n[0] == 0
    assert memory_store.fetch_df("SELECT status FROM runs").status.tolist() == ["failed"]


def test_cli_dataset_add_and_datasets(cli, root, tmp_path):
    store = tmp_path / "store"
    added = cli(["dataset", "add", root, "--name", "synth", "--store", store])
    assert added.exit_code == 0, added.output
    assert "20 images added" in added.stdout
    listed = cli(["datasets", "--store", store, "--format", "csv"])
    assert listed.exit_code == 0, listed.output
    assert "synth,pittsburgh,6,2,2,10,10,10,0" in listed.stdout  # ..., images, places, with_labels, bad_files
    bad = cli(["dataset", "add", tmp_path / "nowhere", "--name", "x", "--store", store])
    assert bad.exit_code != 0 and "not a folder" in bad.output


def test_list_datasets_is_empty_on_a_new_store(memory_store):
    assert not list_datasets(memory_store).fetchall()


def test_jpegs_are_checked_at_one_eighth_scale_yet_truncation_still_fails(memory_store, root):
    """dataset add checks JPEGs with PIL's draft mode (a scaled IDCT): every scan is still
    entropy-decoded, so a file cut anywhere is unreadable, and the size stored is the file's."""
    rng = np.random.default_rng(0)
    photo = (rng.normal(128, 40, (480, 640, 3)).clip(0, 255)).astype(np.uint8)
    Image.fromarray(photo).save(root / "tokyo" / "photo.jpg", quality=90)
    Image.fromarray(photo).save(root / "tokyo" / "progressive.jpg", quality=90, progressive=True)
    whole = (root / "tokyo" / "photo.jpg").read_bytes()
    layered = (root / "tokyo" / "progressive.jpg").read_bytes()
    for cut in (0.5, 0.99):
        (root / "tokyo" / f"cut{int(cut * 100)}.jpg").write_bytes(whole[: int(len(whole) * cut)])
        (root / "tokyo" / f"pcut{int(cut * 100)}.jpg").write_bytes(layered[: int(len(layered) * cut)])
    report = add_dataset(memory_store, root, "d", progress=False)
    reasons = dict(report.bad)
    assert sorted(reasons) == ["tokyo/cut50.jpg", "tokyo/cut99.jpg", "tokyo/pcut50.jpg", "tokyo/pcut99.jpg"]
    assert all("truncated" in r for r in reasons.values())
    sizes = _images(memory_store).set_index("path")
    assert tuple(sizes.loc["tokyo/photo.jpg", ["width", "height"]]) == (640, 480)
