"""Rows out of DuckDB: files written by DuckDB itself (CSV, TSV, JSON, NDJSON, Parquet), so a
command that prints rows never needs pandas, and a file and stdout hold the same bytes.

A result is a DuckDB relation (lazy: it runs when read). `write_rows` copies it to a file with
`COPY ... TO $path` (the path is bound, never pasted); `fetch_rows` reads it for a table.
`records` turns Python values (a list of the named queries, a summary) into a relation on a
private in-memory connection, so they go through the same writers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from cityq.errors import CityqError, sql_error_text

# Formats DuckDB writes, and the COPY options of each. The options are fixed text, never input.
COPY_OPTIONS = {
    "csv": "FORMAT csv, HEADER {header}",
    "tsv": "FORMAT csv, DELIMITER '\t', HEADER {header}",
    "json": "FORMAT json, ARRAY true",
    "ndjson": "FORMAT json",
    "parquet": "FORMAT parquet",
}
_FLOATS = {"FLOAT", "DOUBLE", "REAL"}
_counter = itertools.count()


@dataclass
class Rows:
    """A relation and the connection it lives on (COPY needs the connection)."""

    con: duckdb.DuckDBPyConnection
    relation: duckdb.DuckDBPyRelation

    @property
    def columns(self) -> list[str]:
        return list(self.relation.columns)

    @property
    def types(self) -> list[str]:
        return [str(t) for t in self.relation.types]

    def fetch(self) -> list[tuple]:
        try:
            return self.relation.fetchall()
        except duckdb.Error as exc:
            raise CityqError(f"query failed: {sql_error_text(exc)}") from exc

    def write(self, path: Path, fmt: str, header: bool = True) -> int:
        return write_rows(self.con, self.relation, path, fmt, header)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def write_rows(con: duckdb.DuckDBPyConnection, relation: duckdb.DuckDBPyRelation, path: Path, fmt: str,
               header: bool = True) -> int:
    """COPY the relation's rows to `path` in `fmt` (a key of COPY_OPTIONS); returns how many."""
    options = COPY_OPTIONS[fmt].format(header="true" if header else "false")
    view = f"cityq_out_{next(_counter)}"
    select = "*"
    if fmt in ("json", "ndjson"):
        # NaN and infinity are not JSON: write them as null, as the json module's readers expect.
        floats = [c for c, t in zip(relation.columns, relation.types) if str(t) in _FLOATS]
        if floats:
            select = "* REPLACE (" + ", ".join(
                f"CASE WHEN isfinite({_quote(c)}) THEN {_quote(c)} END AS {_quote(c)}" for c in floats) + ")"
    con.register(view, relation)
    try:
        written = con.execute(f"COPY (SELECT {select} FROM {view}) TO $path ({options})",
                              {"path": str(path)}).fetchall()
    except duckdb.Error as exc:
        raise CityqError(f"cannot write {path}: {sql_error_text(exc)}") from exc
    finally:
        con.unregister(view)
    return int(written[0][0]) if written and written[0] else 0


def records(rows: list[dict[str, Any]], columns: list[str]) -> Rows:
    """Python rows (dicts with these keys) as a relation on a private in-memory connection."""
    con = duckdb.connect()
    if rows:
        ordered = [{c: row.get(c) for c in columns} for row in rows]
        relation = con.sql("SELECT unnest($rows, recursive := true)", params={"rows": ordered})
    else:
        relation = con.sql("SELECT " + ", ".join(f"NULL::VARCHAR AS {_quote(c)}" for c in columns) + " LIMIT 0")
    return Rows(con, relation)
