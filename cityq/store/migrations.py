"""Ordered schema migrations: `migrations/NNNN_*.sql`, applied in order when a store opens.

Numbers are reserved per issue and the issues land in any order (0005 before 0003), so a store
records every migration it has applied and gets each shipped one it lacks, not only those
above its highest number.
"""

from __future__ import annotations

import functools
from importlib import resources

import duckdb

from cityq import __version__
from cityq.errors import CityqError


def available() -> list[tuple[int, str]]:
    """(version, sql) for every migration shipped with this cityq, in order."""
    return list(_shipped())


@functools.cache
def _shipped() -> tuple[tuple[int, str], ...]:
    # Read once per process: every open of a store asks for the latest version.
    folder = resources.files("cityq.store").joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql") and entry.name[:4].isdigit():
            found.append((int(entry.name[:4]), entry.read_text()))
    return tuple(sorted(found))


def latest_version() -> int:
    return available()[-1][0]


def current_version(con: duckdb.DuckDBPyConnection) -> int:
    try:
        return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()[0][0]
    except duckdb.CatalogException:  # a new, empty database: no schema yet
        return 0


def applied(con: duckdb.DuckDBPyConnection) -> set[int]:
    try:
        return {row[0] for row in con.execute("SELECT version FROM schema_version").fetchall()}
    except duckdb.CatalogException:  # a new, empty database: no schema yet
        return set()


def pending(con: duckdb.DuckDBPyConnection) -> list[int]:
    """The shipped migrations this store has not applied, in order."""
    done = applied(con)
    return [number for number, _ in available() if number not in done]


def check_not_newer(con: duckdb.DuckDBPyConnection, where: str) -> int:
    version = current_version(con)
    if version > latest_version():
        raise CityqError(
            f"store {where} has schema version {version}, newer than this cityq understands "
            f"({latest_version()}); upgrade cityq (pip install -U cityq) to open it"
        )
    return version


def migrate(con: duckdb.DuckDBPyConnection, where: str) -> int:
    """Apply every pending migration, each in its own transaction. Returns the new version."""
    version = check_not_newer(con, where)
    done = applied(con)
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version "
        "(version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL, cityq_version VARCHAR NOT NULL)"
    )
    for number, sql in available():
        if number in done:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(sql)
            con.execute(
                "INSERT INTO schema_version VALUES ($v, current_timestamp, $cv)",
                {"v": number, "cv": __version__},
            )
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        version = max(version, number)
    return version
