"""The control of a removal: the same mask shape moved to another part of the image.

A removal's drop in p_true mixes what the object meant to the model with what taking away that
many pixels (and filling them) does anyway. The control takes away the same number of pixels,
in the same shape, where the object is not, and is filled the same way; reliance is the drop
net of the control's.

Where the control goes, exactly (deterministic per image and object):
  1. M = the object's pixels (every instance of its class). Candidates are all cyclic shifts
     (dy, dx) != (0, 0) of M: np.roll(M, (dy, dx), axis=(0, 1)). A cyclic shift keeps the
     pixel count exactly; a shape pushed over an edge comes back at the opposite one.
  2. overlap(dy, dx) = pixels of the shifted mask on the object's own pixels (the circular
     autocorrelation of M, by FFT). Only shifts with the least overlap are kept: zero wherever
     the shape fits anywhere else, so the control covers other objects, not this one.
  3. Among those, shifts that keep the shape whole (its bounding box stays inside the image)
     are preferred to shifts that wrap it around an edge.
  4. One of the remaining shifts is drawn uniformly with numpy's default_rng(seed); callers
     derive the seed from the image's path and the object (`control_seed`), so the place is
     the same for every model, method and run.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ControlRegion:
    mask: np.ndarray  # bool (H, W): the moved shape
    shift: tuple[int, int]  # (dy, dx), each in [0, H) and [0, W) (cyclic)
    overlap: int  # pixels of the moved shape still on the object (0 wherever possible)
    wraps: bool  # True when the shape had to be wrapped around an image edge


def control_seed(path: str, object_index: int) -> int:
    """The seed of an image's control for one object: from the image's path in its data set."""
    return zlib.crc32(f"{path}\0{object_index}".encode())


def control_region(object_mask: np.ndarray, seed: int) -> ControlRegion:
    """Where the control of removing `object_mask` (bool (H, W), not empty) goes."""
    m = np.asarray(object_mask, bool)
    h, w = m.shape
    if not m.any():
        raise ValueError("an empty object has no control")
    if m.all():
        raise ValueError("an object that fills the image has no control")
    spectrum = np.fft.rfft2(m.astype(np.float64))
    overlap = np.rint(np.fft.irfft2(spectrum * np.conj(spectrum), s=(h, w))).astype(np.int64)
    overlap[0, 0] = np.iinfo(np.int64).max  # not moved at all
    least = overlap == overlap.min()
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    whole = _fits(rows[0], rows[-1], h)[:, None] & _fits(cols[0], cols[-1], w)[None, :]
    candidates = least & whole if (least & whole).any() else least
    flat = np.flatnonzero(candidates)
    pick = int(flat[np.random.default_rng(seed).integers(flat.size)])
    dy, dx = divmod(pick, w)
    return ControlRegion(np.roll(m, (dy, dx), axis=(0, 1)), (int(dy), int(dx)), int(overlap[dy, dx]),
                         not bool(whole[dy, dx]))


def _fits(first: int, last: int, n: int) -> np.ndarray:
    """Per cyclic shift d in [0, n): whether [first, last] + d stays inside [0, n) unwrapped."""
    shifts = np.arange(n)
    down = shifts <= n - 1 - last  # moved forward
    up = shifts >= n - first  # moved back (d - n >= -first)
    return down | up
