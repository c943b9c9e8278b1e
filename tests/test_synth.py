"""The synthetic cities: determinism, planted objects only in their city, no colour cue, specs."""

from __future__ import annotations

import re

import numpy as np
import pytest
from PIL import Image

from cityq.errors import CityqError
from cityq.objects import N_CLASSES, object_index
from cityq.synth import generate_dataset, load_spec, render_place_view
from cityq.synth.spec import parse_spec
from cityq.synth.writer import PLACE_PATTERN

SPECS = __import__("pathlib").Path(__file__).resolve().parents[1] / "cityq" / "synth" / "specs"


def _planted_ids(spec):
    return {c.name: [object_index(p.name) for p in c.planted] for c in spec.cities}


def _files(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def test_default_spec_is_tokyo_and_pittsburgh():
    spec = load_spec()
    assert spec.city_names == ["tokyo", "pittsburgh"]
    assert [p.name for p in spec.city("tokyo").planted] == ["signboard", "fence"]
    assert [p.name for p in spec.city("pittsburgh").planted] == ["skyscraper", "earth"]
    assert _planted_ids(spec) == {"tokyo": [43, 32], "pittsburgh": [48, 13]}


def test_same_seed_same_files_whatever_the_worker_count(tmp_path):
    one = generate_dataset(tmp_path / "a", per_city=3, size=40, seed=5, workers=1, progress=False)
    generate_dataset(tmp_path / "b", per_city=3, size=40, seed=5, workers=2, progress=False)
    generate_dataset(tmp_path / "c", per_city=3, size=40, seed=6, workers=1, progress=False)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert len(a) == 2 * 2 * 3 and one["images"] == 6
    assert a == b
    assert a["tokyo/000000.png"] != c["tokyo/000000.png"]
    labels = np.asarray(Image.open(tmp_path / "a" / "tokyo" / "000000.labels.png"))
    assert labels.dtype == np.uint8 and labels.shape == (40, 40) and labels.max() < N_CLASSES


def test_planted_objects_occur_only_in_their_city_and_every_planted_image_has_one():
    spec = load_spec()
    planted = _planted_ids(spec)
    for city in spec.city_names:
        others = [i for c, ids in planted.items() if c != city for i in ids]
        only = {i: 0 for i in planted[city]}
        without = 0
        for place in range(60):
            _, labels, shown = render_place_view(spec, city, 64, 3, place)
            counts = np.bincount(labels.ravel(), minlength=N_CLASSES)
            assert counts[others].sum() == 0, f"{city} image {place} shows another city's planted object"
            present = [i for i in planted[city] if counts[i] >= spec.min_planted_area * 64 * 64]
            if not shown:  # an image drawn without its city's objects (`unplanted`)
                assert counts[planted[city]].sum() == 0
                without += 1
                continue
            assert present, f"{city} image {place} has no planted object"
            if len(present) == 1:
                only[present[0]] += 1
        # `unplanted` is the share of images without planted objects (binomial, 60 images: +-0.18).
        assert abs(without / 60 - spec.city(city).unplanted) < 0.18, (city, without)
        # Each planted object is the only one in a fair share of the images: all are needed.
        assert min(only.values()) >= 6, only


def test_unplanted_share_of_a_city_shows_none_of_its_objects():
    spec = parse_spec({"cities": {"a": {"unplanted": 0.5, "planted": [{"object": "signboard"}]},
                                  "b": {"planted": [{"object": "fence"}]}}})
    assert spec.city("a").unplanted == 0.5 and spec.city("b").unplanted == 0.0
    bare = [not render_place_view(spec, "a", 40, 1, place)[2] for place in range(40)]
    assert 10 <= sum(bare) <= 30
    assert all(render_place_view(spec, "b", 40, 1, place)[2] for place in range(10))


def test_colour_outside_planted_objects_does_not_tell_the_cities_apart():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    spec = load_spec()
    planted = [i for ids in _planted_ids(spec).values() for i in ids]
    colour, presence, city_of = [], [], []
    for c, city in enumerate(spec.city_names):
        for place in range(150):
            rgb, labels, _ = render_place_view(spec, city, 64, 11, place)
            outside = ~np.isin(labels, planted)
            bins = rgb[outside] // 64  # a 4x4x4 joint colour histogram of the pixels left
            hist = np.bincount(bins[:, 0] * 16 + bins[:, 1] * 4 + bins[:, 2], minlength=64)
            colour.append(hist / hist.sum())
            presence.append([(labels == i).any() for i in planted])
            city_of.append(c)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    colour_acc = cross_val_score(model, np.array(colour), city_of, cv=folds).mean()
    presence_acc = cross_val_score(model, np.array(presence, float), city_of, cv=folds).mean()
    assert colour_acc <= 0.65, colour_acc
    assert presence_acc >= 0.95, presence_acc


def test_views_share_the_layout_and_match_the_documented_pattern(tmp_path):
    summary = generate_dataset(tmp_path, per_city=4, size=48, seed=2, views=2, progress=False)
    assert summary["place_pattern"] == PLACE_PATTERN
    names = sorted(p.name for p in (tmp_path / "tokyo").glob("*.png") if not p.name.endswith(".labels.png"))
    assert names == ["000000_00.png", "000000_01.png", "000001_00.png", "000001_01.png"]
    assert [re.search(PLACE_PATTERN, n).group(1) for n in names] == ["000000", "000000", "000001", "000001"]
    spec = load_spec()
    _, a, _ = render_place_view(spec, "tokyo", 64, 2, 0, view=0)
    _, b, _ = render_place_view(spec, "tokyo", 64, 2, 0, view=1)
    assert not np.array_equal(a, b)
    assert set(np.unique(a)) == set(np.unique(b))  # the same objects, seen from a shifted camera


def test_three_city_example_spec_renders():
    spec = load_spec(SPECS / "three_cities.toml")
    assert spec.city_names == ["tokyo", "pittsburgh", "amsterdam"]
    planted = _planted_ids(spec)
    for city in spec.city_names:
        _, labels, shown = render_place_view(spec, city, 64, 0, 0)
        assert any((labels == i).any() for i in planted[city])


BASE = """
[shared.car]
probability = 0.5
[[cities.a.planted]]
object = "signboard"
[[cities.b.planted]]
object = "fence"
"""


@pytest.mark.parametrize("text, message", [
    (BASE + "[shared.tree]\ncolour = 1\n", "unknown key"),
    (BASE.replace('"fence"', '"fencee"'), "unknown ADE20K object"),
    (BASE.replace('"fence"', '"bed"'), "no drawer"),
    (BASE.replace('"fence"', '"car"'), "both shared and planted"),
    (BASE.replace('"fence"', '"signboard"'), "planted in both"),
    (BASE.replace('"fence"', '"sky"'), "no drawer"),
    (BASE.replace('object = "fence"', 'object = "fence"\nwhere = "skyline"'), "cannot be drawn"),
    (BASE.replace("probability = 0.5", "probability = 2"), "probability"),
    (BASE + "[shared.tree]\ncount = [3, 1]\n", "count"),
    (BASE.replace("[[cities.a.planted]]", "[cities.a]\nunplanted = 1.5\n[[cities.a.planted]]"), "unplanted"),
    (BASE.split("[[cities.b.planted]]")[0], "at least two"),
    ("[cities.a\n", "not valid TOML"),
])
def test_spec_errors_say_what_is_wrong(tmp_path, text, message):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(CityqError, match=message):
        load_spec(path)


def test_missing_spec_file_is_a_cityq_error(tmp_path):
    with pytest.raises(CityqError, match="not found"):
        load_spec(tmp_path / "nope.toml")
    with pytest.raises(CityqError, match="planted"):
        parse_spec({"cities": {"a": {}, "b": {}}})


def test_cli_synth_writes_images_and_prints_the_summary(cli, tmp_path):
    result = cli(["synth", tmp_path / "out", "--per-city", "2", "--size", "32", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "wrote 4 images (2 per city, 32 px, seed 1)" in result.stdout  # prose, as `dataset add`
    assert (tmp_path / "out" / "pittsburgh" / "000001.labels.png").exists()
    shown = cli(["synth", "--show-spec"])
    assert "[[cities.tokyo.planted]]" in shown.stdout
    bad = cli(["synth", tmp_path / "x", "--spec", tmp_path / "missing.toml"])
    assert bad.exit_code != 0 and "not found" in bad.output


def test_png_writer_round_trips_through_pil(tmp_path):
    from cityq.synth.png import write_png

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (7, 5, 3), dtype=np.uint8)
    labels = rng.integers(0, 150, (7, 5), dtype=np.uint8)
    write_png(tmp_path / "a.png", rgb, level=0)
    write_png(tmp_path / "a.labels.png", labels, level=1)
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), rgb)
    with Image.open(tmp_path / "a.labels.png") as im:
        assert im.mode == "L" and np.array_equal(np.asarray(im), labels)


def test_placing_a_planted_object_again_leaves_the_street_as_it_was():
    """Occluded planted objects are re-placed on the same street: streets chosen by how well
    they show a city's objects would differ between cities (a cue besides the objects)."""
    from cityq.synth.scene import choose_planted, render, rng_for

    spec = load_spec()
    planted = [object_index(n) for n in ("signboard", "fence", "skyscraper", "earth")]
    for city in spec.city_names:
        chosen = choose_planted(spec.city(city), rng_for(4, city, 0, 0))
        first, second = (render(spec, chosen, 64, rng_for(4, city, 0, 1), rng_for(4, city, 0, 2), False,
                                rng_for(4, city, 0, 3, attempt))[1] for attempt in (0, 1))
        assert not np.array_equal(first, second)  # the planted objects moved
        neither = ~np.isin(first, planted) & ~np.isin(second, planted)
        assert np.array_equal(first[neither], second[neither])


def test_a_see_through_object_can_be_labelled_without_painting_over_what_shows_through():
    from cityq.synth.canvas import Canvas

    canvas = Canvas(8)
    canvas.rgb[:] = 0.25
    mask = np.zeros((4, 4), bool)
    mask[1:3, 1:3] = True
    assert canvas.paint(2, 2, mask, None, 32) == 4
    assert (canvas.labels == 32).sum() == 4 and canvas.labels[3, 3] == 32
    assert np.all(canvas.rgb == np.float32(0.25))
