"""Draw a stored synthetic image again, with chosen objects left out (reliance by removal, SPEC §11).

A synthetic data set records everything its images were drawn from: OUT/synth.json holds the
spec, the seed, the image size and the views per place, and an image's path names its city,
place and view (`<city>/<place>.png`, or `<city>/<place>_<view>.png` with several views). From
these the generator draws the image again, byte for byte, or with every instance of some classes
left out and every random stream otherwise unchanged, so that what stood behind them shows: the
facade behind a sign, the road behind a car, the wall where a window was.

The backdrop (sky, building, road, sidewalk) cannot be left out: nothing stands behind it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cityq.errors import CityqError
from cityq.objects import object_index, object_name
from cityq.synth.scene import PlaceView, place_view
from cityq.synth.spec import Spec, spec_from_dict

BACKDROP = ("sky", "building", "road", "sidewalk")
_STEM = re.compile(r"^(\d+)(?:_(\d+))?$")


@dataclass(frozen=True)
class SynthRecord:
    """What synth.json records about a synthetic data set: enough to draw any image again."""

    spec: Spec
    size: int  # image side in pixels, as drawn
    seed: int
    views: int  # views per place (file names carry the view when > 1)

    @staticmethod
    def from_dict(data: dict, source: str = "synth.json") -> SynthRecord:
        """From synth.json's content ({"summary": ..., "spec": ...}), as `dataset add` stores it."""
        try:
            summary = data["summary"]
            size, seed, views = int(summary["size"]), int(summary["seed"]), int(summary["views"])
            spec = data["spec"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CityqError(f"{source} is not a cityq synth record (missing {exc})") from None
        return SynthRecord(spec_from_dict(spec, source), size, seed, views)

    @staticmethod
    def read(root: str | Path) -> SynthRecord:
        path = Path(root) / "synth.json"
        if not path.is_file():
            raise CityqError(f"{path} not found: only data sets written by `cityq synth` can be drawn again")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise CityqError(f"{path} is not valid JSON: {exc}") from None
        return SynthRecord.from_dict(data, str(path))


@dataclass(frozen=True)
class SceneRef:
    city: str
    place: int
    view: int


def scene_ref(record: SynthRecord, rel_path: str) -> SceneRef:
    """The (city, place, view) a data set's image path names."""
    parts = Path(rel_path).parts
    match = _STEM.match(Path(rel_path).stem) if len(parts) == 2 and rel_path.endswith(".png") else None
    if match is None or (match.group(2) is None) != (record.views == 1):
        form = "<city>/<place>_<view>.png" if record.views > 1 else "<city>/<place>.png"
        raise CityqError(f"{rel_path!r} is not a synthetic image path of this data set ({form})")
    city = parts[0]
    record.spec.city(city)  # CityqError naming the spec's cities
    view = int(match.group(2) or 0)
    if view >= record.views:
        raise CityqError(f"{rel_path!r}: view {view} but the data set has {record.views} views per place")
    return SceneRef(city, int(match.group(1)), view)


def removable(names) -> frozenset[int]:
    """ADE20K indices of the classes to leave out; CityqError for the backdrop."""
    indices = frozenset(object_index(n) if isinstance(n, str) else int(n) for n in names)
    backdrop = sorted(object_name(i) for i in indices & {object_index(n) for n in BACKDROP})
    if backdrop:
        raise CityqError(f"cannot draw a scene without {', '.join(backdrop)}: nothing stands behind the backdrop "
                         f"({', '.join(BACKDROP)}); remove it with --method impute instead")
    return indices


class Replayer:
    """Draws images of one data set again. Each image's kept placement attempt is remembered, so
    that after the first drawing every further removal from it draws one attempt only."""

    def __init__(self, record: SynthRecord):
        self.record = record
        self._attempts: dict[SceneRef, int] = {}

    def draw(self, rel_path: str, omit=()) -> PlaceView:
        ref = scene_ref(self.record, rel_path)
        r = self.record
        drawn = place_view(r.spec, ref.city, r.size, r.seed, ref.place, ref.view, removable(omit),
                           self._attempts.get(ref))
        self._attempts[ref] = drawn.attempt
        return drawn


def replay(root: str | Path, rel_path: str, synth: dict | SynthRecord | None = None,
           omit=()) -> tuple[np.ndarray, np.ndarray]:
    """(rgb uint8 (s,s,3), labels uint8 (s,s)) of the data set's image at `rel_path`, drawn again
    with the classes in `omit` (names or ADE20K indices) left out. `synth`: synth.json's content
    (or a SynthRecord); by default read from `root`/synth.json."""
    if synth is None:
        record = SynthRecord.read(root)
    elif isinstance(synth, SynthRecord):
        record = synth
    else:
        record = SynthRecord.from_dict(synth)
    drawn = Replayer(record).draw(rel_path, omit)
    return drawn.rgb, drawn.labels
