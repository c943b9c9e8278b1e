"""What every page shares: the config, the store gate, the tile cache, the templates, tables."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from cityq.serve.gate import GateTimes, StoreGate
from cityq.serve.tiles import LRU, Tiles
from cityq.store import DB_FILE


@dataclass(frozen=True)
class ServeConfig:
    store: Path
    host: str = "127.0.0.1"
    port: int = 8000
    gate: GateTimes = field(default_factory=GateTimes)
    max_rows: int = 1000  # rows a page shows (downloads carry them all)
    tiles: int = 4096  # PNG tiles kept in memory (a 128 px tile is ~20 kB)
    results: int = 256  # query answers kept in memory until the store changes


@dataclass(frozen=True)
class Table:
    """A DataFrame ready for the sortable table: cells as (shown text, sort value)."""

    columns: list[str]
    rows: list[list[tuple[str, object]]]
    n_rows: int
    cut: bool


def cell(value) -> tuple[str, str]:
    """(the text shown, the value the table sorts by: full precision for numbers)."""
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, np.ndarray):
        value = value.tolist()
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "", ""
    if isinstance(value, bool):
        return str(value).lower(), str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}", repr(value)
    return str(value), str(value)


def table(frame: pd.DataFrame, max_rows: int | None = None, cut: bool = False) -> Table:
    shown = frame if max_rows is None else frame.iloc[:max_rows]
    rows = [[cell(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    return Table([str(c) for c in frame.columns], rows, len(frame), cut or len(shown) < len(frame))


class Site:
    def __init__(self, config: ServeConfig):
        self.config = config
        self.gate = StoreGate(config.store, config.gate)
        self.tiles = Tiles(self._tile_source, max_tiles=config.tiles)
        self.results = LRU(config.results)
        folder = Path(str(resources.files("cityq.serve").joinpath("templates")))
        self.templates = Jinja2Templates(directory=str(folder))
        self.templates.env.globals["store_path"] = str(Path(config.store).resolve())

    def version(self) -> tuple:
        """Changes whenever the store's database does: any commit rewrites the DuckDB file or
        its write-ahead log. A stat needs no lock, so a cached answer costs no store visit."""
        db = Path(self.config.store) / DB_FILE
        out = []
        for path in (db, db.with_name(db.name + ".wal")):
            try:
                st = path.stat()
                out.append((st.st_ino, st.st_size, st.st_mtime_ns))
            except FileNotFoundError:
                out.append(None)
        return tuple(out)

    def read(self, key: tuple, fn: Callable):
        """fn(store), remembered until the database changes. Read the version first: what fn
        then reads is at least that new, so a cached answer is never older than its key."""
        versioned = (self.version(), key)
        cached = self.results.get(versioned)
        if cached is not None:
            return cached
        with self.gate.store() as store:
            value = fn(store)
        self.results.put(versioned, value)
        return value

    def derive(self, key: tuple, fn: Callable):
        """fn(), remembered like `read` (for what is computed from read answers: chart specs)."""
        versioned = (self.version(), key)
        cached = self.results.get(versioned)
        if cached is None:
            cached = fn()
            self.results.put(versioned, cached)
        return cached

    def _tile_source(self, ingest_id: int):
        from cityq.store.browse import tile_source

        return self.read(("tile source", ingest_id), lambda store: tile_source(store, ingest_id))

    def page(self, request: Request, template: str, context: dict, status: int = 200):
        return self.templates.TemplateResponse(request, template, context, status_code=status)
