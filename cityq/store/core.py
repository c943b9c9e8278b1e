"""`Store`: one store directory, opened. A DuckDB file (the record of truth), a Zarr group
(masks, segmentations), checkpoints. A Zarr array counts as present only once DuckDB says so.

The class holds the connection and what every writer shares (transactions, stage runs, bulk
inserts); the tables themselves are read and written by the modules of this package, and the
notebook helpers below (`masks`, `segmentation`, `model`, `inputs`, ...) call them.

A store opened for writing holds cityq's writer lock until it is closed, and DuckDB's file
lock while it is connected. Long writers call `store.release()` before each long computation:
it lets go of the file (readers get in) and keeps the writer lock (other writers still wait);
the next use of `store.con` connects again, so a writer holds the file while it reads what a
block needs and while it commits the block.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import duckdb

from cityq.errors import CityqError, sql_error_text
from cityq.store import macros, migrations
from cityq.store.connection import WriterLock, connect
from cityq.store.version import code_version

DB_FILE = "cityq.duckdb"
ZARR_DIR = "arrays.zarr"
DEFAULT_STORE = "cityq-store"
QUERIES_DIR = "queries"  # the user's own named queries: <store>/queries/*.sql


def default_store_path() -> Path:
    return Path(os.environ.get("CITYQ_STORE", DEFAULT_STORE))


class Store:
    """A cityq store directory. `Store(path)` opens an existing store and never creates one (a
    typo in a path must not answer with an empty store); `Store.create(path)` (or
    `create=True`) opens it or creates it. `Store(":memory:")` is an empty store in memory (its
    arrays in a temporary folder)."""

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        read_only: bool = False,
        create: bool = False,
        wait_seconds: float | None = None,
        queries: str | os.PathLike | None = None,
    ):
        self.in_memory = str(path) == ":memory:"
        self.path = Path(path) if path is not None else default_store_path()
        self.read_only = read_only
        self._in_transaction = False
        self._models: dict[str, Any] = {}
        self._tmp = None
        self._con = None
        self._closed = False
        self._writer_lock = None
        self._wait_seconds = wait_seconds
        self._queries_dir = Path(queries) if queries is not None else None
        self.user_queries: tuple = ()
        if self.in_memory:
            import tempfile

            self._tmp = tempfile.TemporaryDirectory(prefix="cityq-memory-")
            self.path = Path(self._tmp.name)
            self.read_only = False
            self._con = duckdb.connect(":memory:")
            self._prepare(":memory:")
            return
        db_file = self.path / DB_FILE
        if not db_file.exists():
            if read_only or not create:
                raise CityqError(
                    f"no cityq store at {self.path} (no {DB_FILE} there); pass --store DIR (or set "
                    "CITYQ_STORE), or create one: `cityq dataset add` or `cityq demo` (Python: Store.create(path))"
                )
            if self.path.exists() and not self.path.is_dir():
                raise CityqError(f"{self.path} is a file, not a store directory; choose another --store")
            self.path.mkdir(parents=True, exist_ok=True)
        if not read_only:
            self._writer_lock = WriterLock(self.path, wait_seconds)
        try:
            self._con = connect(db_file, read_only=read_only, wait_seconds=wait_seconds)
            self._prepare(str(self.path))
        except BaseException:
            self.close()
            raise

    @classmethod
    def create(cls, path: str | os.PathLike, **options: Any) -> "Store":
        """Open the store at `path`, creating the directory and an empty store if there is none."""
        return cls(path, create=True, **options)

    def _prepare(self, where: str) -> None:
        """Bring the schema and the macros up to this cityq's (read-only: check they are)."""
        if self.read_only:
            migrations.check_not_newer(self._con, where)
            if migrations.pending(self._con):
                # An older store: migrate needs write access; reading it as-is would miss
                # tables, so say what to do.
                raise CityqError(
                    f"store {where} uses an older schema; open it once for writing "
                    "(e.g. `cityq info`) to upgrade it"
                )
        else:
            migrations.migrate(self._con, where)
            self._seed_objects()
        macros.ensure_macros(self._con, read_only=self.read_only)
        self.user_queries = macros.install_user_queries(self._con, self._query_folders())

    def _query_folders(self) -> list[Path]:
        """Where the user's own named queries are: <store>/queries, and the folder given."""
        folders = [] if self.in_memory else [self.path / QUERIES_DIR]
        if self._queries_dir is not None:
            folders.append(self._queries_dir)
        return folders

    def __repr__(self) -> str:
        mode = "memory" if self.in_memory else "read-only" if self.read_only else "read-write"
        if self._con is None:  # closed, or released (a repr never reconnects)
            return f"<cityq.Store {str(self.path)!r} ({'closed' if self._closed else mode + ', released'})>"
        counts = self._con.execute(
            "SELECT (SELECT count(*) FROM datasets), (SELECT count(*) FROM images), (SELECT count(*) FROM models), "
            "(SELECT count(*) FROM ingests WHERE status = 'done')").fetchall()[0]
        held = ", ".join(f"{n} {what}" for n, what in zip(counts, ("datasets", "images", "models", "ingests")))
        where = ":memory:" if self.in_memory else str(self.path)
        return f"<cityq.Store {where!r} ({mode}): {held}>"

    # -- connection -------------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            if self._closed:
                raise CityqError(f"store {self.path} is closed; open it again with cityq.Store(path)")
            # After `released()`: connect again, waiting for readers that hold the file.
            self._con = connect(self.path / DB_FILE, read_only=self.read_only, wait_seconds=self._wait_seconds)
            if self.read_only:
                macros.ensure_macros(self._con, read_only=True)  # TEMP copies live per connection
            macros.install_user_queries(self._con, self._query_folders())  # TEMP macros too
        return self._con

    def release(self) -> None:
        """Let go of the database file until the next use of `store.con`: call it before a long
        computation, so that readers (`cityq query`, notebooks, `cityq serve`) get in. A store
        in memory, or one inside a transaction, keeps its connection. A writer keeps its
        writer lock: other writers still wait for it."""
        if self.in_memory or self._in_transaction or self._con is None:
            return
        self._con.close()
        self._con = None

    def close(self) -> None:
        self._closed = True
        if self._con is not None:
            self._con.close()
            self._con = None
        if self._writer_lock is not None:
            self._writer_lock.release()
            self._writer_lock = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT; ROLLBACK on any exception (nested uses join the outer one)."""
        if self._in_transaction:
            yield
            return
        self.con.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._in_transaction = False
            self.con.execute("ROLLBACK")
            raise
        self._in_transaction = False
        self.con.execute("COMMIT")

    # -- directories ------------------------------------------------------------------------
    @property
    def checkpoints_dir(self) -> Path:
        folder = self.path / "checkpoints"
        folder.mkdir(exist_ok=True)
        return folder

    @property
    def cache_dir(self) -> Path:
        folder = self.path / "cache"
        folder.mkdir(exist_ok=True)
        return folder

    def zarr_root(self):
        import zarr

        return zarr.open_group(str(self.path / ZARR_DIR), mode="r" if self.read_only else "a")

    # -- writing ----------------------------------------------------------------------------
    def insert_df(self, table: str, frame: Any) -> int:
        """Bulk-insert a DataFrame or Arrow table by column name (through Arrow, no executemany)."""
        if not table.isidentifier():
            raise ValueError(f"bad table name {table!r}")
        n = len(frame)
        if n == 0:
            return 0
        columns = list(frame.column_names) if hasattr(frame, "column_names") else list(frame.columns)
        # DuckDB 2 refuses register() while an earlier execute() result is unread.
        self.con.complete()
        self.con.register("_cityq_insert", frame)
        try:
            column_list = ", ".join(f'"{c}"' for c in columns)
            self.con.execute(
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM _cityq_insert"
            )
        finally:
            self.con.unregister("_cityq_insert")
        return n

    @contextlib.contextmanager
    def run(self, stage: str, subject: str | None = None, config: dict | None = None) -> Iterator[int]:
        """Record a stage run in `runs`: 'running' now, 'done' or 'failed' when the block ends.
        A run killed from outside stays 'running', which `cityq info` shows."""
        run_id = self.con.execute(
            "INSERT INTO runs (stage, subject, config, code_version, started_at, status) "
            "VALUES ($stage, $subject, $config, $version, current_timestamp, 'running') RETURNING run_id",
            {
                "stage": stage,
                "subject": subject,
                "config": json.dumps(config or {}, default=str),
                "version": code_version(),
            },
        ).fetchall()[0][0]
        try:
            yield run_id
        except BaseException as exc:
            if self._in_transaction:
                self._in_transaction = False
                self.con.execute("ROLLBACK")
            self._finish_run(run_id, "failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise
        self._finish_run(run_id, "done", None)

    def _finish_run(self, run_id: int, status: str, message: str | None) -> None:
        self.con.execute(
            "UPDATE runs SET status = $status, ended_at = current_timestamp, message = $message "
            "WHERE run_id = $run_id",
            {"status": status, "message": message, "run_id": run_id},
        )

    def _seed_objects(self) -> None:
        from cityq.objects import ade20k_classes

        if self.con.execute("SELECT count(*) FROM objects").fetchall()[0][0]:
            return
        self.con.executemany(
            "INSERT INTO objects VALUES (?, ?, ?, ?)",
            [(c.index, c.name, c.synonyms, c.is_stuff) for c in ade20k_classes()],
        )

    # -- reading ----------------------------------------------------------------------------
    def fetch_df(self, sql: str, params: dict | None = None):
        """A pandas DataFrame of the rows of `sql` (parameters bound)."""
        return self.con.execute(sql, params or {}).df()

    def relation(self, name: str, **params: Any) -> duckdb.DuckDBPyRelation:
        """A named query's rows as a DuckDB relation (lazy: it runs when read). What `cityq
        query` prints and writes; `query` below is the same as a DataFrame. A parameter naming
        models, segmenters, cities, objects or datasets takes a name or a list of names."""
        from cityq.queries.registry import named_relation

        return named_relation(self.con, name, params, self.user_queries)

    def query(self, name: str, **params: Any):
        """Run a named query (`cityq query --list`) with its parameters: a pandas DataFrame."""
        return self._df(self.relation(name, **params), f"query {name!r} failed")

    def sql_relation(self, text: str, *, write: bool = False, **params: Any) -> duckdb.DuckDBPyRelation | None:
        """Ad-hoc SQL with `$name` parameters bound (never pasted into the text): the last
        statement's rows as a relation, or None when it returns none."""
        from cityq.queries.adhoc import sql_relation

        return sql_relation(self.con, text, params, write=write)

    def sql(self, text: str, *, write: bool = False, **params: Any):
        """Run ad-hoc SQL with `$name` parameters bound: the last statement's rows as a DataFrame."""
        import pandas as pd

        relation = self.sql_relation(text, write=write, **params)
        return pd.DataFrame() if relation is None else self._df(relation, "SQL error")

    @staticmethod
    def _df(relation: duckdb.DuckDBPyRelation, what: str):
        try:
            return relation.df()
        except duckdb.Error as exc:
            raise CityqError(f"{what}: {sql_error_text(exc)}") from exc

    def rows(self, relation: duckdb.DuckDBPyRelation):
        """The relation with this store's connection, as the CLI renders it (`cityq.store.export`)."""
        from cityq.store.export import Rows

        return Rows(self.con, relation)

    def chart(self, name: str, **params: Any):
        """The Altair chart of a named query (`cityq chart NAME`), its segmenter defaulting to the
        dataset's labels as in the CLI: `store.chart("rpc by city", threshold=0.3)`."""
        from cityq.charts import chart_of

        return chart_of(self, name, params)

    @staticmethod
    def now() -> datetime:
        return datetime.now()

    # -- notebook helpers -------------------------------------------------------------------
    # Torch-backed, imported when called: opening a store to query it does not pay for torch.
    @staticmethod
    def object_index(name: str) -> int:
        """The ADE20K-150 index of an object name: store.object_index("fence") -> 32."""
        from cityq.objects import object_index

        return object_index(name)

    def masks(self, model: str, split: str = "test", target: str = "true"):
        """(image_ids, float32 N x H x W masks in [0, 1]) of the model's mask ingest."""
        from cityq.store.ingests import find_ingest
        from cityq.store.masks import read_masks

        return read_masks(self, find_ingest(self, model, split, target).ingest_id)

    def cams(self, model: str, split: str = "test", target: str = "true"):
        """The native-resolution CAMs, the exact record the full-size masks derive from."""
        from cityq.store.ingests import find_ingest
        from cityq.store.masks import read_cams

        return read_cams(self, find_ingest(self, model, split, target).ingest_id)

    def segmentation(self, segmenter: str, image_ids, size: int | None = None):
        """uint8 N x H x W class maps of the images by a segmenter, at the geometry they were
        segmented at (the most recent segmentation that holds all of them, or the one at
        `size` x `size`)."""
        from cityq.store.segmentations import find_segmentation, load_segmentation

        return load_segmentation(self, find_segmentation(self, segmenter, image_ids, size), image_ids)

    def model(self, name: str):
        """The torch module of a stored model (eval mode, CPU), loaded once per Store."""
        if name not in self._models:
            from cityq.store.models import get_model_record, load_model_weights

            self._models[name] = load_model_weights(self, get_model_record(self, name))
        return self._models[name]

    def target_layer(self, name: str):
        """The module of `store.model(name)` whose output Grad-CAM explains."""
        from cityq.models.registry import target_layer
        from cityq.store.models import get_model_record

        return target_layer(self.model(name), get_model_record(self, name).arch)

    def inputs(self, model: str, image_ids):
        """What the model saw: the normalised input tensor, and the true-city class indices."""
        import torch

        from cityq.imaging import normalize
        from cityq.store.datasets import image_cities
        from cityq.store.image_cache import load_image_tensor
        from cityq.store.models import get_model_record

        record = get_model_record(self, model)
        ids = [int(i) for i in image_ids]
        cities = image_cities(self, ids)
        index = {city: i for i, city in enumerate(record.cities)}
        targets = torch.tensor([index[cities[i]] for i in ids], dtype=torch.long)
        return normalize(load_image_tensor(self, ids, record.img_size)), targets
