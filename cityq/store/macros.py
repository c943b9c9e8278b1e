"""The named queries (cityq/queries/sql/*.sql) as DuckDB macros stored in the store's file.

Stored, not TEMP: any DuckDB client that opens the file (read-only too) can call
`top_objects()`, `rpc_by_city(threshold := 0.3)`, ... `cityq_macros` records the definitions
installed; a store opened for writing by a cityq that ships other definitions gets them
replaced in one transaction (and the macros no longer shipped dropped). A store opened
read-only by such a cityq cannot be changed: its connection gets TEMP copies of this cityq's
macros, which shadow the stored ones for that connection only.
"""

from __future__ import annotations

import duckdb

from cityq import __version__


def _shipped() -> dict[str, tuple[str, str]]:
    """macro name -> (kind, CREATE statement) of every named query this cityq ships."""
    from cityq.queries.registry import all_macros

    return {q.macro: (q.kind, q.create_macro_sql()) for q in all_macros()}


def ensure_macros(con: duckdb.DuckDBPyConnection, read_only: bool) -> None:
    wanted = _shipped()
    installed = dict(con.execute("SELECT name, definition FROM cityq_macros").fetchall())
    if installed == {name: sql for name, (_, sql) in wanted.items()}:
        return
    if read_only:
        for name, (_, sql) in wanted.items():
            _create(con, name, sql.replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO", 1))
        return
    kinds = dict(con.execute("SELECT name, kind FROM cityq_macros").fetchall())
    con.execute("BEGIN TRANSACTION")
    try:
        for name in set(installed) - set(wanted):
            con.execute(f"DROP MACRO {'TABLE ' if kinds[name] == 'table' else ''}IF EXISTS {name}")
        for name, (_, sql) in wanted.items():
            _create(con, name, sql)
        con.execute("DELETE FROM cityq_macros")
        con.executemany(
            "INSERT INTO cityq_macros VALUES (?, ?, ?, ?, current_timestamp)",
            [(name, kind, sql, __version__) for name, (kind, sql) in wanted.items()],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _create(con: duckdb.DuckDBPyConnection, name: str, sql: str) -> None:
    try:
        con.execute(sql)
    except duckdb.Error as exc:  # a broken shipped query is a bug: say which
        raise RuntimeError(f"named query macro {name} does not compile: {exc}") from exc


def install_user_queries(con: duckdb.DuckDBPyConnection, folders) -> tuple:
    """The user's own named queries (`.sql` files with the same header, in `<store>/queries/`
    or a folder given with --queries) as TEMP macros of this connection: they leave the file
    alone, work on a read-only store, and can call the shipped macros and each other."""
    from cityq.queries.registry import load_folder

    queries = load_folder(folders)
    for query in queries:
        sql = query.create_macro_sql().replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO", 1)
        try:
            con.execute(sql)
        except duckdb.Error as exc:
            from cityq.errors import CityqError, sql_error_text

            raise CityqError(f"your query {query.file} does not compile: {sql_error_text(exc)}") from exc
    return queries
