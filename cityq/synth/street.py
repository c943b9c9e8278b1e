"""The street's geometry: a pinhole camera 1.6 m above a straight street.

World coordinates in metres: X lateral (negative = left), Y height above the ground, z depth
along the street. Objects are placed in world coordinates and projected, so sizes, occlusion
order and the perspective of facades, fences and ground patches all follow from one camera.
A view of the same place moves the camera a little (`Street.pan`): the world stays put. Objects
are planned with the place's camera and painted with the view's, so they move with the scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CAMERA_HEIGHT = 1.6


@dataclass
class Street:
    size: int  # image side in pixels
    vx: float  # vanishing point, pixels
    vy: float  # horizon row, pixels
    f: float  # focal length, pixels
    road_l: float  # lateral position of the left kerb (m, < 0)
    road_r: float  # right kerb (m, > 0)
    walk_l: float  # left facade line (m, < road_l)
    walk_r: float  # right facade line (m, > road_r)
    far_l: float  # depth where the left row of facades ends (m)
    far_r: float
    skyline_z: float  # depth of the distant buildings that close the street (m)

    @staticmethod
    def sample(rng: np.random.Generator, size: int) -> "Street":
        road_half = rng.uniform(3.0, 6.5)
        offset = rng.uniform(-0.5, 0.5) * road_half  # the camera is rarely in the middle
        road_l, road_r = -road_half - offset, road_half - offset
        return Street(
            size=size,
            vx=size * rng.uniform(0.4, 0.6),
            vy=size * rng.uniform(0.36, 0.5),
            f=size * rng.uniform(0.85, 1.15),
            road_l=road_l,
            road_r=road_r,
            walk_l=road_l - rng.uniform(1.8, 4.5),
            walk_r=road_r + rng.uniform(1.8, 4.5),
            far_l=rng.uniform(60, 200),
            far_r=rng.uniform(60, 200),
            skyline_z=rng.uniform(220, 400),
        )

    def pan(self, rng: np.random.Generator) -> None:
        """Turn this place's camera into another view of it: pan, tilt and zoom slightly (in place)."""
        s = self.size
        self.vx += rng.normal(0, 0.03 * s)
        self.vy += rng.normal(0, 0.02 * s)
        self.f *= rng.uniform(0.95, 1.05)

    # -- projection -------------------------------------------------------------------------
    def project(self, X: float, Y: float, z: float) -> tuple[float, float]:
        return self.vx + self.f * X / z, self.vy + self.f * (CAMERA_HEIGHT - Y) / z

    def ppm(self, z: float) -> float:
        """Pixels per metre at depth z."""
        return self.f / z

    def min_visible_z(self, X: float) -> float:
        """Nearest depth at which lateral position X is inside the image."""
        edge = self.vx if X < 0 else self.size - self.vx
        return max(self.f * abs(X) / max(edge, 1.0), 1.0)

    def facade_line(self, side: str) -> float:
        return self.walk_l if side == "left" else self.walk_r

    def far(self, side: str) -> float:
        return self.far_l if side == "left" else self.far_r
