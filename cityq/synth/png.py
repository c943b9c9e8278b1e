"""A minimal PNG writer for 8-bit RGB and grayscale arrays.

PIL spends ~3 ms choosing row filters even at compress_level=0; scenes are full of sensor
noise and barely compress anyway, so we store rows unfiltered: 20x faster, same pixels, and
any PNG reader (PIL included) reads the files.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

_COLOUR_TYPE = {1: 0, 3: 2}  # grayscale, truecolour


def encode_png(array: np.ndarray, level: int) -> bytes:
    """PNG bytes of a uint8 (h, w) or (h, w, 3) array; `level` is zlib's (0 = stored)."""
    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError("encode_png takes uint8 (h, w) or (h, w, 3) arrays")
    h, w = array.shape[:2]
    channels = 1 if array.ndim == 2 else 3
    rows = np.empty((h, w * channels + 1), np.uint8)
    rows[:, 0] = 0  # filter type None on every row
    rows[:, 1:] = array.reshape(h, -1)
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOUR_TYPE[channels], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)) + _chunk(b"IEND", b""))


def write_png(path: Path, array: np.ndarray, level: int = 1) -> None:
    Path(path).write_bytes(encode_png(array, level))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
