"""SQL typed into the browser (`cityq serve`): it may read the store's tables and call the
named-query macros, nothing else.

Two walls, so that neither alone has to be perfect:
- the statement kinds: SELECT (with WITH, DESCRIBE, SHOW, SUMMARIZE) and EXPLAIN only; no
  COPY, ATTACH, INSTALL, LOAD, SET, CALL, and no CREATE TEMP either (it would outlive the query
  on the server's shared connection);
- the engine: `lock_down(con)` turns DuckDB's `enable_external_access` off and locks the
  configuration, so no function can open a file (read_csv, read_parquet, read_json, read_text,
  read_blob, glob, a `'file.csv'` replacement scan) or load an extension, and nothing can turn
  it back on. The store's own tables and macros still work: the database file is already open.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from cityq.errors import CityqError

_ALLOWED = {"SELECT", "EXPLAIN"}

REFUSED_FILE_ACCESS = (
    "refused: the SQL box reads only the store's tables and macros; reading or writing files "
    "(read_csv, read_parquet, read_json, read_text, read_blob, glob, 'file.csv', COPY, ATTACH) "
    "and extensions are turned off here (use `cityq sql` in a shell for that)"
)


class Refused(CityqError):
    """A statement the SQL box will not run."""


def lock_down(con: duckdb.DuckDBPyConnection) -> None:
    """No file access and no extensions on this database, for as long as it is open."""
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def check(text: str) -> list[str]:
    """The statements of `text`, or `Refused` naming the first one that is not a plain read."""
    try:
        statements = duckdb.extract_statements(text)
    except duckdb.Error as exc:
        raise CityqError(f"SQL error: {_first_line(exc)}") from exc
    if not statements:
        raise CityqError("no SQL statement given")
    for statement in statements:
        kind = statement.type.name
        if kind not in _ALLOWED:
            if kind in ("COPY", "ATTACH", "LOAD", "EXPORT", "COPY_DATABASE"):
                raise Refused(REFUSED_FILE_ACCESS + f" (a {kind} statement)")
            raise Refused(f"refused: a {kind} statement; the SQL box only reads (SELECT, WITH, EXPLAIN, "
                          "DESCRIBE, SHOW, SUMMARIZE)")
    return [s.query for s in statements]


def run(con: duckdb.DuckDBPyConnection, text: str, max_rows: int | None = None) -> tuple[pd.DataFrame, bool]:
    """Run checked SQL on a locked-down connection: (the last statement's rows, whether they
    were cut at `max_rows`)."""
    statements = check(text)
    try:
        result = None
        for statement in statements:
            result = con.execute(statement)
        if result is None or not result.description:
            return pd.DataFrame(), False
        if max_rows is None:
            return result.df(), False
        # Fetch in vectors (2048 rows) and stop past max_rows: a huge result never lands whole.
        chunks, n = [], 0
        while n <= max_rows:
            chunks.append(result.fetch_df_chunk(1))  # an empty one still carries the columns
            if chunks[-1].empty:
                break
            n += len(chunks[-1])
        frame = pd.concat(chunks, ignore_index=True)
        return frame.iloc[:max_rows], n > max_rows
    except duckdb.PermissionException as exc:
        raise Refused(REFUSED_FILE_ACCESS + f" (DuckDB: {_first_line(exc)})") from exc
    except duckdb.Error as exc:
        raise CityqError(f"SQL error: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
