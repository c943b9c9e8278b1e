"""Removal by drawing a synthetic scene again without the object, and its control.

The removal: the scene replayed with every instance of the object's class left out (what stood
behind it shows; cityq/synth/replay.py). The control, "removed the same way": the control
region's pixels are taken from the scene replayed without every class the region covers, so
inside the region each object is replaced by what stood behind it; the backdrop (sky, building,
road, sidewalk) it covers stays as it was, since nothing stands behind it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cityq.objects import object_index
from cityq.synth.replay import BACKDROP, Replayer

_BACKDROP = frozenset(object_index(n) for n in BACKDROP)


def redraw_removal(replayer: Replayer, path: str, object_index_: int) -> np.ndarray:
    """uint8 (s, s, 3): the image at `path` drawn again without the class."""
    return replayer.draw(path, [object_index_]).rgb


def redraw_control(replayer: Replayer | Callable[[frozenset], np.ndarray], path: str, original: np.ndarray,
                   labels: np.ndarray, region: np.ndarray) -> np.ndarray:
    """uint8 (s, s, 3): `original` with the objects inside `region` (bool) replaced by what
    stood behind them, from the scene drawn again without their classes. `replayer` may also be
    a function omit -> rgb (a memo of the image's drawings: a control over one class is that
    class's removal)."""
    covered = frozenset(int(k) for k in np.unique(labels[region])) - _BACKDROP
    out = np.array(original, copy=True)
    if covered:
        behind = replayer(covered) if callable(replayer) else replayer.draw(path, covered).rgb
        out[region] = behind[region]
    return out
