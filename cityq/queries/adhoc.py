"""Ad-hoc SQL: read-only unless the caller asks to write; parameters bound, never pasted."""

from __future__ import annotations

import re
from typing import Any

import duckdb

from cityq.errors import CityqError, sql_error_text
from cityq.queries.params import coerce

# Statement kinds that only read. Anything else needs --write.
_READ_ONLY = {"SELECT", "EXPLAIN", "PRAGMA", "SET", "VARIABLE_SET"}


def _kind(statement) -> str:
    """The statement's kind as a user wrote it: DuckDB files INSTALL under LOAD."""
    kind = statement.type.name
    if kind == "LOAD" and re.match(r"\s*(FORCE\s+)?INSTALL\b", statement.query, re.IGNORECASE):
        return "INSTALL"
    return kind


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"


def _statements(text: str):
    try:
        return duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise CityqError(f"SQL error: {sql_error_text(exc)}") from exc


def check_read_only(text: str) -> None:
    for statement in _statements(text):
        kind = _kind(statement)
        if statement.type.name not in _READ_ONLY:
            raise CityqError(
                f"refused: {_article(kind)} {kind} statement changes the store; add --write if you mean it"
            )


def sql_relation(con: duckdb.DuckDBPyConnection, text: str, params: dict[str, Any],
                 write: bool = False) -> duckdb.DuckDBPyRelation | None:
    """Run every statement but the last; the last one's rows as a relation (None when it has
    none, e.g. an UPDATE). A list binds as a DuckDB list; text is coerced (`coerce`)."""
    if not write:
        check_read_only(text)
    values = {k: [coerce(x) for x in v] if isinstance(v, (list, tuple)) else coerce(v) for k, v in params.items()}
    statements = _statements(text)
    if not statements:
        raise CityqError("no SQL statement given")
    try:
        for statement in statements[:-1]:
            con.execute(statement.query, _named(values, statement.query))
        last = statements[-1].query
        return con.sql(last, params=_named(values, last) or None)
    except duckdb.Error as exc:
        raise CityqError(f"SQL error: {sql_error_text(exc)}") from exc


def _named(values: dict[str, Any], query: str) -> dict[str, Any]:
    # Bind only the parameters each statement names, so `$x` in one of several works.
    return {k: v for k, v in values.items() if re.search(rf"\${re.escape(k)}\b", query)}


def run_sql(con: duckdb.DuckDBPyConnection, text: str, params: dict[str, Any], write: bool = False):
    """The rows of the last statement as a pandas DataFrame (the Python API)."""
    import pandas as pd

    relation = sql_relation(con, text, params, write=write)
    if relation is None:
        return pd.DataFrame()
    try:
        return relation.df()
    except duckdb.Error as exc:
        raise CityqError(f"SQL error: {sql_error_text(exc)}") from exc
