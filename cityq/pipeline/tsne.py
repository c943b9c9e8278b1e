"""t-SNE implementations by name: points (N,p) -> map (N,2). `embed` looks them up in TSNE_METHODS.

- `sklearn`: scikit-learn's Barnes-Hut t-SNE with its defaults.
- `opentsne`: openTSNE with its defaults (the baseline of the fast method below).
- `opentsne-fast`: the same objective and the same openTSNE code, with three approximations
  that make 30,000 masks take about a quarter of the time (docs/embeddings.md, "Fast t-SNE"):
  10 Annoy trees instead of 50 for the neighbours, the FFT interpolation grid capped at
  `max_intervals` intervals per side (openTSNE uses one per unit of the map's extent, so
  each iteration gets dearer as the map expands), and a shorter schedule: 125 exaggerated
  iterations instead of 250, then at most 500 that stop once the KL divergence falls by less
  than 2% over 50 iterations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cityq.errors import CityqError


def require_opentsne(method: str = "opentsne"):
    try:
        import openTSNE
    except ImportError as exc:
        raise CityqError(
            f"--method {method} needs the openTSNE package: pip install openTSNE "
            "(or pip install 'cityq[tsne]'), or use --method sklearn"
        ) from exc
    return openTSNE


def tsne_sklearn(points: np.ndarray, perplexity: float, seed: int, n_jobs: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    # sklearn's defaults (Barnes-Hut, 1000 iterations, PCA init, learning rate 'auto').
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                random_state=seed, n_jobs=n_jobs)
    return tsne.fit_transform(points)


def tsne_opentsne_phases(points: np.ndarray, perplexity: float, seed: int,
                         n_jobs: int) -> tuple[np.ndarray, tuple[float, float, float]]:
    """openTSNE's defaults (FFT-accelerated gradients, 250 + 500 iterations, PCA init), run as
    `TSNE.fit` runs them (the same three calls, so the same map) with a clock between phases:
    the map and the wall time of affinities + initialisation, exaggerated, normal phase."""
    tsne = require_opentsne().TSNE(n_components=2, perplexity=perplexity, initialization="pca",
                                   random_state=seed, n_jobs=n_jobs)
    clock = [time.perf_counter()]
    embedding = tsne.prepare_initial(points)
    clock.append(time.perf_counter())
    embedding.optimize(n_iter=tsne.early_exaggeration_iter, exaggeration=tsne.early_exaggeration,
                       momentum=tsne.initial_momentum, inplace=True, propagate_exception=True)
    clock.append(time.perf_counter())
    embedding.optimize(n_iter=tsne.n_iter, exaggeration=tsne.exaggeration,
                       momentum=tsne.final_momentum, inplace=True, propagate_exception=True)
    clock.append(time.perf_counter())
    return np.asarray(embedding), tuple(float(b - a) for a, b in zip(clock, clock[1:]))


def tsne_opentsne(points: np.ndarray, perplexity: float, seed: int, n_jobs: int) -> np.ndarray:
    return tsne_opentsne_phases(points, perplexity, seed, n_jobs)[0]


@dataclass(frozen=True)
class FastTSNEConfig:
    """What `opentsne-fast` changes from openTSNE's defaults (which are given beside each field)."""

    knn_trees: int = 10  # Annoy trees for the 3 x perplexity neighbours (50); recall 0.99 at 30k
    max_intervals: int = 80  # FFT grid intervals per side at most (uncapped: one per unit of extent)
    exaggerated_iterations: int = 125  # early exaggeration phase (250)
    max_iterations: int = 500  # normal phase at most (exactly 500)
    tolerance: float = 0.02  # stop when the KL divergence fell by less than this fraction ...
    check_every: int = 50  # ... over this many iterations (and never before 2 x check_every)
    chunk: int = 25  # iterations between grid resizes (each openTSNE call ends with one KL evaluation)
    gradient: str = "auto"  # openTSNE's negative gradient: "auto" = Barnes-Hut below 10,000 points, else "fft"


@dataclass(frozen=True)
class FastTSNERun:
    xy: np.ndarray  # (N,2) float64
    exaggerated_iterations: int
    iterations: int  # normal phase, as run
    converged: bool  # stopped by the KL test before max_iterations
    kl_divergence: float  # openTSNE's estimate at the end (on the capped grid)
    largest_grid: int  # most FFT intervals per side at a resize; 0 for Barnes-Hut
    capped: bool  # the cap was below the map's extent at some resize (FFT only)
    seconds: tuple[float, float, float]  # wall time of affinities + initialisation, exaggerated, normal phase


def _extent(embedding) -> float:
    return float(np.ptp(np.asarray(embedding), axis=0).max())


def tsne_fast_run(points: np.ndarray, perplexity: float, seed: int, n_jobs: int,
                  config: FastTSNEConfig = FastTSNEConfig()) -> FastTSNERun:
    """openTSNE's t-SNE with fewer Annoy trees, a capped FFT grid and a KL-based stop."""
    openTSNE = require_opentsne("opentsne-fast")
    points = np.asarray(points, dtype=np.float64)
    floor = min(50, config.max_intervals)  # openTSNE's least number of intervals (50), under the cap
    # Only Annoy takes a number of trees: openTSNE's "auto" uses exact neighbours below 1,000 points.
    annoy = len(points) >= 1000
    tsne = openTSNE.TSNE(  # the baseline's settings but for the neighbour search and the grid's floor
        n_components=2, perplexity=perplexity, initialization="pca", random_state=seed, n_jobs=n_jobs,
        neighbors="annoy" if annoy else "exact", knn_kwargs={"n_trees": config.knn_trees} if annoy else None,
        negative_gradient_method=config.gradient, min_num_intervals=floor)
    # The baseline's affinities, PCA initialisation and gradient-descent parameters.
    clock = [time.perf_counter()]
    embedding = tsne.prepare_initial(points)
    clock.append(time.perf_counter())
    fft = config.gradient in ("fft", "FFT", "interpolation") or (
        config.gradient == "auto" and len(points) >= 10_000)
    extents: list[float] = []

    def phase(n_iter: int, check: bool, **params) -> tuple[int, bool]:
        nonlocal embedding
        done, history = 0, []
        while done < n_iter:
            # openTSNE gives the grid extent / ints_in_interval intervals per side: a wider
            # interval keeps it at max_intervals however far the map expands.
            extents.append(_extent(embedding))
            ints = max(1.0, extents[-1] / config.max_intervals)
            step = min(config.chunk, n_iter - done)
            embedding = embedding.optimize(step, inplace=True, ints_in_interval=ints, **params)
            done += step
            history.append((done, float(embedding.kl_divergence)))
            # Converged: the KL divergence fell by less than `tolerance` over `check_every` iterations.
            earlier = [kl for at, kl in history if at <= done - config.check_every]
            if (check and done >= 2 * config.check_every and earlier
                    and earlier[-1] - history[-1][1] < config.tolerance * earlier[-1]):
                return done, True
        return done, False

    early, _ = phase(config.exaggerated_iterations, check=False, exaggeration=tsne.early_exaggeration,
                     momentum=tsne.initial_momentum)
    clock.append(time.perf_counter())
    iterations, converged = phase(config.max_iterations, check=True, exaggeration=tsne.exaggeration,
                                  momentum=tsne.final_momentum)
    clock.append(time.perf_counter())
    return FastTSNERun(
        xy=np.asarray(embedding, dtype=np.float64).copy(), exaggerated_iterations=early,
        iterations=iterations, converged=converged, kl_divergence=float(embedding.kl_divergence),
        largest_grid=max(max(floor, min(int(e), config.max_intervals)) for e in extents) if fft else 0,
        capped=fft and max(extents) > config.max_intervals,
        seconds=tuple(float(b - a) for a, b in zip(clock, clock[1:])),
    )


def tsne_fast(points: np.ndarray, perplexity: float, seed: int, n_jobs: int) -> np.ndarray:
    return tsne_fast_run(points, perplexity, seed, n_jobs).xy


# Registry: method name -> (points (N,p) float, perplexity, seed, n_jobs) -> (N,2).
TSNE_METHODS: dict[str, Callable[[np.ndarray, float, int, int], np.ndarray]] = {
    "sklearn": tsne_sklearn,
    "opentsne": tsne_opentsne,
    "opentsne-fast": tsne_fast,
}
NEEDS_OPENTSNE = ("opentsne", "opentsne-fast")


def check_method(method: str) -> None:
    """An unknown method, or one whose package is missing: a one-line error before any work."""
    if method not in TSNE_METHODS:
        raise CityqError(f"unknown t-SNE method {method!r}: use one of {', '.join(TSNE_METHODS)}")
    if method in NEEDS_OPENTSNE:
        require_opentsne(method)
