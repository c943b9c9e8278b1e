"""The experiment store: one directory holding a DuckDB file (the record of truth), a Zarr
group (masks, segmentations), checkpoints and a decoded-image cache.

This package owns every table and array a store persists: the modules below read and write
them, and nothing above (pipeline, figures, report, CLI) writes SQL or touches the files.

    core.py           Store: opening, transactions, stage runs, queries, notebook helpers
    migrations/       the schema, applied in order; macros.py: the named queries as macros
    datasets.py       datasets, images, bad_files
    models.py         models, epochs, predictions, checkpoints
    segmenters.py     segmenters
    segmentations.py  segmentations, segmented_images, pixel_counts, class-map arrays
    ingests.py        ingests, mask_blocks, mask_images, object_counts
    mask_arrays.py    the mask arrays (native CAMs, one Zarr array per ingest)
    masks.py          reading masks back (native CAMs, full-size masks)
    residuals.py      residuals, residual_pairs (AR)
    embeddings.py     embeddings, embedding_runs
    image_cache.py    the decoded-image cache
    check.py          is everything recorded there, and nothing else? (recount.py: numpy recount)
    summary.py        what `cityq info`, `cityq tables`, `cityq schema` and the report show of it
    export.py         rows out: DuckDB relations written by DuckDB (CSV, TSV, JSON, Parquet)
"""

from cityq.store.core import DB_FILE, DEFAULT_STORE, ZARR_DIR, Store, default_store_path
from cityq.store.version import code_version

__all__ = ["DB_FILE", "DEFAULT_STORE", "ZARR_DIR", "Store", "code_version", "default_store_path"]
