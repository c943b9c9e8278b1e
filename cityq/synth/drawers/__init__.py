"""Object drawers, a registry keyed by ADE20K class name.

A drawer plans one instance of its object (where it stands, how big it is, its colours) and
returns the paint steps; the scene orders steps back to front. Each drawer paints only its own
class, so a planted class can never leak into another city through a shared object.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from cityq.objects import object_index, object_name

WHERES = ("facade", "ground", "skyline")


@dataclass(frozen=True)
class Instance:
    where: str  # 'facade', 'ground' or 'skyline'
    scale: float  # size multiplier on the object's natural size (shared objects)
    area: float | None  # target visible area as a fraction of the image (planted objects)


@dataclass
class Step:
    layer: str  # 'skyline', 'facade', 'flat' (on the ground) or 'standing'
    z: float  # depth (m): standing steps are painted far to near
    paint: Callable[[], None]


@dataclass(frozen=True)
class Drawer:
    name: str  # ADE20K class name: the label it paints
    wheres: tuple[str, ...]  # placements it supports; the first is its default
    plan: Callable  # (ctx, rng, Instance) -> list[Step]

    @property
    def label(self) -> int:
        return object_index(self.name)


DRAWERS: dict[str, Drawer] = {}


def drawer(name: str, wheres: tuple[str, ...]):
    """Register `plan(ctx, rng, inst) -> list[Step]` as the drawer of ADE20K class `name`."""
    canonical = object_name(object_index(name))

    def register(plan):
        if canonical in DRAWERS:
            raise ValueError(f"two drawers for {canonical!r}")
        DRAWERS[canonical] = Drawer(canonical, wheres, plan)
        return plan

    return register


def get_drawer(name: str) -> Drawer:
    _load_all()
    return DRAWERS[object_name(object_index(name))]


def list_drawers() -> list[str]:
    _load_all()
    return sorted(DRAWERS)


def _load_all() -> None:
    # Importing the modules registers their drawers.
    from cityq.synth.drawers import (  # noqa: F401
        awning,
        bicycle,
        earth,
        fence,
        flag,
        people_cars,
        signboard,
        skyscraper,
        street_furniture,
        tree,
    )


# -- placement helpers shared by drawers --------------------------------------------------

def log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(max(hi, lo * 1.001)))))


def depth_for_area(ctx, area: float, width_m: float, height_m: float, fill: float) -> float:
    """Depth at which an upright object of that size covers `area` of the image."""
    pixels = area * ctx.size**2
    return ctx.street.f * float(np.sqrt(fill * width_m * height_m / pixels))


def sidewalk_spot(ctx, rng: np.random.Generator, z_lo: float = 3.0, z_hi: float = 60.0,
                  side: str | None = None, kerb: bool = False) -> tuple[float, float, str]:
    """(X, z, side) of a point on a sidewalk; `kerb` keeps it near the road edge."""
    st = ctx.street
    side = side or ("left" if rng.random() < 0.5 else "right")
    if side == "left":
        inner, outer = st.road_l - 0.3, st.walk_l + 0.4
    else:
        inner, outer = st.road_r + 0.3, st.walk_r - 0.4
    X = inner + (outer - inner) * (rng.uniform(0.0, 0.25) if kerb else rng.uniform(0.0, 1.0))
    z_lo = max(z_lo, st.min_visible_z(X) * 0.9)
    return X, log_uniform(rng, z_lo, max(z_hi, z_lo * 1.5)), side


def facade_side(ctx, rng: np.random.Generator) -> str:
    return "left" if rng.random() < 0.5 else "right"
