"""Places: the unit that must not straddle splits (SPEC §1), and the checks that it does not.

Pure functions on names and coordinates (no store, no files), shared by `dataset add`, the
layouts and `cityq check`:
- `place_from_pattern`: group 1 of --place-pattern, searched in the file name (default) or in
  the path below the city folder;
- `mostly_alone` and `shared_prefixes`: when (nearly) every image is its own place, do the
  file names still share prefixes the way views of one place do (a likely wrong or missing
  pattern)?
- `group_within`: points closer than a radius, chained, are one place (query photos of one
  spot taken at day, sunset and night).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np

from cityq.errors import CityqError

PATTERN_TARGETS = ("name", "path")  # what --place-pattern is matched against
_SEPARATOR = re.compile(r"[_\-. ]")
MIN_IMAGES = 4  # fewer images per city: the prefix check says nothing
MAX_SEPARATORS = 4
# "Every image its own place", give or take: a query and a database image that happen to share
# a stem, or a handful of true groups, must not hide a wrong pattern on all the rest.
ALONE_SHARE = 0.9


def compile_pattern(place_pattern: str | None):
    if place_pattern is None:
        return None
    try:
        pattern = re.compile(place_pattern)
    except re.error as exc:
        raise CityqError(f"--place-pattern {place_pattern!r} is not a valid regex: {exc}") from None
    if pattern.groups < 1:
        raise CityqError(f"--place-pattern {place_pattern!r} needs a group for the place id, "
                         "e.g. '^(\\d+)_\\d+\\.png$'")
    return pattern


def place_from_pattern(pattern, rel_in_city: str, on: str = "name") -> str | None:
    """Group 1 of the pattern, searched in the file name (`on="name"`) or in the posix path
    below the city folder (`on="path"`); None when it does not match or the group is empty."""
    if on not in PATTERN_TARGETS:
        raise CityqError(f"--place-pattern-on must be one of {', '.join(PATTERN_TARGETS)}, not {on!r}")
    text = PurePosixPath(rel_in_city).name if on == "name" else rel_in_city
    match = pattern.search(text)
    return match.group(1) if match and match.group(1) else None


def mostly_alone(images: int, alone: int) -> bool:
    """Whether `alone` of a city's `images` being the only image of their place is 'every
    image is its own place' for the leakage check."""
    return images >= MIN_IMAGES and alone >= ALONE_SHARE * images


@dataclass(frozen=True)
class SharedPrefixes:
    """File names that group into would-be places: `groups` prefixes (cut at separator number
    `cut`) cover `grouped` of `images` names; `example` is one prefix and some of its names."""

    images: int
    groups: int
    grouped: int
    cut: int
    example: tuple[str, int, tuple[str, ...]]  # (prefix, how many names, a few of them)

    def line(self, alone: int | None = None) -> str:
        prefix, n, names = self.example
        who = "every one" if alone is None or alone == self.images else f"{alone}"
        return (f"{who} of its {self.images} images is its own place, but the file names share prefixes as "
                f"views of one place do ({self.groups} prefixes cover {self.grouped} names; e.g. {prefix!r} x {n}: "
                f"{', '.join(names)})")


def shared_prefixes(names: list[str]) -> SharedPrefixes | None:
    """For a city whose every image is its own place: the first cut of the stems at their
    k-th separator (_ - . or space; k = 1..4) that groups them like views of places: at least
    two groups, on average two or more names a group, and 80% of the names in a group of two or
    more. `IMG_0001`-style names (one group) and plain numbers (no separator) do not."""
    stems = [PurePosixPath(n).stem for n in names]
    n = len(stems)
    if n < MIN_IMAGES:
        return None
    cuts = [[m.start() for m in _SEPARATOR.finditer(s)] for s in stems]
    deepest = min(MAX_SEPARATORS, max((len(c) for c in cuts), default=0))
    for k in range(1, deepest + 1):
        prefixes = [s[:c[k - 1]] if len(c) >= k else s for s, c in zip(stems, cuts)]
        counts = Counter(prefixes)
        grouped = sum(v for v in counts.values() if v >= 2)
        if 2 <= len(counts) <= n // 2 and grouped >= 0.8 * n:
            prefix, size = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
            members = tuple(sorted(PurePosixPath(name).name for name, p in zip(names, prefixes) if p == prefix)[:3])
            return SharedPrefixes(n, len(counts), grouped, k, (prefix, size, members))
    return None


def group_within(points: np.ndarray, radius: float) -> np.ndarray:
    """Single-linkage groups: points (n, 2) in metres closer than `radius`, chained. Returns a
    group index per point (the index of the group's first point). Brute force, in blocks: meant
    for the few thousand query images of a data set, not for its database."""
    n = len(points)
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    points = np.asarray(points, dtype=np.float64)
    for lo in range(0, n, 512):
        block = points[lo:lo + 512]
        near = np.argwhere(((block[:, None, :] - points[None, :, :]) ** 2).sum(-1) <= radius * radius)
        for a, b in near:
            ra, rb = root(lo + int(a)), root(int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(i) for i in range(n)], dtype=np.int64)


def local_metres(latitude: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """(n, 2) east/north metres from degrees, on a plane through the points' mean latitude:
    good to centimetres over a city, which is all a 25 m grouping radius needs."""
    lat = np.radians(np.asarray(latitude, dtype=np.float64))
    lon = np.radians(np.asarray(longitude, dtype=np.float64))
    earth = 6_371_008.8
    return np.stack([earth * np.cos(lat.mean()) * lon, earth * lat], axis=1) if len(lat) else np.zeros((0, 2))
