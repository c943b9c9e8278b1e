"""Ad-hoc SQL: read-only unless the caller asks to write; parameters bound, never pasted."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from cityq.errors import CityqError
from cityq.queries.registry import coerce

# Statement kinds that only read. Anything else needs --write.
_READ_ONLY = {"SELECT", "EXPLAIN", "PRAGMA", "SET", "VARIABLE_SET"}


def check_read_only(text: str) -> None:
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise CityqError(f"SQL error: {_first_line(exc)}") from exc
    for statement in statements:
        kind = statement.type.name
        if kind not in _READ_ONLY:
            raise CityqError(
                f"refused: a {kind} statement changes the store; add --write if you mean it"
            )


def run_sql(con: duckdb.DuckDBPyConnection, text: str, params: dict[str, Any], write: bool = False) -> pd.DataFrame:
    if not write:
        check_read_only(text)
    values = {k: coerce(v) for k, v in params.items()}
    try:
        statements = duckdb.extract_statements(text)
        if not statements:
            raise CityqError("no SQL statement given")
        result = None
        for statement in statements:
            # Bind only the parameters each statement names, so `$x` in one of several works.
            named = {k: v for k, v in values.items() if f"${k}" in statement.query}
            result = con.execute(statement.query, named)
        frame = result.df() if result is not None and result.description else pd.DataFrame()
    except duckdb.Error as exc:
        raise CityqError(f"SQL error: {_first_line(exc)}") from exc
    return frame


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines[:1]) if lines else type(exc).__name__
