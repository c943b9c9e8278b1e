"""The layering that docs/architecture.md describes, checked on the source: the store owns its
tables (no SQL outside cityq/store and cityq/queries), imports nothing from the layers above
it, and the docs' query catalogue names every named query with its parameters."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cityq"
DOCS = Path(__file__).resolve().parents[1] / "docs"

# Calls that run SQL on the store's connection.
SQL_CALLS = {"execute", "executemany", "fetch_df", "sql"}
SQL_OWNERS = ("store", "queries")


def _modules(folder: Path):
    for path in sorted(folder.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _imports(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


# Imports across the layers that are allowed, each with its reason.
EXCEPTIONS = {
    # The notebook's `store.chart(name)`, asked for by issue 19: imported when called, so the
    # store itself never loads Altair; charts depend on the store, not the other way round.
    ("store/core.py", "cityq.charts"),
}


@pytest.mark.parametrize("layer,forbidden", [
    ("store", ("cityq.pipeline", "cityq.segmenters", "cityq.figures", "cityq.charts", "cityq.report", "cityq.cli")),
    ("segmenters", ("cityq.pipeline",)),
    ("queries", ("cityq.pipeline", "cityq.store", "cityq.cli")),
])
def test_lower_layers_do_not_import_upper_ones(layer, forbidden):
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {module}"
        for path, tree in _modules(PACKAGE / layer)
        for module in _imports(tree)
        if module.startswith(forbidden) and (str(path.relative_to(PACKAGE)), module) not in EXCEPTIONS
    ]
    assert not offenders, offenders


def test_only_the_store_and_the_queries_run_sql():
    offenders = []
    for path, tree in _modules(PACKAGE):
        if path.relative_to(PACKAGE).parts[0] in SQL_OWNERS:
            continue
        lines = path.read_text().splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_CALLS:
                # `store.sql(...)` is the public ad-hoc SQL API the CLI passes user text to; the rule
                # allows a call whose line says why ("# SQL: ...").
                line = lines[node.lineno - 1]
                if "# SQL:" not in line and not (node.func.attr == "sql" and "opened.sql(" in line):
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def _documented_queries() -> dict[str, str]:
    """Query name -> the text of its section under '## The queries' in docs/queries.md."""
    text = (DOCS / "queries.md").read_text()
    catalogue = text.split("## The queries", 1)[1].split("\n## ", 1)[0]
    sections = re.split(r"^### ", catalogue, flags=re.M)[1:]
    documented = {}
    for section in sections:
        heading = section.splitlines()[0]
        for name in re.findall(r"`([^`]+)`", heading):
            documented[name] = section
    return documented


def test_the_query_catalogue_documents_every_query_and_parameter():
    from cityq.queries.registry import list_queries

    documented = _documented_queries()
    names = {q.name for q in list_queries()}
    assert set(documented) == names, (
        f"docs/queries.md lacks {sorted(names - set(documented))}, names unknown {sorted(set(documented) - names)}")
    for query in list_queries():
        missing = [p.name for p in query.params if p.name not in documented[query.name]]
        assert not missing, f"docs/queries.md: `{query.name}` does not mention its parameters {missing}"
