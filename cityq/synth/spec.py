"""The city spec: which objects every city shares, and which each city alone has (planted).

A TOML file (see specs/default.toml, documented in docs/synthetic-cities.md). `load_spec`
validates everything up front and raises CityqError naming the file, the entry and the fix.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from cityq.errors import CityqError
from cityq.objects import object_index, object_name
from cityq.synth.drawers import WHERES, get_drawer, list_drawers

# Drawn by the background itself in every city: never plantable.
BACKGROUND = ("sky", "building", "road", "sidewalk", "windowpane", "door")
CITY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class SharedObject:
    name: str  # ADE20K class name
    probability: float  # chance that an image has any
    count: tuple[int, int]  # how many, uniform in [min, max], when it has some
    scale: tuple[float, float]  # size multiplier on the natural size


@dataclass(frozen=True)
class PlantedObject:
    name: str
    where: str  # 'facade', 'ground' or 'skyline' (the drawer must support it)
    weight: float  # share of the city's images in which it is THE planted object
    extra_probability: float  # chance it also appears where another one was picked
    count: tuple[int, int]
    area: tuple[float, float]  # target area of each instance, fraction of the image


@dataclass(frozen=True)
class City:
    name: str
    planted: tuple[PlantedObject, ...]
    unplanted: float = 0.0  # share of the city's images that show none of its planted objects


@dataclass(frozen=True)
class Spec:
    shared: tuple[SharedObject, ...]
    cities: tuple[City, ...]
    min_planted_area: float = 0.01  # a planted object smaller than this is re-drawn
    source: str = field(default="default", compare=False)

    def city(self, name: str) -> City:
        for c in self.cities:
            if c.name == name:
                return c
        raise CityqError(f"no city {name!r} in spec {self.source}; it has: {', '.join(self.city_names)}")

    @property
    def city_names(self) -> list[str]:
        return [c.name for c in self.cities]

    def to_dict(self) -> dict:
        return asdict(self)


def load_spec(path: str | Path | None = None) -> Spec:
    """Read and validate a spec; None gives the built-in default (tokyo and pittsburgh)."""
    if path is None:
        text, source = resources.files("cityq.synth").joinpath("specs/default.toml").read_text(), "default"
    else:
        p = Path(path)
        if not p.is_file():
            raise CityqError(f"spec file {p} not found; start from `cityq synth --show-spec > my.toml`")
        text, source = p.read_text(), str(p)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CityqError(f"spec {source} is not valid TOML: {exc}") from None
    return parse_spec(raw, source)


def spec_from_dict(data: dict, source: str = "<dict>") -> Spec:
    """The Spec that `Spec.to_dict()` wrote (synth.json keeps one beside every data set)."""
    try:
        shared = tuple(SharedObject(str(o["name"]), float(o["probability"]), _pair(o["count"], int),
                                    _pair(o["scale"], float)) for o in data["shared"])
        cities = tuple(City(str(c["name"]), tuple(
            PlantedObject(str(p["name"]), str(p["where"]), float(p["weight"]), float(p["extra_probability"]),
                          _pair(p["count"], int), _pair(p["area"], float)) for p in c["planted"]),
            float(c.get("unplanted", 0.0))) for c in data["cities"])
        spec = Spec(shared=shared, cities=cities, min_planted_area=float(data["min_planted_area"]),
                    source=str(data.get("source", source)))
    except (KeyError, TypeError, ValueError) as exc:
        raise CityqError(f"{source} does not hold a cityq synth spec ({type(exc).__name__}: {exc})") from None
    for name in [o.name for o in spec.shared] + [p.name for c in spec.cities for p in c.planted]:
        _drawable(name, source)
    return spec


def _pair(value, kind) -> tuple:
    low, high = value
    return kind(low), kind(high)


def default_spec_text() -> str:
    return resources.files("cityq.synth").joinpath("specs/default.toml").read_text()


def parse_spec(raw: dict, source: str = "<dict>") -> Spec:
    _keys(raw, {"scene", "shared", "cities"}, f"spec {source}")
    scene = raw.get("scene", {})
    _keys(scene, {"min_planted_area"}, f"[scene] of {source}")
    shared = tuple(_shared(name, entry, source) for name, entry in raw.get("shared", {}).items())
    cities_raw = raw.get("cities", {})
    if len(cities_raw) < 2:
        raise CityqError(f"spec {source} defines {len(cities_raw)} cities; define at least two under [cities.NAME]")
    cities = tuple(_city(name, entry, source) for name, entry in cities_raw.items())
    _check_disjoint(shared, cities, source)
    min_area = _number(scene.get("min_planted_area", 0.01), "[scene] min_planted_area", source, 0.0, 0.5)
    return Spec(shared=shared, cities=cities, min_planted_area=min_area, source=source)


def _shared(name: str, entry: dict, source: str) -> SharedObject:
    where = f"[shared.{name}] of {source}"
    _keys(entry, {"probability", "count", "scale"}, where)
    canonical = _drawable(name, where)
    return SharedObject(
        name=canonical,
        probability=_number(entry.get("probability", 1.0), f"{where} probability", source, 0.0, 1.0),
        count=_int_range(entry.get("count", [1, 1]), f"{where} count"),
        scale=_range(entry.get("scale", [0.85, 1.15]), f"{where} scale", 0.1, 5.0),
    )


def _city(name: str, entry: dict, source: str) -> City:
    where = f"[cities.{name}] of {source}"
    if not CITY_NAME.match(name):
        raise CityqError(f"city name {name!r} in {source} must be a plain folder name (letters, digits, _ . -)")
    _keys(entry, {"planted", "unplanted"}, where)
    planted_raw = entry.get("planted", [])
    if not planted_raw:
        raise CityqError(f"{where} has no planted objects; add at least one [[cities.{name}.planted]]")
    planted = tuple(_planted(i, p, f"[[cities.{name}.planted]] #{i + 1} of {source}")
                    for i, p in enumerate(planted_raw))
    names = [p.name for p in planted]
    if len(set(names)) != len(names):
        raise CityqError(f"{where} plants the same object twice; list each planted object once")
    unplanted = _number(entry.get("unplanted", 0.0), f"{where} unplanted", source, 0.0, 0.9)
    return City(name=name, planted=planted, unplanted=unplanted)


def _planted(i: int, entry: dict, where: str) -> PlantedObject:
    _keys(entry, {"object", "where", "weight", "extra_probability", "count", "area"}, where)
    if "object" not in entry:
        raise CityqError(f'{where} needs object = "<ADE20K class>"')
    canonical = _drawable(entry["object"], where)
    drawer = get_drawer(canonical)
    place = entry.get("where", drawer.wheres[0])
    if place not in drawer.wheres:
        raise CityqError(
            f"{where}: {canonical} cannot be drawn at where={place!r}; it supports {', '.join(drawer.wheres)}"
            f" (known places: {', '.join(WHERES)})"
        )
    return PlantedObject(
        name=canonical,
        where=place,
        weight=_number(entry.get("weight", 1.0), f"{where} weight", where, 1e-6, 1e6),
        extra_probability=_number(entry.get("extra_probability", 0.3), f"{where} extra_probability", where, 0.0, 1.0),
        count=_int_range(entry.get("count", [1, 1]), f"{where} count", low=1),
        area=_range(entry.get("area", [0.03, 0.1]), f"{where} area", 0.001, 0.6),
    )


def _check_disjoint(shared, cities, source) -> None:
    shared_names = {s.name for s in shared}
    owner: dict[str, str] = {}
    for city in cities:
        for p in city.planted:
            if p.name in shared_names:
                raise CityqError(
                    f"{p.name} is both shared and planted in {city.name} ({source}); "
                    "a planted object must appear in its own city only"
                )
            if p.name in BACKGROUND:
                raise CityqError(f"{p.name} is part of every scene's background and cannot be planted ({source})")
            if p.name in owner:
                raise CityqError(
                    f"{p.name} is planted in both {owner[p.name]} and {city.name} ({source}); "
                    "plant each object in one city"
                )
            owner[p.name] = city.name


def _drawable(name, where: str) -> str:
    if not isinstance(name, str):
        raise CityqError(f"{where}: object names are strings, got {name!r}")
    canonical = object_name(object_index(name))  # CityqError for unknown ADE20K names
    if canonical not in list_drawers():
        raise CityqError(f"{where}: no drawer for {canonical!r}; drawable objects: {', '.join(list_drawers())}")
    return canonical


def _keys(entry, allowed: set[str], where: str) -> None:
    if not isinstance(entry, dict):
        raise CityqError(f"{where} must be a table")
    unknown = set(entry) - allowed
    if unknown:
        raise CityqError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")


def _number(value, what: str, source: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not lo <= value <= hi:
        raise CityqError(f"{what} must be a number in [{lo}, {hi}], got {value!r}")
    return float(value)


def _range(value, what: str, lo: float, hi: float) -> tuple[float, float]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)
        or not lo <= value[0] <= value[1] <= hi
    ):
        raise CityqError(f"{what} must be [min, max] with {lo} <= min <= max <= {hi}, got {value!r}")
    return float(value[0]), float(value[1])


def _int_range(value, what: str, low: int = 0) -> tuple[int, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
        or not low <= value[0] <= value[1] <= 50
    ):
        raise CityqError(f"{what} must be [min, max] integers with {low} <= min <= max <= 50, got {value!r}")
    return int(value[0]), int(value[1])
