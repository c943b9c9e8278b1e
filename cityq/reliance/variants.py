"""One image's removals: for each object, the image without it and the control, as the model sees them.

Everything happens at the model's input size S (the image squashed to S x S, as training and
ingest see it) with the class map at S (the one Grad-CAM's counts use), except `redraw`, which
draws the scene again at the data set's own size and squashes the result exactly as the stored
image is squashed. The results depend on the image, the object, the method and S, never on the
model: they are cached and reused for every model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from cityq.errors import CityqError
from cityq.reliance.control import control_region, control_seed
from cityq.reliance.redraw import redraw_control
from cityq.reliance.removal import blur_fill, from_uint8, impute, mean_fill, to_uint8
from cityq.synth.replay import Replayer

METHODS = ("redraw", "impute", "mean", "blur")


@dataclass
class Removal:
    object_id: int
    pixels: int  # the object's pixels in the class map at S
    removed: np.ndarray  # uint8 (S, S, 3): the image without the object
    control: np.ndarray  # uint8 (S, S, 3): the same shape removed elsewhere, the same way
    control_overlap: float  # share of the moved shape still on the object (0 wherever it fits elsewhere)


@dataclass
class Remover:
    """How to remove objects: the method and what it needs (a replayer for redraw, the data
    set's mean colour for mean)."""

    method: str
    size: int  # S, the model's input side
    mean_colour: tuple[float, float, float] | None = None  # [0, 1] RGB
    replayer: Replayer | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise CityqError(f"--method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.method == "redraw" and self.replayer is None:
            raise CityqError("--method redraw needs a synthetic data set (one written by `cityq synth`)")
        if self.method == "mean" and self.mean_colour is None:
            raise ValueError("the mean method needs the data set's mean colour")

    def remove(self, path: str, image: np.ndarray, classes: np.ndarray, objects, stored: np.ndarray | None = None
               ) -> list[Removal]:
        """The removals of `objects` (ADE20K ids present in `classes`) from `image` (uint8 (S,S,3));
        `path`: the image's path in its data set (it seeds the control and names the scene);
        `stored`: for redraw, the stored image at its own size, checked against the replay."""
        if self.method == "redraw":
            return self._redraw(path, classes, objects, stored)
        pixels = from_uint8(image)
        out = []
        for k in objects:
            mask = classes == k
            seed = control_seed(path, int(k))
            region = control_region(mask, seed)
            out.append(Removal(int(k), int(mask.sum()), self._fill(pixels, mask, seed),
                               self._fill(pixels, region.mask, seed + 1), region.overlap / max(int(mask.sum()), 1)))
        return out

    def _fill(self, pixels: np.ndarray, mask: np.ndarray, seed: int) -> np.ndarray:
        if self.method == "impute":
            return to_uint8(impute(pixels, mask, rng=np.random.default_rng(seed)))
        if self.method == "mean":
            return to_uint8(mean_fill(pixels, mask, self.mean_colour))
        return to_uint8(blur_fill(pixels, mask))

    def _redraw(self, path, classes, objects, stored) -> list[Removal]:
        original = self.replayer.draw(path)
        if stored is not None and not np.array_equal(original.rgb, stored):
            raise CityqError(f"{path}: the generator no longer draws this image as it was stored (the data set "
                             "was written by another version of cityq); remove objects with --method impute")
        drawn: dict[frozenset, np.ndarray] = {}

        def draw(omit: frozenset) -> np.ndarray:  # a control over one class is that class's removal
            if omit not in drawn:
                drawn[omit] = self.replayer.draw(path, omit).rgb
            return drawn[omit]

        out = []
        for k in objects:
            native = original.labels == k
            if not native.any():  # the class map at S shows it, the scene does not: another segmenter's map
                raise CityqError(f"{path}: the scene has no {int(k)}; --method redraw needs the `labels` segmenter")
            seed = control_seed(path, int(k))
            region = control_region(native, seed)
            removed = draw(frozenset({int(k)}))
            control = redraw_control(draw, path, original.rgb, original.labels, region.mask)
            out.append(Removal(int(k), int((classes == k).sum()), self._squash(removed), self._squash(control),
                               region.overlap / int(native.sum())))
        return out

    def _squash(self, rgb: np.ndarray) -> np.ndarray:
        """As the stored image reaches the model: squashed to S x S, bilinear with antialias (PIL)."""
        if rgb.shape[0] == self.size and rgb.shape[1] == self.size:
            return rgb
        return np.asarray(Image.fromarray(rgb).resize((self.size, self.size), Image.Resampling.BILINEAR))
