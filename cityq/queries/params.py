"""Named-query parameters: text from the command line to bound values, names checked.

A parameter that names things in the store (model, segmenter, city, object, dataset) takes one
name or several: `-p model=a -p model=b`, `-p model=a,b` and `model=["a", "b"]` in Python all
select both. The macros take either a name or a list (the `name_in` macro), so ad-hoc SQL keeps
`rpc_by_city(model := 'x')`. A name the store does not know is an error that lists the names it
does know, never an empty answer.
"""

from __future__ import annotations

import difflib
from typing import Any

import duckdb

from cityq.errors import CityqError

# Parameter -> (what it names, the SQL listing the names the store knows).
NAME_PARAMS = {
    "model": ("model", "SELECT model FROM models ORDER BY 1"),
    # `labels` (a dataset's own label maps) is every store's segmenter, recorded or not.
    "segmenter": ("segmenter", "SELECT segmenter FROM segmenters UNION SELECT segmenter FROM segmentations "
                               "UNION SELECT 'labels' ORDER BY 1"),
    "city": ("city", "SELECT DISTINCT city FROM images ORDER BY 1"),
    "object": ("object", "SELECT name FROM objects ORDER BY 1"),
    "dataset": ("dataset", "SELECT dataset FROM datasets ORDER BY 1"),
}
_SHOWN = 20  # names listed in an error before it points at the command that lists them all


def coerce(value: Any) -> Any:
    """CLI values arrive as text: '0.5' -> 0.5, '5' -> 5, 'null' -> None, 'true' -> True."""
    if not isinstance(value, str):
        return value
    lowered = value.strip().lower()
    if lowered in ("null", "none"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def _names(value: Any) -> list[str] | None:
    """'a', 'a,b', ['a', 'b,c'] -> ['a', 'b', 'c']; None or 'null' -> None."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if all(v is None or (isinstance(v, str) and v.strip().lower() in ("null", "none")) for v in items):
        return None
    names = [part.strip() for v in items if v is not None for part in str(v).split(",") if part.strip()]
    return list(dict.fromkeys(names)) or None


def bind(query_name: str, declared: list[str], params: dict[str, Any]) -> dict[str, Any]:
    """The values to bind: names split into lists, the rest coerced; one value per plain parameter."""
    values: dict[str, Any] = {}
    for name, value in params.items():
        if name not in declared:
            raise CityqError(f"query {query_name!r} has no parameter {name!r} (parameters: "
                             f"{', '.join(declared) or 'none'})")
        if name in NAME_PARAMS:
            names = _names(value)
            values[name] = names if names is None or len(names) > 1 else names[0]
            continue
        if isinstance(value, (list, tuple)):
            if len(value) != 1:
                raise CityqError(f"parameter {name!r} of {query_name!r} takes one value, got {len(value)}: "
                                 f"{', '.join(map(str, value))}")
            value = value[0]
        values[name] = coerce(value)
    return values


def check_names(con: duckdb.DuckDBPyConnection, values: dict[str, Any]) -> None:
    """Every name given must exist in the store; the error lists the ones that do."""
    for param, value in values.items():
        if param not in NAME_PARAMS or value is None:
            continue
        what, sql = NAME_PARAMS[param]
        known = [row[0] for row in con.execute(sql).fetchall()]
        given = value if isinstance(value, list) else [value]
        unknown = [v for v in given if v not in known]
        if not unknown:
            continue
        bad = unknown[0]
        if not known:
            raise CityqError(f"unknown {what} {bad!r}: the store has no {what}s yet")
        close = difflib.get_close_matches(bad, known, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        shown = ", ".join(known[:_SHOWN]) + (f", ... ({len(known)} in all)" if len(known) > _SHOWN else "")
        raise CityqError(f"unknown {what} {bad!r}{hint}; the store's {what}s: {shown}")
