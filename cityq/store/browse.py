"""What the browser (`cityq serve`) reads from a store, as functions taking `store` first.

Everything here only reads. The SQL binds its values; names a page cannot resolve raise
`NotFound`, which carries the valid names so the page can list them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cityq.errors import CityqError


class NotFound(CityqError):
    """An unknown model, city, object or query; `valid` lists what exists."""

    def __init__(self, kind: str, name: str, valid: list[str], hint: str = ""):
        shown = ", ".join(valid) if valid else "none yet"
        super().__init__(f"unknown {kind} {name!r}{hint}; the store has: {shown}")
        self.kind, self.name, self.valid = kind, name, list(valid)


@dataclass(frozen=True)
class IngestRef:
    """The finished ingest whose masks a page shows for a model."""

    ingest_id: int
    model: str
    dataset: str
    segmentation_id: int
    segmenter: str
    thresholds: tuple[float, ...]
    height: int
    width: int
    cities: tuple[str, ...]  # the model's output index -> city


# -- what the store holds ---------------------------------------------------------------------
def overview(store) -> dict[str, pd.DataFrame]:
    """The home page's tables: datasets, models (with accuracy), segmenters, ingests."""
    sql = store.fetch_df
    return {
        "datasets": sql(
            "SELECT d.dataset, array_to_string(d.cities, ', ') AS cities, "
            "count(i.image_id) AS images, "
            "count(i.image_id) FILTER (WHERE i.split = 'test') AS test_images, d.root "
            "FROM datasets d LEFT JOIN images i USING (dataset) GROUP BY ALL ORDER BY d.dataset"
        ),
        "models": sql(
            "SELECT model, arch, seed, dataset, img_size, test_accuracy, source FROM models ORDER BY model"
        ),
        "segmenters": sql(
            "SELECT segmenter, kind, CAST(metrics->>'pixel_accuracy' AS DOUBLE) AS pixel_accuracy, "
            "CAST(metrics->>'miou' AS DOUBLE) AS miou FROM segmenters ORDER BY segmenter"
        ),
        "ingests": sql(
            "SELECT g.ingest_id, g.model, g.split, g.target, s.segmenter, g.n_images, "
            "g.height || 'x' || g.width AS size, g.cam_height || 'x' || g.cam_width AS cam, g.status "
            "FROM ingests g JOIN segmentations s USING (segmentation_id) ORDER BY g.model, g.ingest_id"
        ),
    }


def model_names(store) -> list[str]:
    return [r[0] for r in store.con.execute("SELECT model FROM models ORDER BY model").fetchall()]


def ingested_models(store, split: str = "test", target: str = "true") -> list[str]:
    rows = store.con.execute(
        "SELECT DISTINCT model FROM ingests WHERE status = 'done' AND split = $split AND target = $target "
        "ORDER BY model", {"split": split, "target": target}).fetchall()
    return [r[0] for r in rows]


_INGEST = """
SELECT g.ingest_id, g.model, m.dataset, g.segmentation_id, s.segmenter, g.thresholds, g.height, g.width, m.cities
FROM ingests g JOIN models m USING (model) JOIN segmentations s ON s.segmentation_id = g.segmentation_id
WHERE g.status = 'done'
"""


def _ref(row) -> IngestRef:
    return IngestRef(int(row[0]), row[1], row[2], int(row[3]), row[4], tuple(float(t) for t in row[5]),
                     int(row[6]), int(row[7]), tuple(row[8]))


def model_ingest(store, model: str, split: str = "test", target: str = "true") -> IngestRef:
    """The model's most recent finished ingest of the split (what `store.masks(model)` reads)."""
    rows = store.con.execute(
        _INGEST + " AND g.model = $model AND g.split = $split AND g.target = $target "
        "ORDER BY g.ingest_id DESC LIMIT 1", {"model": model, "split": split, "target": target}).fetchall()
    if not rows:
        known = model in model_names(store)
        hint = " (it has no finished ingest: run `cityq ingest --model NAME`)" if known else ""
        raise NotFound("model", model, ingested_models(store, split, target), hint)
    return _ref(rows[0])


def ingest_ref(store, ingest_id: int) -> IngestRef:
    rows = store.con.execute(_INGEST + " AND g.ingest_id = $id", {"id": ingest_id}).fetchall()
    if not rows:
        done = store.con.execute("SELECT ingest_id FROM ingests WHERE status = 'done' ORDER BY 1").fetchall()
        raise NotFound("ingest", str(ingest_id), [str(r[0]) for r in done])
    return _ref(rows[0])


def cities(store, dataset: str) -> list[str]:
    rows = store.con.execute("SELECT cities FROM datasets WHERE dataset = $d", {"d": dataset}).fetchall()
    return list(rows[0][0]) if rows else []


def present_objects(store) -> pd.DataFrame:
    """Objects the segmentations found, most pixels first: object_id, object, images, mean_pixels."""
    return store.fetch_df(
        "SELECT o.object_id, o.name AS object, count(DISTINCT p.image_id) AS images, "
        "sum(p.n_pixels::BIGINT) / count(DISTINCT p.image_id) AS mean_pixels "
        "FROM pixel_counts p JOIN objects o USING (object_id) "
        "GROUP BY o.object_id, o.name ORDER BY sum(p.n_pixels::BIGINT) DESC, o.name")


def find_object(store, name: str) -> tuple[int, str]:
    """(object_id, name) of an object the store has counts of; any ADE20K synonym matches."""
    rows = store.con.execute(
        "SELECT object_id, name FROM objects WHERE lower(name) = lower(trim($n)) "
        "OR list_contains(list_transform(string_split(synonyms, ','), lambda s: lower(trim(s))), lower(trim($n)))",
        {"n": name}).fetchall()
    present = present_objects(store)
    if rows and int(rows[0][0]) in set(present["object_id"].tolist()):
        return int(rows[0][0]), rows[0][1]
    hint = " (an ADE20K class no segmentation found here)" if rows else ""
    raise NotFound("object", name, sorted(present["object"].tolist()), hint)


# -- the image grid ---------------------------------------------------------------------------
@dataclass(frozen=True)
class GridQuery:
    ingest: IngestRef
    threshold: float  # on the ingest's grid (the object filter reads M at that threshold)
    city: str | None = None
    object_id: int | None = None  # keep images where some of this object is inside the explanation
    wrong_only: bool = False  # keep images whose predicted city is not the true one
    others: tuple[int, ...] = ()  # ingest ids that must also have a mask of the image (side by side)
    limit: int = 24
    offset: int = 0


_GRID = """
WITH g AS (
    SELECT ingest_id, height * width AS hw,
           list_position(list_transform(thresholds, lambda v: round(v, 6)), round($threshold, 6)) AS t_pos
    FROM ingests WHERE ingest_id = $ingest
),
shown AS (
    SELECT mi.image_id, im.city, m.cities[mi.pred_index + 1] AS predicted,
           mi.area_pixels[g.t_pos] / g.hw AS area,
           oc.n_pixels AS object_pixels, oc.m_pixels[g.t_pos] AS object_inside
    FROM mask_images mi
    JOIN g ON g.ingest_id = mi.ingest_id
    JOIN images im ON im.image_id = mi.image_id
    JOIN ingests gi ON gi.ingest_id = mi.ingest_id
    JOIN models m ON m.model = gi.model
    LEFT JOIN object_counts oc ON oc.ingest_id = mi.ingest_id AND oc.image_id = mi.image_id
                              AND oc.object_id = $object
    WHERE ($city IS NULL OR im.city = $city)
      AND (NOT $wrong OR m.cities[mi.pred_index + 1] <> im.city)
      AND ($object IS NULL OR oc.m_pixels[g.t_pos] > 0)
      AND (len($others) = 0 OR mi.image_id IN (
            SELECT o.image_id FROM mask_images o WHERE list_contains($others, o.ingest_id)
            GROUP BY o.image_id HAVING count(DISTINCT o.ingest_id) = len($others)))
)
SELECT *, object_inside / object_pixels AS object_share, count(*) OVER () AS total
FROM shown
ORDER BY CASE WHEN $object IS NULL THEN 0 ELSE -object_inside / object_pixels END, image_id
LIMIT $limit OFFSET $offset
"""


def grid_images(store, query: GridQuery) -> tuple[pd.DataFrame, int]:
    """(one page of images, how many match): image_id, city, predicted, area (the explanation's
    share of the image at the threshold), object_pixels (N), object_inside (M), object_share
    (M / N); with an object, the images holding most of it inside the explanation first."""
    if round(query.threshold, 6) not in {round(t, 6) for t in query.ingest.thresholds}:
        shown = ", ".join(f"{t:g}" for t in query.ingest.thresholds)
        raise CityqError(f"threshold {query.threshold:g} is not on the ingest's grid ({shown})")
    frame = store.fetch_df(_GRID, {
        "ingest": query.ingest.ingest_id, "threshold": query.threshold, "city": query.city,
        "object": query.object_id, "wrong": query.wrong_only, "others": [int(i) for i in query.others],
        "limit": query.limit, "offset": query.offset,
    })
    total = int(frame["total"].iloc[0]) if len(frame) else 0
    return frame.drop(columns="total"), total


# -- what a tile is drawn from ----------------------------------------------------------------
@dataclass(frozen=True)
class TileSource:
    """Everything a tile of one finished ingest is drawn from, looked up once: where each
    image's CAM and class map sit in Zarr and where its file is. The Zarr arrays are read
    without the database, so tiles need no visit to it once this is built."""

    ingest: IngestRef
    cam_rows: dict[int, int]  # image_id -> row of the ingest's CAM array
    class_rows: dict[int, int]  # image_id -> row of the segmentation's array
    files: dict[int, Path]  # image_id -> the image file
    cam_array: object  # zarr.Array (N,h,w) float32
    class_array: object | None  # zarr.Array (N,H,W) uint8, None when missing

    def cams(self, image_id: int) -> np.ndarray:
        """The stored native-resolution CAM (h,w) of one image."""
        row = self._row(self.cam_rows, image_id)
        cam = np.asarray(self.cam_array[row])
        if np.isnan(cam).any():  # the array's fill value: a chunk the store says is written is not
            raise CityqError(f"the mask of image {image_id} is missing from model {self.ingest.model!r}'s "
                             "array; run `cityq check`")
        return cam

    def classes(self, image_id: int) -> np.ndarray:
        """The class map (H,W) the ingest's counts were made with."""
        if self.class_array is None:
            raise CityqError(f"the segmentation of model {self.ingest.model!r}'s ingest is missing; run `cityq check`")
        return np.asarray(self.class_array[self._row(self.class_rows, image_id)])

    def _row(self, rows: dict[int, int], image_id: int) -> int:
        if image_id not in rows:
            raise CityqError(f"image {image_id} has no mask for model {self.ingest.model!r}")
        return rows[image_id]


def tile_source(store, ingest_id: int) -> TileSource:
    from cityq.store.ingests import get_ingest
    from cityq.store.mask_arrays import open_array

    ref = ingest_ref(store, ingest_id)
    rows = store.con.execute(
        "SELECT mi.image_id, mi.zarr_index, si.zarr_index, d.root, im.path "
        "FROM mask_images mi JOIN images im USING (image_id) JOIN datasets d ON d.dataset = im.dataset "
        "LEFT JOIN segmented_images si ON si.segmentation_id = $seg AND si.image_id = mi.image_id "
        "WHERE mi.ingest_id = $id", {"id": ingest_id, "seg": ref.segmentation_id}).fetchall()
    seg_path = store.con.execute("SELECT zarr_path FROM segmentations WHERE segmentation_id = $s",
                                 {"s": ref.segmentation_id}).fetchall()[0][0]
    try:
        root = store.zarr_root()
    except FileNotFoundError:  # counts written without masks (cityq.store.synthetic_counts)
        raise CityqError(f"the store has no mask arrays, so model {ref.model!r} has no masks to draw") from None
    return TileSource(
        ingest=ref,
        cam_rows={int(r[0]): int(r[1]) for r in rows},
        class_rows={int(r[0]): int(r[2]) for r in rows if r[2] is not None},
        files={int(r[0]): Path(r[3]) / r[4] for r in rows},
        cam_array=open_array(store, get_ingest(store, ingest_id)),
        class_array=root.get(seg_path, None),
    )


def choices(store) -> dict[str, list[str]]:
    """Values a query form can suggest per parameter name (its datalist)."""
    def one(sql: str) -> list[str]:
        return [str(r[0]) for r in store.con.execute(sql).fetchall()]

    return {
        "model": one("SELECT model FROM models ORDER BY 1"),
        "segmenter": one("SELECT segmenter FROM segmenters ORDER BY 1"),
        "dataset": one("SELECT dataset FROM datasets ORDER BY 1"),
        "threshold": [f"{t:g}" for t in sorted({round(float(r[0]), 6) for r in store.con.execute(
            "SELECT DISTINCT unnest(thresholds) FROM ingests WHERE status = 'done'").fetchall()})],
        "method": one("SELECT DISTINCT method FROM embedding_runs ORDER BY 1"),
        "split": ["train", "val", "test"],
        "target": ["true", "predicted"],
    }
