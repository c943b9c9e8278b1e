"""`cityq reliance`: what a model loses when an object is taken out of its images (SPEC §11).

For every image of a split and every selected object it shows, the object is removed (drawn
again without it, or filled: cityq/reliance/), and so is its control (the same shape, elsewhere
in the image, removed the same way). The model's probability of the true city and its
prediction before, after and after the control go to the `reliance` table.

Work goes in blocks of images. A block's removed images go to the removal cache first (they do
not depend on the model, so a second model reuses them), then its rows go to DuckDB in one
transaction; pairs already in the table are skipped, so a killed run resumes where it stopped
and a finished one has nothing to do.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image

from cityq.device import resolve_device
from cityq.errors import CityqError
from cityq.imaging import normalize
from cityq.objects import object_index, object_name
from cityq.progress import bar
from cityq.reliance.variants import METHODS, Remover
from cityq.store import datasets
from cityq.store import reliance as table
from cityq.store.image_cache import load_image_tensor
from cityq.store.models import get_model_record, load_model_weights
from cityq.store.segmentations import load_segmentation
from cityq.synth.replay import BACKDROP, Replayer, SynthRecord

SPLITS = ("train", "val", "test")


@dataclass
class RelianceOptions:
    split: str = "test"  # whose images lose their objects
    objects: str = "filtered"  # 'filtered' (the object filter), 'planted' (synthetic), or NAME,NAME,...
    method: str = "redraw"  # redraw (synthetic data sets), impute, mean or blur
    segmenter: str = "labels"  # the class maps that say which pixels are an object's
    min_mean_pixels: float | None = None  # the filter's bar; None: 100 at 224x224, scaled by area
    images_per_city: int | None = None  # a fixed subset of each city's images (a time budget); None: all
    batch_size: int = 64  # images per forward pass
    block_size: int = 32  # images per committed block
    device: str = "auto"
    force: bool = False  # measure again: drop this model's rows for the method and class maps first
    progress: bool | None = None  # None: bars when stderr is a terminal


@dataclass
class RelianceSummary:
    model: str
    method: str
    already_done: bool = False
    images: int = 0  # images with at least one pair measured in this run
    pairs: int = 0  # (image, object) rows written
    computed: int = 0  # pairs whose removed images were made in this run
    cached: int = 0  # pairs whose removed images came from the cache
    evaluations: int = 0  # images the model evaluated
    skipped: list[str] = field(default_factory=list)  # selected objects this method cannot remove
    seconds: float = 0.0
    removal_seconds: float = 0.0  # making removed images (and writing them to the cache)
    cache_seconds: float = 0.0  # reading removed images from the cache
    eval_seconds: float = 0.0


def measure_reliance(store, model: str, options: RelianceOptions | None = None) -> RelianceSummary:
    options = options or RelianceOptions()
    started = time.perf_counter()
    _validate(options)
    record = get_model_record(store, model)
    size = record.img_size
    images = _split_images(store, record.dataset, options.split, options.images_per_city)
    device = resolve_device(options.device)
    from cityq.pipeline.segment import ensure_segmentation

    segmentation_id = ensure_segmentation(store, options.segmenter, record.dataset, images["image_id"].tolist(),
                                          size, size, device=str(device), progress=options.progress)
    synth = table.dataset_synth(store, record.dataset)
    summary = RelianceSummary(model=model, method=options.method)
    wanted = _wanted_pairs(store, options, images, segmentation_id, synth, size, summary)
    if options.force:
        table.delete_reliance(store, model, options.method, segmentation_id)
    done = table.done_pairs(store, model, options.method, segmentation_id)
    todo = {i: [k for k in objects if (i, k) not in done] for i, objects in wanted.items()}
    todo = {i: objects for i, objects in todo.items() if objects}
    if not todo:
        summary.already_done = True
        summary.seconds = time.perf_counter() - started
        return summary

    remover, kind = _remover(store, options, record, segmentation_id, synth, size)
    cache = table.RemovalCache(store, record.dataset, size, kind)
    network = load_model_weights(store, record).to(device, memory_format=torch.channels_last).eval()
    config = {"model": model, "split": options.split, "objects": options.objects, "method": options.method,
              "segmenter": options.segmenter, "segmentation_id": segmentation_id, "kind": kind,
              "images_per_city": options.images_per_city, "min_mean_pixels": options.min_mean_pixels,
              "mean_colour": list(remover.mean_colour) if remover.mean_colour else None,
              "batch_size": options.batch_size, "block_size": options.block_size, "device": str(device)}
    rows = images.set_index("image_id").loc[sorted(todo)]
    city_index = {city: i for i, city in enumerate(record.cities)}
    with store.run("reliance", subject=model, config=config), \
            bar(total=sum(len(v) for v in todo.values()), desc=f"reliance {model} ({options.method})",
                unit="removal", disable=None if options.progress is None else not options.progress) as progress:
        for start in range(0, len(rows), options.block_size):
            block = rows.iloc[start:start + options.block_size]
            ids = block.index.tolist()
            pixels = load_image_tensor(store, ids, size).permute(0, 2, 3, 1).numpy()
            maps = load_segmentation(store, segmentation_id, ids)
            variants = []
            for position, image_id in enumerate(ids):
                row = block.loc[image_id]
                removals = _removals(cache, remover, Path(row["root"]), row, image_id, pixels[position], maps[position],
                                     todo[image_id], summary)
                variants.append((image_id, city_index[row["city"]], pixels[position], maps[position], removals))
            frame = _evaluate_block(network, device, options.batch_size, model, options.method, segmentation_id,
                                    variants, summary)
            table.write_block(store, frame)
            summary.pairs += len(frame)
            summary.images += len(ids)
            progress.update(len(frame))
    summary.seconds = time.perf_counter() - started
    return summary


def _validate(options: RelianceOptions) -> None:
    if options.method not in METHODS:
        raise CityqError(f"--method must be one of {', '.join(METHODS)}, not {options.method!r}")
    if options.split not in SPLITS:
        raise CityqError(f"--split must be one of {', '.join(SPLITS)}, not {options.split!r}")
    if options.batch_size < 1 or options.block_size < 1:
        raise CityqError("--batch-size and --block-size must be positive")
    if options.images_per_city is not None and options.images_per_city < 1:
        raise CityqError("--images-per-city must be positive")
    if options.method == "redraw" and options.segmenter != "labels":
        raise CityqError("--method redraw removes the objects the scene was drawn with: use --segmenter labels "
                         "(or another method with this segmenter)")


def _split_images(store, dataset: str, split: str, per_city: int | None) -> pd.DataFrame:
    ids = datasets.split_image_ids(store, dataset, split)
    if not len(ids):
        raise CityqError(f"dataset {dataset!r} has no {split} images; add images with `cityq dataset add`")
    cities = datasets.image_cities(store, ids)
    frame = datasets.image_files(store, ids)[["image_id", "path", "sha256", "root"]].sort_values("image_id")
    frame = frame.assign(city=frame["image_id"].map(cities))
    if per_city is not None:
        # A fixed subset: the images of each city with the smallest crc32 of their path.
        frame = frame.assign(key=[zlib.crc32(p.encode()) for p in frame["path"]])
        frame = frame.sort_values(["city", "key"]).groupby("city").head(per_city).drop(columns="key")
        frame = frame.sort_values("image_id")
    return frame.reset_index(drop=True)


def _wanted_pairs(store, options, images, segmentation_id, synth, size, summary) -> dict[int, list[int]]:
    """image_id -> the selected objects it shows, in object order."""
    ids = images["image_id"].tolist()
    choice = options.objects.strip()
    if choice == "filtered":
        bar_px = options.min_mean_pixels if options.min_mean_pixels is not None else 100.0 * size * size / 224**2
        per_city = table.filtered_objects(store, segmentation_id, ids, bar_px)
        selected = {city: set(objects) for city, objects in per_city.items()}
    elif choice == "planted":
        if synth is None:
            raise CityqError("--objects planted needs a synthetic data set (one written by `cityq synth`)")
        spec = SynthRecord.from_dict(synth).spec
        planted = {object_index(p.name) for c in spec.cities for p in c.planted}
        selected = {city: planted for city in images["city"].unique()}
    else:
        names = [n.strip() for n in choice.split(",") if n.strip()]
        if not names:
            raise CityqError("--objects takes filtered, planted, or a comma-separated list of ADE20K names")
        chosen = {object_index(n) for n in names}
        selected = {city: chosen for city in images["city"].unique()}
    if options.method == "redraw":
        backdrop = {object_index(n) for n in BACKDROP}
        skipped = sorted({k for objects in selected.values() for k in objects} & backdrop)
        summary.skipped = [object_name(k) for k in skipped]
        selected = {city: objects - backdrop for city, objects in selected.items()}
    present = table.object_pixels(store, segmentation_id, ids)
    city_of = dict(zip(images["image_id"], images["city"]))
    wanted: dict[int, list[int]] = {}
    for image_id, object_id in zip(present["image_id"].tolist(), present["object_id"].tolist()):
        if object_id in selected.get(city_of[image_id], ()):
            wanted.setdefault(int(image_id), []).append(int(object_id))
    return wanted


def _remover(store, options, record, segmentation_id, synth, size) -> tuple[Remover, str]:
    """The remover, and the kind of removed images it makes (the cache's key besides image and size)."""
    if options.method == "redraw":
        if synth is None:
            raise CityqError(f"--method redraw needs a synthetic data set; {record.dataset!r} was not written by "
                             "`cityq synth` (use --method impute)")
        return Remover("redraw", size, replayer=Replayer(SynthRecord.from_dict(synth))), "redraw"
    if options.method == "mean":
        colour = _mean_colour(store, record.dataset, size)
        hexed = "".join(f"{round(255 * c):02x}" for c in colour)
        return Remover("mean", size, mean_colour=colour), f"mean-{hexed}-seg{segmentation_id}"
    return Remover(options.method, size), f"{options.method}-seg{segmentation_id}"


def _mean_colour(store, dataset: str, size: int) -> tuple[float, float, float]:
    """The data set's mean colour: the mean RGB of its training images as the models see them."""
    ids = datasets.split_image_ids(store, dataset, "train").tolist()
    if not ids:
        raise CityqError(f"dataset {dataset!r} has no train images to take the mean colour of")
    total = np.zeros(3)
    for start in range(0, len(ids), 256):
        total += load_image_tensor(store, ids[start:start + 256], size).double().sum(dim=(0, 2, 3)).numpy()
    return tuple(float(v) for v in total / (len(ids) * size * size * 255.0))


def _removals(cache, remover, root, row, image_id, image, classes, objects, summary) -> dict:
    """Each object's removal of one image: from the cache, or made now and cached."""
    t = time.perf_counter()
    cached = cache.read(image_id, row["sha256"], image)
    summary.cache_seconds += time.perf_counter() - t
    missing = [k for k in objects if k not in cached]
    summary.cached += len(objects) - len(missing)
    if missing:
        t = time.perf_counter()
        stored = np.asarray(Image.open(root / row["path"]).convert("RGB")) if remover.method == "redraw" else None
        made = remover.remove(row["path"], image, classes, missing, stored=stored)
        cached.update({r.object_id: table.CachedRemoval(r.removed, r.control, r.control_overlap) for r in made})
        cache.write(image_id, row["sha256"], image, cached)
        summary.computed += len(missing)
        summary.removal_seconds += time.perf_counter() - t
    return {k: cached[k] for k in objects}


def _evaluate_block(network, device, batch_size, model, method, segmentation_id, variants, summary) -> pd.DataFrame:
    """One forward pass per batch over every distinct original, removed and control image of the
    block. A variant equal to its original (a redraw control over nothing but the backdrop
    changes no pixel) is not evaluated again: it gets the original's numbers, which are exact."""
    stack, targets, records = [], [], []
    for image_id, target, image, classes, removals in variants:
        before = len(stack)
        stack.append(image)
        targets.append(target)
        for k, r in removals.items():
            slots = []
            for variant in (r.removed, r.control):
                if np.array_equal(variant, image):
                    slots.append(before)
                else:
                    slots.append(len(stack))
                    stack.append(variant)
                    targets.append(target)
            records.append((image_id, k, int((classes == k).sum()), r.control_overlap, target, before, *slots))
    t = time.perf_counter()
    p_true, predicted = evaluate(network, np.stack(stack), np.array(targets), device, batch_size)
    summary.eval_seconds += time.perf_counter() - t
    summary.evaluations += len(stack)
    rows = [(model, method, segmentation_id, image_id, k, pixels, overlap, target, p_true[b], p_true[a], p_true[c],
             predicted[b], predicted[a], predicted[c])
            for image_id, k, pixels, overlap, target, b, a, c in records]
    return pd.DataFrame(rows, columns=list(table.COLUMNS[:-1])).astype(
        {"segmentation_id": "int32", "image_id": "int32", "object_id": "int16", "pixels": "int32",
         "control_overlap": "float32", "target_index": "int16", "p_before": "float32", "p_after": "float32",
         "p_control": "float32", "pred_before": "int16", "pred_after": "int16", "pred_control": "int16"})


def evaluate(network, images: np.ndarray, targets: np.ndarray, device, batch_size: int = 64
             ) -> tuple[np.ndarray, np.ndarray]:
    """(softmax probability of each image's target, predicted class) for uint8 (N, S, S, 3) images."""
    p_out, pred_out = [], []
    with torch.no_grad():
        for lo in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[lo:lo + batch_size])).permute(0, 3, 1, 2)
            x = normalize(batch.to(device)).contiguous(memory_format=torch.channels_last)
            probs = torch.softmax(network(x).float(), dim=1)
            wanted = torch.as_tensor(targets[lo:lo + batch_size], device=probs.device)
            p_out.append(probs.gather(1, wanted[:, None])[:, 0].cpu().numpy())
            pred_out.append(probs.argmax(1).cpu().numpy())
    return np.concatenate(p_out), np.concatenate(pred_out)
