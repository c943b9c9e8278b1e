"""Drawing a stored synthetic image again: byte for byte, or with objects left out (reliance)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cityq.errors import CityqError
from cityq.objects import object_index
from cityq.synth import generate_dataset, load_spec
from cityq.synth.canvas import Canvas
from cityq.synth.png import encode_png
from cityq.synth.replay import Replayer, SynthRecord, replay, scene_ref
from cityq.synth.scene import place_view
from cityq.synth.spec import spec_from_dict

SIGN, FENCE = object_index("signboard"), object_index("fence")


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    """Two small data sets: one view per place at 48 px, three views per place at 80 px."""
    root = tmp_path_factory.mktemp("replay")
    generate_dataset(root / "one", per_city=6, size=48, seed=3, progress=False)
    generate_dataset(root / "views", per_city=6, size=80, seed=1, views=3, progress=False)
    return root


def _images(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png") if not p.name.endswith(".labels.png"))


def _stored(folder, rel):
    return (np.asarray(Image.open(folder / rel)),
            np.asarray(Image.open(folder / rel.replace(".png", ".labels.png"))))


@pytest.mark.parametrize("name", ["one", "views"])
def test_a_replay_with_nothing_left_out_is_the_stored_image_byte_for_byte(datasets, name):
    folder = datasets / name
    record = SynthRecord.read(folder)
    replayer = Replayer(record)
    paths = _images(folder)
    assert len(paths) == 12 and {p.split("/")[0] for p in paths} == {"tokyo", "pittsburgh"}
    for rel in paths:
        drawn = replayer.draw(rel)
        assert encode_png(drawn.rgb, level=0) == (folder / rel).read_bytes(), rel
        assert encode_png(drawn.labels, level=1) == (folder / rel.replace(".png", ".labels.png")).read_bytes(), rel


def test_synth_json_content_is_enough_to_replay(datasets):
    """`dataset add` stores synth.json's content in the store: the dict alone must do."""
    folder = datasets / "views"
    content = json.loads((folder / "synth.json").read_text())
    rel = "pittsburgh/000001_02.png"
    rgb, labels = replay("/nowhere", rel, content)
    stored_rgb, stored_labels = _stored(folder, rel)
    assert np.array_equal(rgb, stored_rgb) and np.array_equal(labels, stored_labels)
    assert spec_from_dict(content["spec"]) == load_spec()


def test_leaving_out_signboard_changes_only_its_pixels_and_what_shows_through_a_fence(datasets):
    for name in ("one", "views"):
        folder = datasets / name
        replayer = Replayer(SynthRecord.read(folder))
        with_signs = 0
        for rel in _images(folder):
            rgb, labels = _stored(folder, rel)
            drawn = replayer.draw(rel, ["signboard"])
            assert not (drawn.labels == SIGN).any()
            changed = (drawn.rgb != rgb).any(axis=-1) | (drawn.labels != labels)
            sign = labels == SIGN
            # A fence's outline keeps the colour of what shows between its bars: a sign behind it.
            assert not (changed & ~sign & (labels != FENCE)).any(), rel
            assert np.array_equal(changed & sign, sign), rel  # every sign pixel now shows what was behind
            assert np.array_equal(drawn.labels[~sign], labels[~sign])
            with_signs += sign.any()
        assert with_signs >= 3, name


def test_every_drawable_object_can_be_left_out_without_moving_anything_else(datasets):
    folder = datasets / "one"
    replayer = Replayer(SynthRecord.read(folder))
    names = ["fence", "car", "person", "tree", "pole", "streetlight", "traffic light", "awning",
             "windowpane", "door", "earth", "skyscraper"]
    removed = {n: 0 for n in names}
    for rel in _images(folder):
        rgb, labels = _stored(folder, rel)
        for name in names:
            k = object_index(name)
            drawn = replayer.draw(rel, [name])
            changed = (drawn.rgb != rgb).any(axis=-1) | (drawn.labels != labels)
            assert not (drawn.labels == k).any(), (rel, name)
            assert not (changed & (labels != k) & (labels != FENCE)).any(), (rel, name)
            removed[name] += int((labels == k).sum())
    assert all(removed.values()), removed  # the data set shows each of them somewhere


def test_a_window_left_out_shows_the_wall_it_was_in(datasets):
    folder = datasets / "one"
    replayer = Replayer(SynthRecord.read(folder))
    rel = _images(folder)[0]
    _, labels = _stored(folder, rel)
    drawn = replayer.draw(rel, ["windowpane"])
    window = labels == object_index("windowpane")
    assert window.any() and (drawn.labels[window] == object_index("building")).all()


def test_the_kept_placement_attempt_is_the_stored_images_when_its_planted_object_is_left_out():
    """An occluded planted object is placed again; with the object left out, the choice between
    attempts must still be made on what the full scene shows, or the whole street would change."""
    spec = load_spec()
    found = []
    for city in spec.city_names:
        for place in range(40):
            full = place_view(spec, city, 48, 0, place)
            if full.attempt > 0 and full.shown:
                found.append((city, place, full))
    assert len(found) >= 2
    for city, place, full in found[:4]:
        for name in full.shown:
            k = object_index(name)
            searched = place_view(spec, city, 48, 0, place, omit=frozenset({k}))
            assert searched.attempt == full.attempt and searched.shown == full.shown
            keep = (full.labels != k) & (full.labels != FENCE)
            assert np.array_equal(searched.rgb[keep], full.rgb[keep])
            direct = place_view(spec, city, 48, 0, place, omit=frozenset({k}), attempt=full.attempt)
            assert np.array_equal(direct.rgb, searched.rgb)


def test_the_backdrop_cannot_be_left_out_and_bad_paths_are_refused(datasets):
    folder = datasets / "views"
    record = SynthRecord.read(folder)
    for name in ("sky", "building", "road", "sidewalk"):
        with pytest.raises(CityqError, match="nothing stands behind"):
            Replayer(record).draw("tokyo/000000_00.png", [name])
    assert scene_ref(record, "tokyo/000001_02.png").view == 2
    for bad in ("tokyo/000000.png", "tokyo/000000_05.png", "paris/000000_00.png", "tokyo/x.png", "000000_00.png"):
        with pytest.raises(CityqError):
            scene_ref(record, bad)
    with pytest.raises(CityqError, match="synth.json"):
        SynthRecord.read(datasets)
    with pytest.raises(CityqError, match="not a cityq synth"):
        SynthRecord.from_dict({"summary": {"size": 8}})


def test_a_left_out_class_is_painted_into_the_scene_labels_only():
    canvas = Canvas(8, omit=frozenset({32}))
    canvas.rgb[:] = 0.25
    mask = np.ones((3, 3), bool)
    assert canvas.paint(1, 1, mask, (1.0, 0.0, 0.0), 32) == 9
    assert canvas.paint(5, 5, mask, (0.0, 1.0, 0.0), 12) == 9
    assert (canvas.labels == 32).sum() == 0 and (canvas.scene_labels == 32).sum() == 9
    assert (canvas.labels == 12).sum() == 9 and (canvas.scene_labels == 12).sum() == 9
    assert np.all(canvas.rgb[1:4, 1:4] == np.float32(0.25))
    plain = Canvas(8)
    assert plain.scene_labels is plain.labels  # nothing left out: no second map to keep


def test_bare_earth_is_laid_where_the_full_scene_has_ground():
    """Earth looks at the canvas for road and sidewalk: it must see the scene with nothing left
    out, or leaving out an object lying over the road would move the earth patch."""
    from cityq.synth.background import FacadeRow, draw_ground
    from cityq.synth.drawers import Instance
    from cityq.synth.drawers.earth import plan_earth
    from cityq.synth.scene import SceneContext
    from cityq.synth.street import Street

    awning, earth = object_index("awning"), object_index("earth")
    drawn = []
    for omit in (frozenset(), frozenset({awning})):
        rng = np.random.default_rng(0)
        street = Street.sample(rng, 64)
        rows = {side: FacadeRow.sample(rng, street, side, light=0.8) for side in ("left", "right")}
        ctx = SceneContext(Canvas(64, omit), street, rows)
        draw_ground(ctx.canvas, rng, street)
        ctx.canvas.rect(0, 44, 64, 54, (1.0, 0.0, 0.0), awning)  # across the road, left out in the second
        for step in plan_earth(ctx, rng, Instance("ground", 1.0, 0.15)):
            step.paint()
        drawn.append(ctx.canvas)
    full, without = drawn
    assert (full.labels == earth).any()
    assert np.array_equal(full.labels == earth, without.scene_labels == earth)
    assert np.array_equal(without.labels == earth, (full.labels == earth))
