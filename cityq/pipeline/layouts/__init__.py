"""Dataset layouts, registered by name: how a data set as it ships is organised.

    folders    any tree of images under each city folder (the place id is the file stem,
               or --place-pattern's group 1)
    pitts250k  Pittsburgh 250k as released with NetVLAD: 000/ ... 010/ of
               NNNNNN_pitchP_yawY.jpg (24 views per place), queries_real/, datasets/*.mat
    tokyo247   Tokyo 24/7 as released: 038xx/ blocks of <panorama>_012_<yaw>.png (12 views per
               place), 247query*/ query images with .csv, tokyo247.mat

`cityq dataset add ROOT --layout NAME` (every city) or `--layout CITY=NAME`; `auto` (the
default) takes, per city folder, the first layout whose `detect` says yes, else `folders`.
What each layout expects, with sources: docs/real-data.md.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from cityq.errors import CityqError
from cityq.pipeline.layouts.base import Entry, ImageMeta, Layout, LayoutOptions, Problem, Scan

__all__ = ["Entry", "ImageMeta", "Layout", "LayoutOptions", "Problem", "Scan", "detect_layout", "get_layout",
           "layout_names", "register_layout", "resolve_layouts"]

AUTO = "auto"
FALLBACK = "folders"
_LAYOUTS: dict[str, Layout] = {}


def register_layout(layout: Layout) -> Layout:
    if layout.name in _LAYOUTS:
        warnings.warn(f"layout {layout.name!r} registered twice; the later one wins", stacklevel=2)
    _LAYOUTS[layout.name] = layout
    return layout


def layout_names() -> list[str]:
    return list(_LAYOUTS)


def get_layout(name: str) -> Layout:
    if name not in _LAYOUTS:
        raise CityqError(f"unknown layout {name!r}; known: {AUTO}, {', '.join(_LAYOUTS)}")
    return _LAYOUTS[name]


def detect_layout(city_dir: Path, files: list[Path]) -> Layout:
    """The first specific layout that recognises the folder, else `folders`."""
    for name, layout in _LAYOUTS.items():
        if name != FALLBACK and layout.detect(city_dir, files):
            return layout
    return _LAYOUTS[FALLBACK]


def resolve_layouts(specs: tuple[str, ...] | list[str], cities: list[str]) -> dict[str, str | None]:
    """City -> layout name from `--layout` values (NAME for every city, CITY=NAME for one);
    None where `auto` leaves the choice to `detect_layout`."""
    every: str | None = None
    per_city: dict[str, str | None] = {}
    for spec in specs or (AUTO,):
        city, sep, name = spec.partition("=")
        if not sep:
            city, name = "", city
        name = name.strip()
        if name != AUTO:
            get_layout(name)  # an unknown name is an error here, before any file is read
        value = None if name == AUTO else name
        if not sep:
            every = value
        elif city.strip() not in cities:
            raise CityqError(f"--layout {spec}: no city folder {city.strip()!r} (cities: {', '.join(cities)})")
        else:
            per_city[city.strip()] = value
    return {city: per_city.get(city, every) for city in cities}


def _register_builtin() -> None:
    from cityq.pipeline.layouts import folders, pitts250k, tokyo247

    for module in (folders, pitts250k, tokyo247):
        register_layout(module.LAYOUT)


_register_builtin()
