"""What every page shares: the config, the store gate, the tile cache, the templates, tables."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from cityq.serve.gate import GateTimes, StoreGate
from cityq.serve.tiles import Tiles


@dataclass(frozen=True)
class ServeConfig:
    store: Path
    host: str = "127.0.0.1"
    port: int = 8000
    gate: GateTimes = field(default_factory=GateTimes)
    max_rows: int = 1000  # rows a page shows (downloads carry them all)
    tiles: int = 4096  # PNG tiles kept in memory (a 128 px tile is ~20 kB)


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
        self.tiles = Tiles(self.gate.store, max_tiles=config.tiles)
        folder = Path(str(resources.files("cityq.serve").joinpath("templates")))
        self.templates = Jinja2Templates(directory=str(folder))
        self.templates.env.globals["store_path"] = str(Path(config.store).resolve())

    def page(self, request: Request, template: str, context: dict, status: int = 200):
        return self.templates.TemplateResponse(request, template, context, status_code=status)
