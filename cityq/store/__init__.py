"""The experiment store: one directory holding a DuckDB file (the record of truth), a Zarr
group (masks, segmentations) and checkpoints. A Zarr array counts as present only once DuckDB
says so."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import duckdb
import pandas as pd

from cityq.errors import CityqError
from cityq.objects import ade20k_classes
from cityq.store import migrations
from cityq.store.connection import connect
from cityq.store.version import code_version

DB_FILE = "cityq.duckdb"
ZARR_DIR = "arrays.zarr"
DEFAULT_STORE = "cityq-store"

__all__ = ["Store", "code_version", "default_store_path"]


def default_store_path() -> Path:
    return Path(os.environ.get("CITYQ_STORE", DEFAULT_STORE))


class Store:
    """A cityq store directory. `Store(path)` opens it, creating it when `create` is true."""

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        read_only: bool = False,
        create: bool = True,
        wait_seconds: float | None = None,
    ):
        self.in_memory = str(path) == ":memory:"
        self.path = Path(path) if path is not None else default_store_path()
        self.read_only = read_only
        db_file = self.path / DB_FILE
        if self.in_memory:
            # Tests and notebooks: an empty store in memory, Zarr arrays in a temp folder.
            import tempfile

            self._tmp = tempfile.TemporaryDirectory(prefix="cityq-memory-")
            self.path = Path(self._tmp.name)
            self.read_only = False
            self._con = duckdb.connect(":memory:")
            migrations.migrate(self._con, ":memory:")
            self._seed_objects()
            self._in_transaction = False
            from cityq.queries.registry import install_macros

            install_macros(self._con)
            return
        if not db_file.exists():
            if read_only or not create:
                raise CityqError(
                    f"no cityq store at {self.path}; create one with `cityq synth` + "
                    "`cityq dataset add`, or pass --store DIR (or set CITYQ_STORE)"
                )
            if self.path.exists() and not self.path.is_dir():
                raise CityqError(f"{self.path} is a file, not a store directory; choose another --store")
            self.path.mkdir(parents=True, exist_ok=True)
        self._con = connect(db_file, read_only=read_only, wait_seconds=wait_seconds)
        try:
            if read_only:
                migrations.check_not_newer(self._con, str(self.path))
                if migrations.current_version(self._con) < migrations.latest_version():
                    # An older store: migrate needs write access; reading it as-is would
                    # miss tables, so say what to do.
                    raise CityqError(
                        f"store {self.path} uses an older schema; open it once for writing "
                        "(e.g. `cityq info`) to upgrade it"
                    )
            else:
                migrations.migrate(self._con, str(self.path))
                self._seed_objects()
        except Exception:
            self._con.close()
            raise
        self._in_transaction = False
        from cityq.queries.registry import install_macros

        install_macros(self._con)

    # -- connection -------------------------------------------------------------------------
    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None
        if getattr(self, "_tmp", None) is not None:
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
        self._con.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
        except BaseException:
            self._in_transaction = False
            self._con.execute("ROLLBACK")
            raise
        self._in_transaction = False
        self._con.execute("COMMIT")

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
        columns = list(frame.columns) if isinstance(frame, pd.DataFrame) else list(frame.column_names)
        # DuckDB 2 refuses register() while an earlier execute() result is unread.
        self._con.complete()
        self._con.register("_cityq_insert", frame)
        try:
            column_list = ", ".join(f'"{c}"' for c in columns)
            self._con.execute(
                f"INSERT INTO {table} ({column_list}) SELECT {column_list} FROM _cityq_insert"
            )
        finally:
            self._con.unregister("_cityq_insert")
        return n

    @contextlib.contextmanager
    def run(self, stage: str, subject: str | None = None, config: dict | None = None) -> Iterator[int]:
        """Record a stage run in `runs`: 'running' now, 'done' or 'failed' when the block ends.
        A run killed from outside stays 'running', which `cityq info` shows."""
        run_id = self._con.execute(
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
                self._con.execute("ROLLBACK")
            self._finish_run(run_id, "failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise
        self._finish_run(run_id, "done", None)

    def _finish_run(self, run_id: int, status: str, message: str | None) -> None:
        self._con.execute(
            "UPDATE runs SET status = $status, ended_at = current_timestamp, message = $message "
            "WHERE run_id = $run_id",
            {"status": status, "message": message, "run_id": run_id},
        )

    def _seed_objects(self) -> None:
        if self._con.execute("SELECT count(*) FROM objects").fetchall()[0][0]:
            return
        frame = pd.DataFrame(
            [(c.index, c.name, c.synonyms, c.is_stuff) for c in ade20k_classes()],
            columns=["object_id", "name", "synonyms", "is_stuff"],
        )
        self.insert_df("objects", frame)

    # -- reading ----------------------------------------------------------------------------
    def fetch_df(self, sql: str, params: dict | None = None) -> pd.DataFrame:
        return self._con.execute(sql, params or {}).df()

    def query(self, name: str, **params: Any) -> pd.DataFrame:
        """Run a named query (`cityq query --list`) with its parameters."""
        from cityq.queries.registry import run_named

        return run_named(self._con, name, params)

    def sql(self, text: str, *, write: bool = False, **params: Any) -> pd.DataFrame:
        """Run ad-hoc SQL with `$name` parameters bound (never pasted into the text)."""
        from cityq.queries.adhoc import run_sql

        return run_sql(self._con, text, params, write=write)

    # Notebook helpers that need the pipeline are attached in cityq.store.api.

    @staticmethod
    def now() -> datetime:
        return datetime.now()


from cityq.store import api as _api  # noqa: E402  (attaches the pipeline-level helpers)

_api.attach(Store)
