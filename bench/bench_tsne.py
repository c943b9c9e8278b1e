"""PCA + t-SNE time for the masks of one model: sklearn and openTSNE side by side, same data.

Goal (issue 8): <= 60 s for 30,000 masks on this machine's CPU. The masks are synthetic native
Grad-CAMs (14x14, VGG11's last conv at 224 px): each of 10 "cities" puts a Gaussian peak at
its own place, jittered per image, plus noise, min-max normalised, so there is cluster
structure for t-SNE to find; the k-NN accuracy of the city in the map is reported beside the
times so a fast but meaningless map would show.

    .venv/bin/python bench/bench_tsne.py [--quick]
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

FULL_N = 30_000
QUICK_N = 3_000
CAM = 14
CITIES = 10


def synthetic_cams(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CITIES, n)
    centres = rng.uniform(2, CAM - 3, size=(CITIES, 2))
    peaks = centres[labels] + rng.normal(scale=1.0, size=(n, 2))
    yy, xx = np.mgrid[0:CAM, 0:CAM].astype(np.float32)
    d2 = (yy[None] - peaks[:, 0, None, None]) ** 2 + (xx[None] - peaks[:, 1, None, None]) ** 2
    cams = np.exp(-d2 / 8.0) + 0.15 * rng.random((n, CAM, CAM))
    cams -= cams.min(axis=(1, 2), keepdims=True)
    cams /= cams.max(axis=(1, 2), keepdims=True) + 1e-7
    return cams.astype(np.float32), labels


def _knn_accuracy(xy: np.ndarray, labels: np.ndarray, k: int = 5, sample: int = 2000) -> float:
    """Leave-one-out k-NN accuracy of the city on a sample of the points (the query's measure)."""
    from sklearn.neighbors import NearestNeighbors

    index = np.random.default_rng(1).choice(len(xy), min(sample, len(xy)), replace=False)
    _, nearest = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy[index])
    votes = labels[nearest[:, 1:]]
    predicted = np.array([np.bincount(v, minlength=CITIES).argmax() for v in votes])
    return float((predicted == labels[index]).mean())


def run(quick: bool) -> list[dict]:
    return list(measure(quick))


def measure(quick: bool):
    """The benchmark rows, each yielded as soon as it is measured."""
    from cityq.pipeline.embed import TSNE_METHODS, pca_components, reduce_pca

    n = QUICK_N if quick else FULL_N
    cams, labels = synthetic_cams(n)
    flat = cams.reshape(n, -1)
    started = time.perf_counter()
    coords, explained = reduce_pca(flat, pca_components(50, n, flat.shape[1]), seed=0)
    pca_seconds = time.perf_counter() - started
    yield {"name": f"tsne: PCA {flat.shape[1]} -> {coords.shape[1]} dims, {n} masks",
                "value": round(pca_seconds, 2), "unit": "s",
                "note": f"keeps {explained:.1%} of the variance"}
    for method in ("opentsne", "sklearn"):  # the faster first: its figure arrives even if sklearn is cut short
        tsne = TSNE_METHODS[method]
        try:
            started, cpu_started = time.perf_counter(), time.process_time()
            xy = tsne(coords.astype(np.float64), 30.0, 0, os.cpu_count() or 1)
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        except Exception as exc:  # e.g. openTSNE not installed: report, keep the other figure
            yield {"name": f"tsne: {method}, {n} masks", "value": None, "unit": "s", "note": f"not run: {exc}"}
            continue
        total = pca_seconds + seconds
        yield {
            "name": f"tsne: PCA + t-SNE ({method}), {n} masks 14x14", "value": round(total, 1), "unit": "s",
            "baseline": 60.0 if not quick else None,
            "note": f"t-SNE {seconds:.1f} s wall, {cpu_seconds:.1f} s CPU (all threads; wall on a shared "
                    f"machine depends on the load); 5-NN city accuracy in the map {_knn_accuracy(xy, labels):.2f} "
                    f"(chance {np.bincount(labels).max() / n:.2f}); goal <= 60 s at 30,000",
        }


if __name__ == "__main__":
    for row in measure(quick="--quick" in sys.argv):
        print(row, flush=True)
