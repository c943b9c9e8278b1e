"""Filling an object's pixels: noisy linear imputation (ROAD), the mean colour, a strong blur.

Images are float (H, W, C) arrays in [0, 1] and masks bool (H, W), True where pixels are
removed. Each function returns a new float32 image that equals the input outside the mask.

`impute` is the noisy linear imputation of ROAD (Rong, Leemann et al. 2022, "A Consistent and
Efficient Evaluation Strategy for Attribution Methods"), as their reference code
(`road/imputations.py`, `NoisyLinearImputer`, also shipped in grad-cam's metrics) computes it:
every removed pixel equals the weighted mean of its 8 neighbours inside the image, weights 1/6
for the 4 direct and 1/12 for the 4 diagonal ones (renormalised at the image border), with
the removed neighbours themselves unknown: one sparse linear system per image and mask, all
channels solved at once. Then Gaussian noise is added to the removed pixels: ROAD's default is
0.01 in the units of the model's (normalised) input, which in pixel units is 0.01 x the
ImageNet std of each channel (about 0.0023, a little over half a grey level).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.linalg import spsolve

from cityq.imaging import IMAGENET_STD

# (dy, dx), weight: ROAD's neighbours_weights.
NEIGHBOURS = (((-1, -1), 1 / 12), ((-1, 0), 1 / 6), ((-1, 1), 1 / 12), ((0, -1), 1 / 6),
              ((0, 1), 1 / 6), ((1, -1), 1 / 12), ((1, 0), 1 / 6), ((1, 1), 1 / 12))
ROAD_NOISE = 0.01  # ROAD's default noise, in normalised model-input units
ROAD_SIGMA = tuple(ROAD_NOISE * s for s in IMAGENET_STD)  # the same noise in [0, 1] pixel units, per channel
BLUR_SIGMA_224 = 10.0  # px at 224 px (Fong & Vedaldi 2017's blur perturbation); scaled with the image


def impute(image: np.ndarray, mask: np.ndarray, noise=ROAD_SIGMA,
           rng: np.random.Generator | None = None) -> np.ndarray:
    """Noisy linear imputation of the masked pixels; `noise`: the noise's std (per channel or
    one number, pixel units; 0 for none), drawn from `rng`."""
    image, mask = _checked(image, mask)
    out = image.copy()
    if not mask.any():
        return out
    if mask.all():
        raise ValueError("cannot impute an image with every pixel removed: no pixel is left to impute from")
    h, w, c = image.shape
    unknown = np.flatnonzero(mask)
    n = unknown.size
    var = np.full(h * w, -1, np.int64)
    var[unknown] = np.arange(n)
    ys, xs = np.divmod(unknown, w)
    flat, flat_mask = image.reshape(-1, c), mask.ravel()
    diagonal = np.zeros(n)
    rhs = np.zeros((n, c))
    rows, cols, vals = [], [], []
    for (dy, dx), weight in NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        eq = np.flatnonzero(inside)  # equations (removed pixels) that have this neighbour
        neighbour = ny[inside] * w + nx[inside]
        diagonal[eq] += weight
        removed = flat_mask[neighbour]
        rows.append(eq[removed])
        cols.append(var[neighbour[removed]])
        vals.append(np.full(int(removed.sum()), -weight))
        rhs[eq[~removed]] += weight * flat[neighbour[~removed]]  # each equation once per offset
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diagonal)
    system = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    solved = np.asarray(spsolve(system, rhs)).reshape(n, c)
    sigma = np.broadcast_to(np.asarray(noise, np.float64), (c,))
    if np.any(sigma > 0):
        rng = rng if rng is not None else np.random.default_rng(0)
        solved = solved + rng.standard_normal((n, c)) * sigma
    out.reshape(-1, c)[unknown] = solved
    return out


def mean_fill(image: np.ndarray, mask: np.ndarray, colour) -> np.ndarray:
    """The masked pixels set to one colour (the data set's mean colour)."""
    image, mask = _checked(image, mask)
    out = image.copy()
    out[mask] = np.asarray(colour, np.float32)
    return out


def blur_fill(image: np.ndarray, mask: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """The masked pixels replaced by a strong Gaussian blur of the whole image (sigma in px;
    default 10 px at 224 px, scaled with the image's longer side; edges reflected)."""
    image, mask = _checked(image, mask)
    if sigma is None:
        sigma = BLUR_SIGMA_224 * max(image.shape[:2]) / 224
    blurred = ndimage.gaussian_filter(image, sigma=(sigma, sigma, 0), mode="reflect", truncate=3.0)
    out = image.copy()
    out[mask] = blurred[mask]
    return out


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def from_uint8(image: np.ndarray) -> np.ndarray:
    return np.asarray(image, np.float32) / np.float32(255.0)


def _checked(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    image = np.asarray(image, np.float32)
    mask = np.asarray(mask, bool)
    if image.ndim != 3 or mask.shape != image.shape[:2]:
        raise ValueError(f"need an (H, W, C) image and an (H, W) mask, got {image.shape} and {mask.shape}")
    return image, mask
