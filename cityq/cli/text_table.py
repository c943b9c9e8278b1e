"""Rows as text for people: an aligned table that fits the terminal, or a Markdown table.

Cells are plain text, never markup (a value `[bold]x[/bold]` prints as written). Numbers are
right-aligned and shown to 4 significant digits (the machine formats keep every digit).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
from decimal import Decimal

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")
MIN_WIDTH = 6  # a column squeezed to fit the terminal keeps at least this many characters


def is_numeric(duckdb_type: str) -> bool:
    return duckdb_type.split("(")[0] in _NUMERIC


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return f"{value:.4g}"
    if isinstance(value, Decimal):
        return f"{float(value):.4g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(cell(v) for v in value) + "]"
    # One line per row: newlines and tabs in text would break the columns.
    return " ".join(str(value).split()) if isinstance(value, str) and ("\n" in value or "\t" in value) else str(value)


NO_LIMIT = 10**6  # a file or a pipe: every cell whole (a log of `cityq demo` must not cut text)


def terminal_width() -> int:
    """$COLUMNS, else the terminal's width, else no limit (stdout is a file or a pipe)."""
    try:
        return max(20, int(os.environ["COLUMNS"]))
    except (KeyError, ValueError):
        return shutil.get_terminal_size((NO_LIMIT, 24)).columns


def _fit(widths: list[int], limit: int, gap: int) -> list[int]:
    """Shrink the widest columns until the row fits `limit` characters (never below MIN_WIDTH)."""
    widths = list(widths)
    while sum(widths) + gap * (len(widths) - 1) > limit:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= MIN_WIDTH:
            break
        widths[widest] -= 1
    return widths


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def table(columns: list[str], types: list[str], rows: list[tuple], *, header: bool = True,
          width: int | None = None) -> str:
    """An aligned text table, two spaces between columns, a rule under the header."""
    gap = 2
    texts = [[cell(v) for v in row] for row in rows]
    right = [is_numeric(t) for t in types]
    natural = [max([len(c) if header else 0, *(len(r[i]) for r in texts)]) for i, c in enumerate(columns)]
    widths = _fit(natural, width or terminal_width(), gap)

    def line(values: list[str]) -> str:
        parts = [_clip(v, w).rjust(w) if r else _clip(v, w).ljust(w) for v, w, r in zip(values, widths, right)]
        return (" " * gap).join(parts).rstrip()

    out = []
    if header:
        out.append(line(list(columns)))
        out.append((" " * gap).join("─" * w for w in widths))
    out += [line(r) for r in texts]
    return "\n".join(out) + "\n"


def markdown(columns: list[str], types: list[str], rows: list[tuple], *, header: bool = True) -> str:
    """A GitHub-flavoured Markdown table (`|` escaped, numbers right-aligned)."""

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|")

    out = []
    # Markdown has no table without a header row; --no-headers leaves the names empty.
    out.append("| " + " | ".join(esc(c) if header else " " for c in columns) + " |")
    out.append("|" + "|".join("---:" if is_numeric(t) else "---" for t in types) + "|")
    out += ["| " + " | ".join(esc(cell(v)) for v in row) + " |" for row in rows]
    return "\n".join(out) + "\n"
