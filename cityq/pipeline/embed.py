"""t-SNE maps of a model's Grad-CAM masks (SPEC §10, paper Fig 3 and 4).

Each image's NATIVE-resolution CAM (h x w, e.g. 7x7 or 14x14, as the ingest stores it) is
flattened, reduced by PCA to at most 50 dimensions and mapped to 2-D by t-SNE. The full-size
mask is a bilinear upsample of the native CAM followed by a min-max rescale: a fixed, nearly
linear map of the native values, so it carries no information the native CAM lacks, while its
224x224 = 50,176 dimensions would make PCA 250-1000x more expensive for the same map.

`embed_arrays` is the numeric core (arrays in, arrays out); `embed_model` reads one model's
mask ingest, embeds it and has cityq.store.embeddings write the rows (one transaction,
replacing an earlier embedding of the same ingest and method).
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from cityq.errors import CityqError

# The t-SNE implementations, by name (tsne.py).
from cityq.pipeline.tsne import TSNE_METHODS, check_method

DEFAULT_PCA = 50
DEFAULT_PERPLEXITY = 30.0
# The fast openTSNE: 5-NN accuracy within 0.01 of openTSNE's defaults at a quarter of the time
# on 30,000 masks (docs/embeddings.md, "Fast t-SNE"); openTSNE is a core dependency for it.
DEFAULT_METHOD = "opentsne-fast"


def _default_jobs() -> int:
    return os.cpu_count() or 1


def check_perplexity(n_images: int, perplexity: float, what: str = "the masks") -> None:
    """t-SNE needs more than 3 x perplexity points (each point's neighbourhood is 3 x perplexity)."""
    if perplexity <= 0:
        raise CityqError(f"perplexity must be positive, got {perplexity:g}")
    if n_images > 3 * perplexity:
        return
    largest = (n_images - 1) // 3
    if largest >= 1:
        hint = f"pass --perplexity {largest} or less, or ingest more images"
    else:
        hint = "t-SNE needs at least 4 images: ingest more images"
    raise CityqError(
        f"{what} cover {n_images} images; t-SNE with perplexity {perplexity:g} needs more than "
        f"{3 * perplexity:g}: {hint}"
    )


def pca_components(requested: int, n_images: int, n_dims: int) -> int:
    """PCA keeps min(requested, N-1, D) components: there are no more directions than that."""
    if requested < 1:
        raise CityqError(f"--pca must be at least 1, got {requested}")
    return max(1, min(requested, n_images - 1, n_dims))


def reduce_pca(flat: np.ndarray, n_components: int, seed: int) -> tuple[np.ndarray, float]:
    """PCA coordinates (N,p) float32 and the fraction of the variance they keep."""
    from sklearn.decomposition import PCA

    flat = np.asarray(flat, dtype=np.float32)
    if not np.isfinite(flat).all():
        raise CityqError("the masks contain NaN or infinite values; re-run `cityq ingest` for this model")
    if float(flat.var(axis=0).sum()) == 0.0:
        raise CityqError("all masks are identical (e.g. all zero), so there is nothing to embed; "
                         "check the model with `cityq model` and re-ingest it")
    pca = PCA(n_components=n_components, random_state=seed)
    coords = pca.fit_transform(flat).astype(np.float32)
    return coords, float(pca.explained_variance_ratio_.sum())


def embed_arrays(
    cams: np.ndarray,
    pca: int = DEFAULT_PCA,
    perplexity: float = DEFAULT_PERPLEXITY,
    method: str = DEFAULT_METHOD,
    seed: int = 0,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Masks (N, ...) -> t-SNE coordinates (N,2) float64 and the PCA coordinates (N,p) float32.

    Each mask is flattened; p = min(pca, N-1, D) with D the flattened size."""
    check_method(method)
    cams = np.asarray(cams)
    flat = cams.reshape(len(cams), -1)
    check_perplexity(len(flat), perplexity)
    coords, _ = reduce_pca(flat, pca_components(pca, len(flat), flat.shape[1]), seed)
    xy = TSNE_METHODS[method](coords.astype(np.float64), float(perplexity), int(seed), n_jobs or _default_jobs())
    return np.asarray(xy, dtype=np.float64), coords


@dataclass(frozen=True)
class EmbeddingSummary:
    model: str
    ingest_id: int
    method: str
    n_images: int
    cam_shape: tuple[int, int]  # native CAM (h, w) that was flattened
    pca_components: int
    explained_variance: float  # fraction of the masks' variance the PCA keeps
    perplexity: float
    seed: int
    seconds: float  # PCA + t-SNE
    run_id: int


@dataclass(frozen=True)
class EmbedOptions:
    """`cityq embed`: which model's masks, and how they are mapped."""

    model: str
    pca: int = DEFAULT_PCA  # PCA components before t-SNE (capped at N-1 and the CAM size)
    perplexity: float = DEFAULT_PERPLEXITY
    method: str = DEFAULT_METHOD  # a TSNE_METHODS name
    seed: int = 0
    split: str = "test"  # the ingest's split
    target: str = "true"  # the ingest's Grad-CAM target
    n_jobs: int | None = None  # None: every core
    progress: bool | None = True


def embed_model(store, options: EmbedOptions) -> EmbeddingSummary:
    """Embed the native CAMs of the model's mask ingest (split, target) and store the map."""
    from cityq.progress import bar
    from cityq.store.embeddings import write_embedding
    from cityq.store.ingests import find_ingest
    from cityq.store.masks import read_cams

    model, method, split, target = options.model, options.method, options.split, options.target
    pca, perplexity, seed, n_jobs, progress = (options.pca, options.perplexity, options.seed, options.n_jobs,
                                               options.progress)
    check_method(method)  # an unknown method or a missing openTSNE fails before any work
    ingest = find_ingest(store, model, split=split, target=target)
    config = {"model": model, "ingest_id": ingest.ingest_id, "split": split, "target": target,
              "method": method, "pca": pca, "perplexity": perplexity, "seed": seed,
              "input": f"native Grad-CAM {ingest.cam_height}x{ingest.cam_width}, flattened"}
    steps = bar(total=4, desc=f"embed {model}", unit="step", disable=None if progress else True)
    with store.run("embed", subject=model, config=config) as run_id:
        steps.set_postfix_str("reading masks")
        image_ids, cams = read_cams(store, ingest.ingest_id)
        flat = np.asarray(cams, dtype=np.float32).reshape(len(cams), -1)
        check_perplexity(len(flat), perplexity, what=f"the {split} masks of model {model!r}")
        steps.update()
        store.release()  # readers get in during PCA and t-SNE
        started = time.perf_counter()
        steps.set_postfix_str("PCA")
        n_components = pca_components(pca, len(flat), flat.shape[1])
        coords, explained = reduce_pca(flat, n_components, seed)
        steps.update()
        steps.set_postfix_str(f"t-SNE ({method}, {len(flat)} masks)")
        xy = TSNE_METHODS[method](coords.astype(np.float64), float(perplexity), int(seed),
                                  n_jobs or _default_jobs())
        seconds = time.perf_counter() - started
        steps.update()
        steps.set_postfix_str("writing")
        summary = EmbeddingSummary(
            model=model, ingest_id=int(ingest.ingest_id), method=method, n_images=len(flat),
            cam_shape=(int(cams.shape[1]), int(cams.shape[2])), pca_components=n_components,
            explained_variance=explained, perplexity=float(perplexity), seed=int(seed),
            seconds=seconds, run_id=int(run_id),
        )
        write_embedding(store, ingest.ingest_id, method, image_ids, np.asarray(xy), coords,
                        {**config, **asdict(summary)}, seconds)
        steps.update()
    steps.close()
    return summary
