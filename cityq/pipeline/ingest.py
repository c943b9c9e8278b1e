"""`cityq ingest`: Grad-CAM masks to Zarr, per-object counts to DuckDB, AR for model pairs.

An ingest is one model x split x target x segmentation. Its images are cut into blocks (one
Zarr chunk each). A block is the unit of work and of atomicity: its CAMs are written to the
chunk first, then its rows (`mask_images`, `object_counts`, `mask_blocks`) go to DuckDB in one
transaction (cityq.store.ingests). A block without its `mask_blocks` row does not exist,
whatever the chunk holds, so a run killed at any moment resumes from the first missing block
and ends with exactly the rows of an uninterrupted run. Everything per pixel happens in torch
on the device; only the native CAMs and the counts leave it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pyarrow as pa
import torch

from cityq.cams import upsample_cams
from cityq.counting import BlockCounts, count_block
from cityq.decoding import resolve_decoder
from cityq.device import resolve_device
from cityq.errors import CityqError
from cityq.heap import bound_heap
from cityq.imaging import normalize
from cityq.pipeline.gradcam import compute_cams
from cityq.prefetch import prefetched
from cityq.progress import bar
from cityq.store import datasets, ingests, mask_arrays, segmentations
from cityq.store.image_cache import load_image_files
from cityq.store.ingests import Ingest, NewIngest
from cityq.store.models import ModelRecord, get_model_record, load_model_weights
from cityq.thresholds import DEFAULT_GRID, parse_grid

TARGETS = ("true", "predicted")
SPLITS = ("train", "val", "test")
ENGINES = ("local", "ray")


@dataclass
class IngestOptions:
    split: str = "test"  # which images get masks
    segmenter: str = "labels"  # which segmentation the counts use
    target: str = "true"  # Grad-CAM for the true city, or the predicted one
    thresholds: str = DEFAULT_GRID  # the grid M(t) and the explanation area are counted on
    batch_size: int = 64  # images per forward/backward pass
    block_size: int = 256  # images per Zarr chunk and per DuckDB transaction
    device: str = "auto"
    # who decodes images not cached yet: pil (CPU threads), torch (on the device); auto: torch on a GPU
    decode: str = "auto"
    force: bool = False  # recompute a finished ingest
    progress: bool | None = None  # None: bars when stderr is a terminal
    engine: str = "local"  # "local": blocks in this process; "ray": units on a Ray cluster
    ray: object | None = None  # ray_ingest.RayOptions when engine is "ray"


@dataclass
class IngestSummary:
    model: str
    ingest_id: int
    already_done: bool = False
    images: int = 0
    seconds: float = 0.0
    write_seconds: float = 0.0
    rows_written: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)  # (image_id, reason)
    pairs: list[tuple[str, float]] = field(default_factory=list)  # (other model, mean AR)
    run_folder: str | None = None  # engine "ray": where the units' outputs went
    unit_seconds: list[float] = field(default_factory=list)  # engine "ray": each computed unit's time
    no_ar: list[tuple[str, str]] = field(default_factory=list)  # (other model, why it has no AR with this one)

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0

    @property
    def write_share(self) -> float:
        return self.write_seconds / self.seconds if self.seconds else 0.0


@dataclass
class IngestRun:
    """What every block of one ingest needs: the store, the model on its device, the request."""

    store: object
    record: ModelRecord
    network: torch.nn.Module
    layer: torch.nn.Module
    device: torch.device
    options: IngestOptions
    ingest: Ingest | None = None


def ingest_model(store, model: str, options: IngestOptions | None = None) -> IngestSummary:
    options = options or IngestOptions()
    started = time.perf_counter()
    if options.target not in TARGETS:
        raise CityqError(f"--target must be one of {', '.join(TARGETS)}, not {options.target!r}")
    if options.split not in SPLITS:
        raise CityqError(f"--split must be one of {', '.join(SPLITS)}, not {options.split!r}")
    if options.batch_size < 1 or options.block_size < 1:
        raise CityqError("--batch-size and --block-size must be positive")
    if options.engine not in ENGINES:
        raise CityqError(f"--engine must be one of {', '.join(ENGINES)}, not {options.engine!r}")
    if options.engine == "ray":
        from cityq.pipeline.ray_ingest import RayOptions, check_options

        options.ray = options.ray or RayOptions()
        check_options(options.ray, options.block_size)
    grid = parse_grid(options.thresholds)
    record = get_model_record(store, model)
    _check_cities(store, record)
    device = resolve_device(options.device)
    image_ids = datasets.split_image_ids(store, record.dataset, options.split)
    bound_heap(len(image_ids) * 3 * record.img_size ** 2)  # on large sets (cityq/heap.py)
    if not len(image_ids):
        raise CityqError(f"dataset {record.dataset!r} has no {options.split} images; "
                         "add images with `cityq dataset add`")

    from cityq.pipeline.segment import ensure_segmentation

    segmentation_id = ensure_segmentation(
        store, options.segmenter, record.dataset, image_ids.tolist(), record.img_size, record.img_size,
        device=str(device), progress=options.progress, ray=_segment_on_ray(options),
    )
    existing = ingests.existing_ingest(store, record.model, options.split, options.target, segmentation_id)
    if existing is not None and existing.thresholds != grid and not options.force:
        # Finished or not, the stored rows follow the other grid: never mix, never hide it.
        shown = ",".join(f"{t:g}" for t in existing.thresholds)
        raise CityqError(
            f"model {model!r} was ingested with another threshold grid ({shown}); "
            "rerun with that grid, or add --force to recompute with this one"
        )
    if existing is not None and existing.status == "done" and not options.force:
        from cityq.pipeline.residuals import compute_pending_residuals

        # The masks are done; AR may not be (a pair recorded before AR at a common resolution
        # existed gets it now), which is how an older store catches up: ingest again.
        pairs = compute_pending_residuals(store, existing, device=device, progress=options.progress)
        return IngestSummary(model=model, ingest_id=existing.ingest_id, already_done=True,
                             images=existing.n_images, seconds=time.perf_counter() - started, pairs=pairs)
    if existing is not None and options.force:
        ingests.delete_ingest(store, existing.ingest_id)
        existing = None

    store.release()  # loading the model and its first pass read no rows
    # channels_last: oneDNN's (and cuDNN's) fast convolution layout, 1.2-1.8x on this CPU
    # for the same numbers (differences ~1e-6).
    network = load_model_weights(store, record).to(device, memory_format=torch.channels_last)
    from cityq.models.registry import target_layer

    run = IngestRun(store, record, network, target_layer(network, record.arch), device, options)
    config = {
        "model": model, "split": options.split, "target": options.target, "segmenter": options.segmenter,
        "thresholds": list(grid), "batch_size": options.batch_size, "block_size": options.block_size,
        "device": str(device), "decode": resolve_decoder(options.decode, device).backend,
    }
    with store.run("ingest", subject=model, config=config):
        run.ingest = existing or ingests.create_ingest(store, NewIngest(
            model=record.model, split=options.split, target=options.target, segmentation_id=segmentation_id,
            segmenter=options.segmenter, thresholds=grid, size=(record.img_size, record.img_size),
            cam_size=_cam_shape(run), block_size=options.block_size, image_ids=image_ids))
        summary = IngestSummary(model=model, ingest_id=run.ingest.ingest_id)
        if options.engine == "ray":
            from cityq.pipeline.ray_ingest import run_units

            run_units(run, summary)
        else:
            _run_blocks(run, summary)
        ingests.finish_ingest(store, run.ingest.ingest_id)
        from cityq.pipeline.residuals import compute_pending_residuals

        summary.pairs = compute_pending_residuals(store, ingests.get_ingest(store, run.ingest.ingest_id),
                                                  device=device, progress=options.progress)
        from cityq.store.residuals import unpaired_models

        summary.no_ar = unpaired_models(store, ingests.get_ingest(store, run.ingest.ingest_id))
    summary.seconds = time.perf_counter() - started
    return summary


def _segment_on_ray(options: IngestOptions, batch_size: int = 16):
    """engine ray: segmentation units too, of the ingest's shard size rounded up to whole batches."""
    if options.engine != "ray":
        return None
    from dataclasses import replace

    return replace(options.ray, shard_size=-(-options.ray.shard_size // batch_size) * batch_size)


def _check_cities(store, record: ModelRecord) -> None:
    row = datasets.get_dataset(store, record.dataset)
    if row is None:
        raise CityqError(f"model {record.model!r} names dataset {record.dataset!r}, which is not in the store")
    cities = tuple(row["cities"])
    if set(cities) != set(record.cities):
        raise CityqError(
            f"model {record.model!r} knows the cities {', '.join(record.cities)} but dataset "
            f"{record.dataset!r} has {', '.join(cities)}; ingest it on a dataset with the same cities"
        )


def _cam_shape(run: IngestRun) -> tuple[int, int]:
    shapes = []
    handle = run.layer.register_forward_hook(lambda module, args, out: shapes.append(tuple(out.shape[-2:])))
    size = run.record.img_size
    try:
        with torch.no_grad():
            run.network.eval()(torch.zeros(1, 3, size, size, device=run.device))
    finally:
        handle.remove()
    return shapes[0]


def _run_blocks(run: IngestRun, summary: IngestSummary) -> None:
    store, ingest = run.store, run.ingest
    image_ids = ingests.image_ids_of(store, ingest)
    done = ingests.done_blocks(store, ingest.ingest_id)
    blocks = [b for b in range(-(-len(image_ids) // ingest.block_size)) if b not in done]
    city_index = {city: i for i, city in enumerate(run.record.cities)}
    cities = datasets.image_cities(store, image_ids)
    setup = cam_setup(run)
    array = mask_arrays.open_array(store, ingest)
    pending = sum(min(ingest.block_size, len(image_ids) - b * ingest.block_size) for b in blocks)
    quiet = None if run.options.progress is None else not run.options.progress
    # The next block's images are read and decoded on a worker thread while this one computes;
    # the worker reads files only (the rows of every image are fetched here, once).
    files = datasets.image_files(store, image_ids)
    load = partial(load_image_files, store.cache_dir, files, size=run.record.img_size,
                   decoder=resolve_decoder(run.options.decode, run.device))

    def read(block: int):
        return load_block(image_ids[block * ingest.block_size:(block + 1) * ingest.block_size], load,
                          run.record.img_size)

    with bar(total=pending, desc=f"ingest {run.record.model}", unit="img", disable=quiet) as progress:
        for block, (pixels, ok, failed) in prefetched(blocks, read):
            start = block * ingest.block_size
            ids = image_ids[start:start + ingest.block_size]
            summary.failures.extend(failed)
            seg_maps = (segmentations.load_segmentation(store, ingest.segmentation_id, ids[ok].tolist())
                        if ok.any() else None)
            targets = np.array([city_index[cities[int(i)]] for i in ids[ok]], dtype=np.int64)
            store.release()  # readers get in while the block is computed; its commit reconnects
            result = compute_block(setup, pixels, ok, targets, seg_maps, on_batch=progress.update)
            progress.update(int((~ok).sum()))
            write_started = time.perf_counter()
            summary.rows_written += _write_block(run, array, block, start, ids, result)
            summary.write_seconds += time.perf_counter() - write_started
            summary.images += int(ok.sum())


# -- one block: the per-block compute both engines call (local here, Ray in ray_units.py) ---

@dataclass(frozen=True)
class CamSetup:
    """What computing a block needs besides its images: the network and how to explain it."""

    network: torch.nn.Module  # on `device`, channels_last
    layer: torch.nn.Module  # the Grad-CAM target layer of `network`
    device: torch.device
    grid: torch.Tensor  # the threshold grid, float32 on `device`
    predicted: bool  # explain the predicted city instead of the true one
    batch_size: int  # images per forward/backward pass
    cam_hw: tuple[int, int]  # the target layer's h x w


def cam_setup(run: IngestRun) -> CamSetup:
    ingest = run.ingest
    return CamSetup(run.network, run.layer, run.device,
                    torch.tensor(ingest.thresholds, dtype=torch.float32, device=run.device),
                    ingest.target == "predicted", run.options.batch_size, (ingest.cam_height, ingest.cam_width))


@dataclass
class BlockResult:
    ok: np.ndarray  # (n,) bool: the image loaded
    cams: np.ndarray  # (n, h, w) float32 native CAMs, NaN where not ok
    targets: np.ndarray  # (n_ok,) explained class
    preds: np.ndarray  # (n_ok,) predicted class
    counts: list[BlockCounts]  # one per batch, images in batch order


def load_block(ids: np.ndarray, load, size: int):
    """Pixels of the block's images via `load(ids)` (uint8 (N,3,S,S), CityqError when one
    fails); an image that fails to load is skipped and reported as (image_id, reason)."""
    try:
        return load(ids.tolist()), np.ones(len(ids), dtype=bool), []
    except CityqError:
        pass
    tensors, ok, failed = [], np.zeros(len(ids), dtype=bool), []
    for position, image_id in enumerate(ids.tolist()):
        try:
            tensors.append(load([image_id]))
            ok[position] = True
        except CityqError as exc:
            failed.append((image_id, str(exc)))
    pixels = torch.cat(tensors) if tensors else torch.zeros(0, 3, size, size, dtype=torch.uint8)
    return pixels, ok, failed


def compute_block(setup: CamSetup, pixels, ok: np.ndarray, targets: np.ndarray, seg_maps, on_batch=None) -> BlockResult:
    """Native CAMs and counts of one block. `pixels`, `targets` and `seg_maps` hold the loaded
    images only (ok), in block order; batches are cut the same way whatever the engine, so
    both engines give bit-identical CAMs."""
    cams_block = np.full((len(ok), *setup.cam_hw), np.nan, dtype=np.float32)
    positions = np.flatnonzero(ok)
    explained, predicted, counts = [], [], []
    height, width = pixels.shape[-2:]
    for lo in range(0, len(positions), setup.batch_size):
        hi = lo + setup.batch_size
        batch = normalize(pixels[lo:hi]).to(setup.device).contiguous(memory_format=torch.channels_last)
        batch_targets = torch.as_tensor(targets[lo:hi], device=setup.device)
        if setup.predicted:
            with torch.no_grad():
                batch_targets = setup.network(batch).argmax(1)
        cams, logits = compute_cams(setup.network, setup.layer, batch, batch_targets)
        full = upsample_cams(cams, (height, width))
        classes = torch.as_tensor(seg_maps[lo:hi], device=setup.device)
        counts.append(count_block(full, classes, setup.grid))
        cams_block[positions[lo:hi]] = cams.cpu().numpy()
        explained.append(batch_targets.cpu().numpy())
        predicted.append(logits.argmax(1).cpu().numpy())
        if on_batch is not None:
            on_batch(len(batch))
    empty = np.zeros(0, np.int64)
    return BlockResult(ok, cams_block, np.concatenate(explained) if explained else empty,
                       np.concatenate(predicted) if predicted else empty, counts)


def block_rows(result: BlockResult, ids: np.ndarray, start: int, n_thresholds: int) -> tuple[pa.Table, pa.Table]:
    """The block's `mask_images` and `object_counts` rows, without the ingest_id column."""
    ok_ids = ids[result.ok]
    parts = result.counts
    images = pa.table({
        "image_id": pa.array(ok_ids.astype(np.int32)),
        "zarr_index": pa.array((start + np.flatnonzero(result.ok)).astype(np.int32)),
        "target_index": pa.array(result.targets.astype(np.int16)),
        "pred_index": pa.array(result.preds.astype(np.int16)),
        "area_pixels": _list_column(np.concatenate([p.area_pixels for p in parts]) if parts
                                    else np.zeros((0, n_thresholds), np.int32)),
        "mask_sum": pa.array(np.concatenate([p.mask_sum for p in parts]) if parts else np.zeros(0)),
    })
    frames, offset = [], 0
    for counts in parts:
        frames.append(pa.table({
            "image_id": pa.array(ok_ids[offset + counts.image_index].astype(np.int32)),
            "object_id": pa.array(counts.object_id),
            "n_pixels": pa.array(counts.n_pixels),
            "soft_sum": pa.array(counts.soft_sum),
            "m_pixels": _list_column(counts.m_pixels),
        }))
        offset += len(counts.mask_sum)
    empty = pa.table({"image_id": pa.array([], pa.int32()), "object_id": pa.array([], pa.int16()),
                      "n_pixels": pa.array([], pa.int32()), "soft_sum": pa.array([], pa.float64()),
                      "m_pixels": pa.array([], pa.list_(pa.int32()))})
    return images, (pa.concat_tables(frames) if frames else empty)


def with_ingest_id(table: pa.Table, ingest_id: int) -> pa.Table:
    return table.add_column(0, "ingest_id", pa.array(np.full(len(table), ingest_id, np.int32)))


def _write_block(run: IngestRun, array, block, start, ids, result: BlockResult) -> int:
    """The chunk first, then the rows and the block marker in one transaction."""
    ingest = run.ingest
    mask_arrays.write_chunk(array, start, result.cams)
    images, counts = block_rows(result, ids, start, len(ingest.thresholds))
    return ingests.write_block(run.store, ingest.ingest_id, block, int(result.ok.sum()),
                               with_ingest_id(images, ingest.ingest_id), [with_ingest_id(counts, ingest.ingest_id)])


def _list_column(matrix: np.ndarray) -> pa.Array:
    """(R, T) int matrix -> an Arrow list<int32> column (DuckDB INTEGER[])."""
    matrix = np.ascontiguousarray(matrix, dtype=np.int32)
    rows, width = matrix.shape if matrix.ndim == 2 else (0, 0)
    offsets = pa.array(np.arange(0, rows * width + 1, max(width, 1))[: rows + 1].astype(np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1)))
