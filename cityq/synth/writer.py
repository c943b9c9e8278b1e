"""Write a synthetic data set: OUT_DIR/<city>/<id>.png with <id>.labels.png beside it, and
OUT_DIR/synth.json (the resolved spec and a summary). Images are independent of the worker
count: each one's seed comes from (seed, city, place, view)."""

from __future__ import annotations

import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cityq.errors import CityqError
from cityq.synth.png import write_png
from cityq.synth.scene import render_place_view
from cityq.synth.spec import Spec, load_spec

# The regex to give `cityq dataset add --place-pattern` for data written with views > 1.
PLACE_PATTERN = r"^(\d+)_\d+\.png$"

_worker_spec: Spec | None = None


def image_id(place: int, view: int, views: int) -> str:
    return f"{place:06d}_{view:02d}" if views > 1 else f"{place:06d}"


def jobs(spec: Spec, per_city: int, views: int) -> list[tuple[str, int, int]]:
    """(city, place, view) for every image to write, per_city images per city."""
    out = []
    for city in spec.city_names:
        for k in range(per_city):
            out.append((city, k // views, k % views))
    return out


def write_image(out_dir: Path, spec: Spec, size: int, seed: int, views: int, job) -> tuple[str, dict[str, int]]:
    city, place, view = job
    rgb, labels, shown = render_place_view(spec, city, size, seed, place, view)
    stem = out_dir / city / image_id(place, view, views)
    # Sensor noise makes scenes nearly incompressible: stored (level 0) costs ~30% more disk and
    # saves 3 ms an image; label maps compress 30:1 in 0.1 ms.
    write_png(stem.with_suffix(".png"), rgb, level=0)
    write_png(stem.with_name(stem.name + ".labels.png"), labels, level=1)
    return city, shown


def _init_worker(spec: Spec) -> None:
    global _worker_spec
    _worker_spec = spec


def _work(args) -> list[tuple[str, dict[str, int]]]:
    out_dir, size, seed, views, batch = args
    return [write_image(out_dir, _worker_spec, size, seed, views, job) for job in batch]


def generate_dataset(out_dir: str | Path, spec: Spec | str | Path | None = None, per_city: int = 100,
                     size: int = 128, seed: int = 0, workers: int = 1, views: int = 1,
                     progress: bool = True) -> dict:
    """Generate the data set; returns a summary (also written to OUT_DIR/synth.json)."""
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    if per_city < 1 or not 16 <= size <= 2048 or views < 1 or workers < 1:
        raise CityqError("need --per-city >= 1, 16 <= --size <= 2048, --views >= 1 and --workers >= 1")
    out_dir = Path(out_dir)
    for city in spec.city_names:
        (out_dir / city).mkdir(parents=True, exist_ok=True)
    todo = jobs(spec, per_city, views)
    from cityq.progress import bar

    started = time.perf_counter()
    results: list[tuple[str, dict[str, int]]] = []
    with bar(total=len(todo), desc="synth", unit="img", disable=None if progress else True) as pbar:
        if workers == 1:
            for job in todo:
                results.append(write_image(out_dir, spec, size, seed, views, job))
                pbar.update(1)
        else:
            chunk = max(1, min(32, math.ceil(len(todo) / (workers * 4))))
            batches = [(out_dir, size, seed, views, todo[i : i + chunk]) for i in range(0, len(todo), chunk)]
            with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(spec,)) as pool:
                for part in pool.map(_work, batches):
                    results.extend(part)
                    pbar.update(len(part))
    seconds = time.perf_counter() - started
    summary = {
        "out_dir": str(out_dir.resolve()),
        "spec": spec.source,
        "cities": spec.city_names,
        "per_city": per_city,
        "size": size,
        "seed": seed,
        "views": views,
        "place_pattern": PLACE_PATTERN if views > 1 else None,
        "images": len(results),
        "seconds": round(seconds, 3),
        "images_per_s": round(len(results) / max(seconds, 1e-9), 1),
        "planted": _planted_stats(results),
        "unplanted_images": {
            city: sum(1 for c, shown in results if c == city and not shown) for city in spec.city_names
        },
    }
    (out_dir / "synth.json").write_text(json.dumps({"summary": summary, "spec": spec.to_dict()}, indent=1))
    return summary


def _planted_stats(results) -> dict:
    """Per city and planted object: images showing it, images showing only it, mean area share."""
    stats: dict = {}
    for city, shown in results:
        for name, pixels in shown.items():
            s = stats.setdefault(city, {}).setdefault(name, {"images": 0, "only": 0, "pixels": 0})
            s["images"] += 1
            s["only"] += len(shown) == 1
            s["pixels"] += pixels
    for per_city in stats.values():
        for s in per_city.values():
            s["mean_pixels"] = round(s.pop("pixels") / max(s["images"], 1), 1)
    return stats
