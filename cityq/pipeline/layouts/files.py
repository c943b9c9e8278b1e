"""Which files are images and which are label maps: one rule for every layout."""

from __future__ import annotations

import os
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm"}
LABELS_SUFFIX = ".labels.png"


def is_label_map(path: Path) -> bool:
    return path.name.endswith(LABELS_SUFFIX)


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not is_label_map(path)


def files_under(folder: Path) -> list[Path]:
    """Every non-hidden file below `folder`, sorted, following symlinked folders (e.g. a city
    folder of links to some of a release's folders) but never the same folder twice."""
    seen: set[tuple[int, int]] = set()
    found: list[Path] = []
    for top, dirs, names in os.walk(folder, followlinks=True):
        stat = os.stat(top)
        if (stat.st_dev, stat.st_ino) in seen:  # a link back up the tree, or a second link
            dirs[:] = []
            continue
        seen.add((stat.st_dev, stat.st_ino))
        dirs.sort()  # the first of two links to one folder wins, the same one every time
        found += [Path(top) / n for n in names if not n.startswith(".") and os.path.isfile(os.path.join(top, n))]
    return sorted(found)
