"""The named-query registry: every `cityq/queries/sql/*.sql` file, by name.

Each query is also a DuckDB table macro stored in the store's file (cityq.store.macros), so
ad-hoc SQL and any DuckDB client can call it: `SELECT * FROM rpc_by_city(threshold := 0.5)`.
Running a named query is exactly calling its macro with bound parameters, so the CLI, Python
and ad-hoc SQL agree. A few files are scalar macros that the queries share (`-- kind: scalar`).
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import duckdb

from cityq.errors import CityqError, sql_error_text
from cityq.queries.header import Param, parse
from cityq.queries.params import bind, check_names, coerce  # noqa: F401  (coerce: for ad-hoc SQL)


def normalise(name: str) -> str:
    """Names match ignoring case, spaces, '-' and '_'."""
    return re.sub(r"[\s\-_]+", "", name.lower())


@dataclass(frozen=True)
class NamedQuery:
    name: str  # 'rpc by city'
    description: str
    params: tuple[Param, ...]
    body: str
    file: str
    kind: str = "table"  # 'table': a named query; 'scalar': an expression macro the queries share
    chart_file: str = ""  # a user query's Vega-Lite chart (`NAME.chart.json` beside its .sql file)

    @property
    def macro(self) -> str:
        """The table macro's identifier: 'rpc by city' -> rpc_by_city."""
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def create_macro_sql(self) -> str:
        signature = ", ".join(f"{p.name} := {p.default}" if p.default else p.name for p in self.params)
        table = "TABLE\n" if self.kind == "table" else ""
        return f"CREATE OR REPLACE MACRO {self.macro}({signature}) AS {table}{self.body}"


@functools.cache
def _load() -> tuple[NamedQuery, ...]:
    folder = resources.files("cityq.queries").joinpath("sql")
    queries = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".sql"):
            continue
        header = parse(entry.read_text(), entry.name)
        queries.append(NamedQuery(header.name, header.description, header.params, header.body, entry.name,
                                  header.kind))
    seen: dict[str, str] = {}
    for q in queries:
        key = normalise(q.name)
        if key in seen:
            raise RuntimeError(f"named query {q.name!r} defined twice: {seen[key]} and {q.file}")
        seen[key] = q.file
    return tuple(_callees_first(queries))


def _callees_first(queries: list[NamedQuery]) -> list[NamedQuery]:
    """The queries ordered so that each comes after the macros it calls (the order `cityq query
    --list` and the docs show them in; also a check that no query calls itself)."""
    by_macro = {q.macro: q for q in queries}
    ordered: list[NamedQuery] = []
    visiting: set[str] = set()

    def visit(q: NamedQuery) -> None:
        if q in ordered:
            return
        if q.macro in visiting:
            raise RuntimeError(f"named query {q.file} calls itself through other queries")
        visiting.add(q.macro)
        for callee in re.findall(r"\b([a-z0-9_]+)\s*\(", q.body):
            if callee in by_macro and callee != q.macro:
                visit(by_macro[callee])
        visiting.discard(q.macro)
        ordered.append(q)

    for q in queries:
        visit(q)
    return ordered


def load_folder(folders) -> tuple[NamedQuery, ...]:
    """The user's own queries: every `*.sql` file with the named-query header in these folders
    (missing folders are skipped), callees first. A `NAME.chart.json` beside `NAME.sql` is its
    chart: a Vega-Lite spec without data, which `cityq chart` fills with the query's rows."""
    from pathlib import Path

    found: list[NamedQuery] = []
    taken = {normalise(q.name): q.file for q in _load()}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.sql")):
            try:
                header = parse(path.read_text(), str(path))
            except (ValueError, OSError, UnicodeDecodeError) as exc:
                raise CityqError(f"cannot read your query {path}: {exc}") from exc
            if header.kind != "table":
                raise CityqError(f"{path}: your queries are table queries; drop its `-- kind:` line")
            key = normalise(header.name)
            if key in taken:
                raise CityqError(f"your query {path} is named {header.name!r}, which {taken[key]} already is; "
                                 "rename it (its `-- name:` line)")
            taken[key] = str(path)
            chart = path.with_suffix(".chart.json")
            found.append(NamedQuery(header.name, header.description, header.params, header.body, str(path),
                                    "table", str(chart) if chart.is_file() else ""))
    return tuple(_callees_first(found)) if found else ()


def all_macros() -> tuple[NamedQuery, ...]:
    """Every macro a store holds: the named queries and the scalar macros they share."""
    return _load()


def list_queries() -> tuple[NamedQuery, ...]:
    """The named queries (table macros), callees first."""
    return tuple(q for q in _load() if q.kind == "table")


def find_query(name: str, extra: tuple[NamedQuery, ...] = ()) -> NamedQuery:
    """A named query by name (case, spaces, - and _ ignored) or macro; `extra` are the store's own."""
    wanted = normalise(name)
    for query in (*list_queries(), *extra):
        if normalise(query.name) == wanted or query.macro == name:
            return query
    names = [q.name for q in (*list_queries(), *extra)]
    close = difflib.get_close_matches(name.lower(), names, n=3, cutoff=0.4)
    hint = f" Did you mean: {', '.join(repr(c) for c in close)}?" if close else ""
    raise CityqError(f"unknown query {name!r}.{hint} `cityq query --list` shows them all.")


def named_relation(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any],
                   extra: tuple[NamedQuery, ...] = ()) -> duckdb.DuckDBPyRelation:
    """The rows of a named query as a DuckDB relation (lazy: it runs when read), its parameters
    checked and bound. `extra`: the store's own queries (`<store>/queries/*.sql`)."""
    query = find_query(name, extra)
    values = bind(query.name, [p.name for p in query.params], params)
    check_names(con, values)
    arguments = ", ".join(f"{k} := ${k}" for k in values)
    try:
        return con.sql(f"SELECT * FROM {query.macro}({arguments})", params=values)
    except duckdb.Error as exc:
        raise CityqError(f"query {query.name!r} failed: {sql_error_text(exc)}") from exc


def run_named(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]):
    """The rows of a named query as a pandas DataFrame (the Python API; the CLI never needs it)."""
    relation = named_relation(con, name, params)
    try:
        return relation.df()
    except duckdb.Error as exc:
        raise CityqError(f"query {find_query(name).name!r} failed: {sql_error_text(exc)}") from exc

