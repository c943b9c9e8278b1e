"""Colour palettes shared by every object, planted or not, in every city.

Objects take their colours from these palettes, and every palette is shared by objects of every
city except three that belong to one planted object each: "soil" (bare earth is brown, as it is
in real streets), "signage" (lit shop signs) and "railing" (white guard fences). What sets an
object apart belongs to the object; the colour test in tests/test_synth.py checks that nothing
outside the planted objects tells the cities apart.
"""

from __future__ import annotations

import numpy as np


def _rgb(*hexes: str) -> np.ndarray:
    return np.array([[int(h[i : i + 2], 16) / 255 for i in (0, 2, 4)] for h in hexes], np.float32)


PALETTES: dict[str, np.ndarray] = {
    "sky": _rgb("8fb8e0", "a9c8e8", "c7d6e4", "d9dde2", "b0b8c4", "e3d2c0", "9cb3cf"),
    "facade": _rgb("c9b79c", "b0a89a", "9c5a44", "d8d2c4", "8a7f72", "a39c8f", "e6e0d2", "6f6a64",
                   "b88a6a", "c4c0b6"),
    "glass": _rgb("3a4a5a", "5c7186", "2b3440", "8ea3b5", "46505a", "6d7f8c"),
    "paint": _rgb("b22a2a", "2a4fb2", "e8e8e8", "202020", "a8a8a8", "d8b02a", "2a8a4a", "d86a20",
                  "6a2a8a", "f0e0c0"),
    "metal": _rgb("4a4a4a", "6e6e6e", "2e3a2e", "1e1e1e", "8a8a8a", "3a3f4a"),
    "ground": _rgb("6c6a66", "8a8680", "9a8f7e", "7d6e5c", "a59a88", "5e5a55", "8c7a62"),
    # Lit shop signs: saturated, bright faces (Tokyo's signboards are lit, not painted wood).
    "signage": _rgb("ff2a5a", "20b8ff", "ffe01a", "2aff6a", "ff7a10", "fafafa", "9a4aff", "ff4ad8"),
    # Guard fences along the kerb: white and pale steel, as along Japanese streets.
    "railing": _rgb("f2f2ee", "e6e8e4", "d8dcd0", "c8e0c8", "f0e6c8", "dfe6ee"),
    "soil": _rgb("7a5a3a", "8a6642", "6b4c30", "94714a", "5e4530", "a07c52"),
    "asphalt": _rgb("4a4a4c", "55544f", "3e3f42", "605f5b"),
    "foliage": _rgb("3f6b2f", "557a35", "2f5228", "6b8a3a", "4a5f2a", "7a7f30"),
    "bark": _rgb("4a3a2a", "5c4a38", "3a3028", "6a5a48"),
    "skin": _rgb("f0c8a0", "d8a070", "a87048", "704830", "e8b890"),
    "clothing": _rgb("202020", "3a3a5a", "8a1a1a", "d8d8d8", "2a4a7a", "7a6a4a", "4a6a3a", "b8a080",
                     "5a5a5a"),
}


def colour(rng: np.random.Generator, palette: str, jitter: float = 0.06) -> np.ndarray:
    """A colour of the palette, jittered in brightness and hue a little."""
    table = PALETTES[palette]
    r = rng.random(5)  # one draw: this is called ~80 times per image
    base = table[int(r[0] * len(table))]
    tint = 1.0 + (r[1:4] - 0.5) * jitter + (r[4] - 0.5) * 2 * jitter
    return np.minimum(base * tint.astype(np.float32), 1.0)


def contrasting(rng: np.random.Generator, background: np.ndarray, palette: str, tries: int = 8) -> np.ndarray:
    """A palette colour far enough in brightness from `background` to be read on it (lettering)."""
    best, best_gap = None, -1.0
    for _ in range(tries):
        c = colour(rng, palette)
        gap = abs(float(c.mean() - background.mean()))
        if gap > best_gap:
            best, best_gap = c, gap
        if gap > 0.35:
            break
    return best
