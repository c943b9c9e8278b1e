"""Real data as it ships: Pittsburgh 250k and Tokyo 24/7 layouts, places kept together,
problems summarised, the place-leakage check (dataset add and cityq check)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from contracts import one_line_error
from real_layouts import pitts250k, tokyo247, write_image

from cityq.errors import CityqError
from cityq.pipeline.datasets import add_dataset
from cityq.pipeline.layouts import detect_layout, get_layout, resolve_layouts
from cityq.store.check import check_store, failed

ISSUE_RECIPE = r"^(\d+?)(?:_pitch\d+_yaw\d+|_\d+)\."  # docs/real-data.md before issue 22


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """ROOT/pittsburgh (Pittsburgh 250k as released) and ROOT/tokyo (Tokyo 24/7 as released)."""
    root = tmp_path_factory.mktemp("real")
    pitts = pitts250k(root / "pittsburgh")
    tokyo = tokyo247(root / "tokyo")
    return root, pitts, tokyo


@pytest.fixture
def root(shipped, tmp_path):
    copy = tmp_path / "cities"
    shutil.copytree(shipped[0], copy)
    return copy


def _images(store, name):
    return store.fetch_df("SELECT * FROM images WHERE dataset = $d ORDER BY path", {"d": name})


def _count(store, table):
    return int(store.fetch_df(f"SELECT count(*) AS n FROM {table}").n[0])


def test_auto_recognises_both_layouts_and_groups_their_views(memory_store, shipped):
    root, pitts, tokyo = shipped
    report = add_dataset(memory_store, root, "tp", progress=False)
    assert report.layouts == {"pittsburgh": "pitts250k", "tokyo": "tokyo247"}
    rows = _images(memory_store, "tp")
    assert len(rows) == len(pitts["database"]) + len(tokyo["database"]) == 240 + 120
    views = rows.groupby(["city", "place_id"]).size()
    assert set(views["pittsburgh"]) == {24} and set(views["tokyo"]) == {12}
    assert sorted(views["pittsburgh"].index) == sorted(pitts["places"])
    assert sorted(views["tokyo"].index) == sorted(tokyo["panoramas"])
    assert rows.groupby(["city", "place_id"])["split"].nunique().max() == 1  # no place in two splits
    for city in ("pittsburgh", "tokyo"):  # 6:2:2 over the 10 places of each city
        places = rows[rows.city == city].groupby("split")["place_id"].nunique().to_dict()
        assert places == {"train": 6, "val": 2, "test": 2}
    assert set(rows["role"]) == {"database"}
    assert report.skipped == {"query image (add them with --queries)": len(pitts["queries"]) + 6}
    assert not report.bad and not len(report.place_problems)


def test_metadata_files_become_image_columns(memory_store, shipped):
    root, _, tokyo = shipped
    add_dataset(memory_store, root, "tp", progress=False)
    rows = _images(memory_store, "tp").set_index("path")
    first = rows.loc["pittsburgh/000/000000_pitch1_yaw1.jpg"]
    located = (first.utm_easting, first.utm_northing, first.utm_zone, first.source_split)
    assert located == (585000.0, 4477000.0, "17T", "train")
    assert rows.loc["pittsburgh/001/001000_pitch2_yaw12.jpg"].source_split == ["train", "val", "test"][5 % 3]
    tok = rows[rows.city == "tokyo"]
    assert tok.utm_easting.notna().all() and set(tok.utm_zone) == {"54S"} and tok.source_split.isna().all()
    # the .mat lists .jpg, the release ships .png: matched by stem
    assert {p.rsplit(".", 1)[1] for p in tok.index} == {"png"}
    pano = tokyo["panoramas"][6]  # block 03815, panorama 1: easting 381500 + 10
    assert set(tok[tok.place_id == pano].utm_easting) == {381510.0}


def test_queries_are_grouped_by_panorama_and_by_distance(memory_store, shipped):
    root, pitts, _ = shipped
    report = add_dataset(memory_store, root, "q", progress=False, queries=True)
    rows = _images(memory_store, "q")
    q = rows[rows.role == "query"].set_index("path")
    assert len(q) == len(pitts["queries"]) + 6
    assert set(q[q.city == "pittsburgh"].place_id) == {"q000000", "q000001"}  # their own numbering
    tq = q[q.city == "tokyo"]
    place = {p.rsplit("/", 1)[1]: v for p, v in tq.place_id.items()}
    assert place["00001.jpg"] == place["00002.jpg"] == place["00003.jpg"]  # within 25 m of each other
    assert place["00004.jpg"] == place["00005.jpg"] != place["00001.jpg"]  # 200 m away
    assert place["00006.jpg"] not in (place["00001.jpg"], place["00004.jpg"])  # no coordinates
    assert tq.latitude.notna().sum() == 5 and tq.utm_easting.notna().sum() == 5
    assert [i.kind for i in report.place_problems.items] == ["query without coordinates"]
    assert rows.groupby(["city", "place_id"])["split"].nunique().max() == 1


def test_query_grouping_from_gps_alone(memory_store, tmp_path):
    tokyo247(tmp_path / "tokyo", mat=False)
    pitts250k(tmp_path / "pittsburgh", mat=False)
    report = add_dataset(memory_store, tmp_path, "g", progress=False, queries=True, layouts=("tokyo=tokyo247",))
    q = _images(memory_store, "g").query("role == 'query' and city == 'tokyo'")
    assert q.place_id.nunique() == 3 and q.utm_easting.isna().all()
    assert any("no tokyo247.mat" in n for n in report.notes["tokyo"])


def test_summary_is_a_few_lines_and_the_tables_hold_everything(memory_store, root):
    pitts = root / "pittsburgh"
    for k in range(40):  # names the layout does not know: each its own place, a warning each
        write_image(pitts / "extra" / f"snapshot {k:03d}.jpg", np.random.default_rng(k))
    good = (pitts / "000" / "000000_pitch1_yaw1.jpg").read_bytes()
    for k in range(7):  # cut short: checked at 1/8 scale, every scan is still read
        (pitts / "000" / f"broken_{k}.jpg").write_bytes(good[: len(good) * (k + 2) // 10])
    (pitts / "notes.txt").write_text("not an image")
    report = add_dataset(memory_store, root, "tp", progress=False)
    lines = report.lines()
    assert len(lines) <= 14, "\n".join(lines)
    kinds = [line for line in lines if re.match(r"^    \S.*: \d+ \(e\.g\. ", line)]
    assert len(kinds) == 4, "\n".join(lines)  # not an image, unreadable image, name not as ..., not in the .mat
    named = next(line for line in kinds if "name not as pitts250k" in line)
    assert ": 40 (e.g. " in named and named.count(", ") == 4 and named.endswith(" ...)")
    assert _count(memory_store, "place_warnings") == 80 and _count(memory_store, "bad_files") == 8
    findings = [f.line() for f in check_store(memory_store)]
    assert any(line.startswith("warning: dataset tp: 40 image(s): name not as pitts250k") for line in findings)
    assert any(line.startswith("note: dataset tp: 40 image(s): not in the pitts250k .mat") for line in findings)
    assert any(line.startswith("note: dataset tp: 8 bad file(s)") for line in findings)


def test_the_issue_recipe_works_on_nested_and_flat_folders(memory_store, root, tmp_path):
    report = add_dataset(memory_store, root, "nested", progress=False, layouts=("pittsburgh=folders",),
                         place_pattern=ISSUE_RECIPE)
    rows = _images(memory_store, "nested")
    # (folders takes queries_real/ too; its panoramas 000000 and 000001 join the database's)
    assert rows[rows.city == "pittsburgh"].place_id.nunique() == 10
    # Tokyo's real names are panorama ids, which the recipe does not match: the layout's place
    # stands (a warning each, but no fallback to the stem).
    assert {i.path.split("/")[0] for i in report.place_problems.items} == {"tokyo"}
    assert not any(i.fallback for i in report.place_problems.items)
    assert rows[rows.city == "tokyo"].place_id.nunique() == 10
    flat = tmp_path / "flat"
    for city in ("pittsburgh", "tokyo"):
        (flat / city).mkdir(parents=True)
    for path in (root / "pittsburgh").glob("0*/*.jpg"):
        shutil.copy(path, flat / "pittsburgh" / path.name)
    for k, path in enumerate(sorted((root / "tokyo").glob("038*/*.png"))):
        shutil.copy(path, flat / "tokyo" / f"{k // 12:05d}_{k % 12:02d}.png")
    add_dataset(memory_store, flat, "flat", progress=False, place_pattern=ISSUE_RECIPE)
    flat_rows = _images(memory_store, "flat")
    assert flat_rows.groupby("city").place_id.nunique().to_dict() == {"pittsburgh": 10, "tokyo": 10}


def test_pattern_on_the_path_below_the_city_folder(memory_store, root):
    add_dataset(memory_store, root, "blocks", progress=False, place_pattern=r"^(\d{3,5})/", place_pattern_on="path")
    rows = _images(memory_store, "blocks")
    assert rows.groupby("city").place_id.nunique().to_dict() == {"pittsburgh": 2, "tokyo": 2}


def test_leakage_check_refuses_a_wrong_pattern_and_registers_nothing(memory_store, root):
    # folders: query and database images that share a stem share a place; the rest are alone
    with pytest.raises(CityqError, match=r"place leakage: pittsburgh: 232 of its 248 images is its own place, but"):
        add_dataset(memory_store, root, "wrong", progress=False, layouts=("folders",))
    with pytest.raises(CityqError, match=r"; tokyo: every one of its 120 images"):
        add_dataset(memory_store, root, "wrong", progress=False, place_pattern=r"^(.+)\.\w+$")
    assert _count(memory_store, "images") == 0 and _count(memory_store, "datasets") == 0
    report = add_dataset(memory_store, root, "single", progress=False, layouts=("folders",), single_view=True)
    assert report.added == 374 and not [f for f in check_store(memory_store) if f.severity == "error"]


def test_check_fails_loudly_on_leaked_places(memory_store, root):
    add_dataset(memory_store, root, "tp", progress=False)
    assert not failed(check_store(memory_store))
    memory_store.con.execute("UPDATE images SET split = 'test' WHERE path = 'pittsburgh/000/000000_pitch1_yaw1.jpg'"
                             " AND split <> 'test'")
    memory_store.con.execute("UPDATE images SET split = 'train' WHERE path = 'pittsburgh/000/000000_pitch1_yaw2.jpg'"
                             " AND split = 'test'")
    errors = [f.line() for f in check_store(memory_store) if f.severity == "error"]
    assert len(errors) == 1 and "1 place(s) have views in more than one split (e.g. pittsburgh/000000)" in errors[0]
    memory_store.con.execute("UPDATE images SET place_id = regexp_extract(path, '([^/]+)\\.\\w+$', 1)")
    errors = [f.line() for f in check_store(memory_store) if f.severity == "error"]
    assert any("city tokyo: every one of its 120 images is its own place" in e for e in errors)
    assert any("city pittsburgh: every one of its 240 images" in e for e in errors)


def test_a_dataset_keeps_its_layouts(memory_store, root):
    add_dataset(memory_store, root, "tp", progress=False)
    again = add_dataset(memory_store, root, "tp", progress=False)
    assert (again.added, again.unchanged, again.missing) == (0, 360, [])
    with pytest.raises(CityqError, match="city tokyo was added with --layout tokyo247"):
        add_dataset(memory_store, root, "tp", progress=False, layouts=("tokyo=folders",))
    more = add_dataset(memory_store, root, "tp", progress=False, queries=True)
    assert more.added == 14 and more.unchanged == 360
    back = add_dataset(memory_store, root, "tp", progress=False)  # queries left out again: not "missing"
    assert back.missing == [] and back.unchanged == 360


def test_unreadable_metadata_is_a_warning_not_a_failure(memory_store, root):
    (root / "tokyo" / "tokyo247.mat").write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    report = add_dataset(memory_store, root, "tp", progress=False)
    assert report.added == 360
    assert [i.kind for i in report.place_problems.items] == ["unreadable .mat file"]
    assert _images(memory_store, "tp").query("city == 'tokyo'").utm_easting.isna().all()


def test_detection_and_layout_names(shipped, tmp_path):
    root = shipped[0]
    files = {c: sorted(p for p in (root / c).rglob("*") if p.is_file()) for c in ("pittsburgh", "tokyo")}
    assert detect_layout(root / "pittsburgh", files["pittsburgh"]).name == "pitts250k"
    assert detect_layout(root / "tokyo", files["tokyo"]).name == "tokyo247"
    plain = [tmp_path / f"{k:06d}.png" for k in range(5)]
    assert detect_layout(tmp_path, plain).name == "folders"
    chosen = resolve_layouts(("auto", "tokyo=tokyo247"), ["pittsburgh", "tokyo"])
    assert chosen == {"pittsburgh": None, "tokyo": "tokyo247"}
    with pytest.raises(CityqError, match="unknown layout 'pitts'"):
        get_layout("pitts")
    with pytest.raises(CityqError, match="no city folder 'paris'"):
        resolve_layouts(("paris=folders",), ["tokyo"])


def test_tokyo_at_any_depth_and_as_jpg(memory_store, tmp_path):
    tokyo247(tmp_path / "tokyo", nested="deeper", suffix=".jpg")
    pitts250k(tmp_path / "pittsburgh", places_per_folder=3)
    add_dataset(memory_store, tmp_path, "deep", progress=False)
    rows = _images(memory_store, "deep").query("city == 'tokyo'")
    assert rows.place_id.nunique() == 10 and rows.utm_easting.notna().all()


def test_a_city_folder_of_links_to_part_of_a_release(memory_store, shipped, tmp_path):
    """The paper used 76k of Pittsburgh's 250k images: link the folders you want."""
    release = shipped[0]
    part = tmp_path / "part"
    (part / "pittsburgh").mkdir(parents=True)
    for name in ("001", "datasets"):
        (part / "pittsburgh" / name).symlink_to(release / "pittsburgh" / name, target_is_directory=True)
    (part / "pittsburgh" / "again").symlink_to(release / "pittsburgh" / "001", target_is_directory=True)
    (part / "tokyo").symlink_to(release / "tokyo", target_is_directory=True)
    report = add_dataset(memory_store, part, "part", progress=False)
    rows = _images(memory_store, "part").query("city == 'pittsburgh'")
    assert len(rows) == 5 * 24 and set(rows.place_id.str[:3]) == {"001"} and rows.utm_easting.notna().all()
    assert rows.path.str.startswith("pittsburgh/001/").all()  # one link to a folder counts, once
    assert not len(report.place_problems)


def test_cli_summary_and_one_line_errors(cli, root, tmp_path):
    store = tmp_path / "store"
    ok = cli(["dataset", "add", root, "--name", "tp", "--layout", "pittsburgh=pitts250k", "--layout", "tokyo=tokyo247",
              "--store", store])
    assert ok.exit_code == 0, ok.output
    assert "pittsburgh: layout pitts250k" in ok.stdout and len(ok.stdout.splitlines()) <= 8
    bad = cli(["dataset", "add", root, "--name", "flat", "--layout", "folders", "--store", store])
    one_line_error(bad, "place leakage", "--single-view")
    checked = cli(["check", "--store", store])
    assert checked.exit_code == 0, checked.output
