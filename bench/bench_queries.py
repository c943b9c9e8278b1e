"""Named queries on a large synthetic store vs the same computations in pandas from Parquet.

The store comes from `cityq.store.synthetic_counts` (no CNN): n images x 8 models (4 architectures x
2 seeds) x 20 objects per image, the 19-threshold grid, every model pair's residuals. Full
scale is the issue's 150k images (24M object_counts rows); quick is 5k.

Each query is timed warm (the median of 3 runs after one warm-up), through `Store.query`, as a
user runs it. The baseline reads the same tables from Parquet files (written once, outside the
timing) with pandas/pyarrow and computes the same numbers, read included; both in this process.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

THRESHOLD = 0.5


def _median_seconds(fn, repeats: int = 3) -> float:
    fn()  # warm-up: DuckDB caches, page cache, macro binding
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _export_parquet(store, folder: Path) -> None:
    for table in ("object_counts", "mask_images", "images", "ingests", "residuals", "models"):
        store.con.execute(f"COPY {table} TO '{folder / table}.parquet' (FORMAT parquet)")


def _pandas_rpc(folder: Path) -> pd.DataFrame:
    ingests = pd.read_parquet(
        folder / "ingests.parquet", columns=["ingest_id", "model", "thresholds", "height", "width"]
    )
    k = int(np.flatnonzero(np.isclose(np.asarray(ingests.thresholds[0]), THRESHOLD))[0])
    hw = float(ingests.height[0] * ingests.width[0])
    city = pd.read_parquet(folder / "images.parquet", columns=["image_id", "city"])
    counts = pq.read_table(
        folder / "object_counts.parquet", columns=["ingest_id", "image_id", "object_id", "n_pixels", "m_pixels"]
    )
    frame = pd.DataFrame(
        {
            "ingest_id": counts["ingest_id"].to_numpy(),
            "image_id": counts["image_id"].to_numpy(),
            "object_id": counts["object_id"].to_numpy(),
            "n": counts["n_pixels"].to_numpy().astype(np.int64),
            "m": pc.list_element(counts["m_pixels"], k).to_numpy().astype(np.int64),
        }
    ).merge(city, on="image_id")
    masks = pq.read_table(folder / "mask_images.parquet", columns=["ingest_id", "image_id", "area_pixels"])
    area = pd.DataFrame(
        {
            "ingest_id": masks["ingest_id"].to_numpy(),
            "image_id": masks["image_id"].to_numpy(),
            "area": pc.list_element(masks["area_pixels"], k).to_numpy() / hw,
        }
    )
    # Lift's baseline: each image's explanation area, weighted by the object's pixels there.
    frame = frame.merge(area, on=["ingest_id", "image_id"])
    frame["an"] = frame.area * frame.n
    sums = frame.groupby(["ingest_id", "city", "object_id"], as_index=False)[["n", "m", "an"]].sum()
    per_city = area.merge(city, on="image_id").groupby(["ingest_id", "city"], as_index=False).agg(
        n_images=("area", "size"), mean_area=("area", "mean")
    )
    out = sums.merge(per_city, on=["ingest_id", "city"]).merge(ingests[["ingest_id", "model"]], on="ingest_id")
    out["mean_pixels"] = out.n / out.n_images
    out = out[out.mean_pixels > 100 * hw / 224**2]
    out["rpc"] = out.m / out.n
    out["lift"] = out.m / out.an
    return out


def _pandas_objects(folder: Path) -> pd.DataFrame:
    city = pd.read_parquet(folder / "images.parquet", columns=["image_id", "city"])
    counts = pd.read_parquet(
        folder / "object_counts.parquet", columns=["ingest_id", "image_id", "object_id", "n_pixels"]
    )
    counts = counts.merge(city, on="image_id")
    sums = counts.groupby(["ingest_id", "city", "object_id"], as_index=False).agg(
        n_sum=("n_pixels", "sum"), n_with=("n_pixels", "size")
    )
    masks = pd.read_parquet(folder / "mask_images.parquet", columns=["ingest_id", "image_id"]).merge(
        city, on="image_id"
    )
    per_city = masks.groupby(["ingest_id", "city"], as_index=False).size().rename(columns={"size": "n_images"})
    out = sums.merge(per_city, on=["ingest_id", "city"])
    out["mean_pixels"] = out.n_sum / out.n_images
    out["passes"] = out.mean_pixels > 100
    return out


def _pandas_ar(folder: Path, n_boot: int = 1000, boot_size: int = 1000) -> pd.DataFrame:
    """Per pair: mean AR and the same Poisson m-out-of-n bootstrap CI as the query."""
    residuals = pd.read_parquet(folder / "residuals.parquet")
    rng = np.random.default_rng(0)
    rows = []
    for (a, b), group in residuals.groupby(["ingest_a", "ingest_b"]):
        ar = group.ar.to_numpy()
        n = len(ar)
        subset = ar[rng.permutation(n)[: min(n, boot_size)]]
        weights = rng.poisson(1.0, size=(n_boot, len(subset)))
        boots = (weights @ subset) / np.maximum(weights.sum(axis=1), 1)
        scale = np.sqrt(len(subset) / n)
        low, high = np.quantile(boots, [0.025, 0.975])
        rows.append(
            {
                "ingest_a": a,
                "ingest_b": b,
                "ar": ar.mean(),
                "n_images": n,
                "ci_low": ar.mean() + scale * (low - subset.mean()),
                "ci_high": ar.mean() + scale * (high - subset.mean()),
            }
        )
    return pd.DataFrame(rows)


def run(quick: bool) -> list[dict]:
    from cityq.store import Store
    from cityq.store.synthetic_counts import SyntheticCountsConfig, write_synthetic_counts

    n_images = 5_000 if quick else 150_000
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="cityq-bench-queries-") as tmp:
        folder = Path(tmp)
        store = Store.create(folder / "store")
        store.con.execute("SET enable_progress_bar = false")
        start = time.perf_counter()
        info = write_synthetic_counts(store, SyntheticCountsConfig(n_images=n_images, objects_per_image=20))
        store.con.execute("CHECKPOINT")
        build = time.perf_counter() - start
        rows = info["n_rows"]["object_counts"]
        scale = f"{n_images} images x 8 models x 20 objects ({rows / 1e6:.1f}M object_counts rows), 19 thresholds"
        results.append({"name": "synthetic counts store: build", "value": round(build, 1), "unit": "s", "note": scale})
        results.append(
            {
                "name": "synthetic counts store: size",
                "unit": "MB",
                "note": scale,
                "value": round(sum(f.stat().st_size for f in (folder / "store").rglob("*") if f.is_file()) / 1e6),
            }
        )
        _export_parquet(store, folder)
        cases = {
            "rpc by city": (lambda: store.query("rpc by city", threshold=THRESHOLD), lambda: _pandas_rpc(folder)),
            "ar by model pair": (lambda: store.query("ar by model pair"), lambda: _pandas_ar(folder)),
            "objects": (lambda: store.query("objects"), lambda: _pandas_objects(folder)),
        }
        for name, (query, baseline) in cases.items():
            seconds = _median_seconds(query)
            base = _median_seconds(baseline)
            results.append(
                {
                    "name": f"query '{name}'",
                    "value": round(seconds, 3),
                    "unit": "s",
                    "baseline": round(base, 3),
                    "note": f"{scale}; warm median of 3; baseline: pandas+pyarrow from Parquet, read included",
                }
            )
        # The numbers agree (the benchmark would be meaningless otherwise).
        got = store.query("rpc by city", threshold=THRESHOLD)
        expected = _pandas_rpc(folder)
        assert len(got) == len(expected) and np.isclose(got.rpc.sum(), expected.rpc.sum())
        assert np.isclose(got.lift.sum(), expected.lift.sum())
        store.close()
    return results


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(row)
