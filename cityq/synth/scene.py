"""One street scene: layout, objects back to front, lighting and noise -> (rgb, labels).

Four random streams per image, so that views of one place share everything but the camera
and the light, and so that re-drawing an occluded planted object does not change which
planted objects an image was given:
  choice  (seed, city, place)           which planted objects, how many (none: `unplanted`)
  layout  (seed, city, place, street)   the street, the buildings, the shared objects
                                        (street = attempt // PLACINGS)
  placing (seed, city, place, attempt)  where the planted objects go
  view    (seed, city, place, view)     camera shift, lighting, sensor noise

An occluded planted object is re-placed on the same street (PLACINGS times) before a new street
is drawn: choosing streets by how well they show a city's planted objects (open sky for
skyscrapers, near facades for signboards) would make the streets differ between cities.

A scene can be drawn again with classes left out (`omit`, for reliance by removal): everything
is planned and painted as before, with the same random draws, but the left-out classes' paint
writes nothing, so what stood behind them shows. The kept placement attempt is chosen by what
the scene with nothing left out shows, so it is the stored image's.
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass

import numpy as np

from cityq.objects import object_index
from cityq.synth.background import FacadeRow, draw_facades, draw_ground, draw_sky, draw_skyline
from cityq.synth.canvas import Canvas
from cityq.synth.drawers import Instance, Step, get_drawer
from cityq.synth.spec import City, Spec
from cityq.synth.street import Street

MAX_ATTEMPTS = 8
PLACINGS = 4  # tries at placing the planted objects on one street before drawing a new street
LAYER_ORDER = {"skyline": 0, "facade": 1, "flat": 2, "standing": 3}


@dataclass
class SceneContext:
    canvas: Canvas
    street: Street
    rows: dict[str, FacadeRow]

    @property
    def size(self) -> int:
        return self.canvas.size

    @staticmethod
    @functools.cache
    def label(name: str) -> int:
        return object_index(name)


def city_key(city: str) -> int:
    return zlib.crc32(city.encode())


def rng_for(seed: int, city: str, place: int, stream: int, extra: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, city_key(city), place, stream, extra]))


def choose_planted(city: City, rng: np.random.Generator) -> list[tuple[str, str, list[float]]]:
    """[(object, where, [area per instance])]: one primary by weight, others by extra_probability."""
    weights = np.array([p.weight for p in city.planted])
    primary = int(rng.choice(len(weights), p=weights / weights.sum()))
    chosen = []
    for i, p in enumerate(city.planted):
        extra = rng.random()
        if i == primary or extra < p.extra_probability:
            n = int(rng.integers(p.count[0], p.count[1] + 1))
            chosen.append((p.name, p.where, [float(rng.uniform(*p.area)) for _ in range(n)]))
    return chosen


@dataclass(frozen=True)
class PlaceView:
    rgb: np.ndarray  # uint8 (s, s, 3)
    labels: np.ndarray  # uint8 (s, s): the drawn labels (left-out classes absent)
    shown: dict[str, int]  # planted object -> pixels it shows in the scene with nothing left out
    attempt: int  # the placement attempt kept: replaying it alone redraws this image


def render_place_view(spec: Spec, city: str, size: int, seed: int, place: int, view: int = 0,
                      omit: frozenset[int] = frozenset()):
    """The image of (city, place, view): (rgb uint8 (s,s,3), labels uint8 (s,s), planted pixel counts)."""
    drawn = place_view(spec, city, size, seed, place, view, omit)
    return drawn.rgb, drawn.labels, drawn.shown


def place_view(spec: Spec, city: str, size: int, seed: int, place: int, view: int = 0,
               omit: frozenset[int] = frozenset(), attempt: int | None = None) -> PlaceView:
    """The image of (city, place, view), with the classes in `omit` left out; `attempt` (from an
    earlier call) draws only that placement attempt instead of searching for it again."""
    chosen = _chosen(spec, city, seed, place)
    best, best_smallest = None, -1
    for tried in range(MAX_ATTEMPTS) if attempt is None else (attempt,):
        rgb, labels, scene_labels = _render(spec, chosen, size, rng_for(seed, city, place, 1, tried // PLACINGS),
                                            rng_for(seed, city, place, 2, view), view > 0,
                                            rng_for(seed, city, place, 3, tried), frozenset(omit))
        shown = {name: int(np.count_nonzero(scene_labels == object_index(name))) for name, _, _ in chosen}
        smallest = min(shown.values(), default=size * size)  # nothing planted: nothing to re-place
        if smallest > best_smallest:
            best, best_smallest = PlaceView(rgb, labels, shown, tried), smallest
        if smallest >= spec.min_planted_area * size * size:
            break
    return best


def _chosen(spec: Spec, city: str, seed: int, place: int):
    spec_city = spec.city(city)
    chosen = choose_planted(spec_city, rng_for(seed, city, place, 0))
    # Its own draw, so that the unplanted share leaves every other image's choice as it was.
    if rng_for(seed, city, place, 0, 1).random() < spec_city.unplanted:
        chosen = []
    return chosen


def render(spec: Spec, chosen, size: int, layout: np.random.Generator, view: np.random.Generator,
           shift_camera: bool = False, placing: np.random.Generator | None = None,
           omit: frozenset[int] = frozenset()):
    """(rgb, labels) of one placement attempt; `omit`: ADE20K classes left out."""
    rgb, labels, _ = _render(spec, chosen, size, layout, view, shift_camera, placing, omit)
    return rgb, labels


def _render(spec: Spec, chosen, size: int, layout: np.random.Generator, view: np.random.Generator,
            shift_camera: bool, placing: np.random.Generator | None, omit: frozenset[int]):
    street = Street.sample(layout, size)
    rows = {side: FacadeRow.sample(layout, street, side, light=float(layout.uniform(0.65, 1.0)))
            for side in ("left", "right")}
    ctx = SceneContext(Canvas(size, omit), street, rows)

    steps: list[Step] = []
    for obj in spec.shared:
        if layout.random() < obj.probability:
            for _ in range(int(layout.integers(obj.count[0], obj.count[1] + 1))):
                inst = Instance(get_drawer(obj.name).wheres[0], float(layout.uniform(*obj.scale)), None)
                steps += get_drawer(obj.name).plan(ctx, layout, inst)
    for name, where, areas in chosen:
        for area in areas:
            steps += get_drawer(name).plan(ctx, placing or layout, Instance(where, 1.0, area))
    # Back to front: layer first, then far before near within a layer.
    if shift_camera:  # after planning: the world stays, the camera moves
        street.pan(view)
    steps.sort(key=lambda s: (LAYER_ORDER[s.layer], -s.z))
    by_layer = {name: [s for s in steps if s.layer == name] for name in LAYER_ORDER}

    draw_sky(ctx.canvas, layout, street)
    draw_ground(ctx.canvas, layout, street)
    draw_skyline(ctx.canvas, layout, street)
    _paint(by_layer["skyline"])
    for side in ("left", "right"):
        draw_facades(ctx.canvas, layout, street, rows[side])
    _paint(by_layer["facade"])
    _paint(by_layer["flat"])
    _paint(by_layer["standing"])
    return _expose(ctx.canvas.rgb, view), ctx.canvas.labels, ctx.canvas.scene_labels


def _paint(steps: list[Step]) -> None:
    for step in steps:
        step.paint()


def _expose(rgb: np.ndarray, view: np.random.Generator) -> np.ndarray:
    """Global lighting (exposure, white balance) and sensor noise, then 8 bits."""
    gain = view.uniform(0.75, 1.15)
    tint = view.normal(1.0, 0.04, 3).astype(np.float32)
    sigma = np.float32(view.uniform(0.008, 0.03))
    s = rgb.shape[0]
    bank = _noise_bank(s)
    oy, ox = view.integers(0, bank.shape[0] - s + 1, 2)
    rgb *= (gain * tint * 255.0).astype(np.float32)  # in place: the canvas is not used again
    rgb += bank[oy : oy + s, ox : ox + s] * (sigma * 255.0)
    np.clip(rgb, 0.0, 255.0, out=rgb)
    rgb += 0.5
    return rgb.astype(np.uint8)


@functools.cache
def _noise_bank(size: int) -> np.ndarray:
    # Drawing fresh normal noise for every image costs as much as the rest of the scene; a fixed
    # bank sampled at a random offset per image is as good for this purpose and deterministic.
    return np.random.default_rng(20190101).standard_normal((size + 97, size + 97, 3), dtype=np.float32)
