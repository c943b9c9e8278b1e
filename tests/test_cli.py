"""The command line: help with examples everywhere, output formats, errors as one line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from cityq.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands():
    """(path, click command) for every leaf command, e.g. ('dataset add', cmd)."""
    from typer.main import get_command

    def walk(command, prefix):
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(sub, f"{prefix} {name}".strip())
        else:
            yield prefix, command

    return list(walk(get_command(app), ""))


def test_top_level_help_lists_the_core_commands(cli):
    result = cli(["--help"])
    assert result.exit_code == 0
    for name in ("ingest", "query", "sql", "chart"):
        assert f"  {name} " in result.stdout


@pytest.mark.parametrize("path", [p for p, _ in _commands()])
def test_every_command_has_help_with_an_example_and_is_in_the_readme(cli, path):
    result = cli([*path.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Example: cityq" in result.stdout, f"`cityq {path} --help` shows no example"
    assert f"cityq {path}" in README.read_text(), f"`cityq {path}` is not in the README"


@pytest.fixture
def empty_store(tmp_path):
    from cityq.store import Store

    Store.create(tmp_path / "s").close()
    return tmp_path / "s"


def test_sql_prints_csv(cli, empty_store):
    result = cli(["sql", "select 42 as x", "--format", "csv", "--store", empty_store])
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["x", "42"]


def test_formats_parse_back_to_the_same_rows(cli, tmp_path, empty_store):
    query = "select range AS i, range * 0.5 AS half, 'c' || range::VARCHAR AS name from range(4)"
    expected = pd.DataFrame({"i": range(4), "half": [0.0, 0.5, 1.0, 1.5], "name": ["c0", "c1", "c2", "c3"]})
    store = empty_store
    csv_out = cli(["sql", query, "-f", "csv", "--store", store]).stdout
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(csv_out)), expected)
    json_out = cli(["sql", query, "-f", "json", "--store", store]).stdout
    pd.testing.assert_frame_equal(pd.DataFrame(json.loads(json_out)), expected)
    ndjson_out = cli(["sql", query, "-f", "ndjson", "--store", store]).stdout
    pd.testing.assert_frame_equal(pd.DataFrame([json.loads(line) for line in ndjson_out.splitlines()]), expected)
    table_out = cli(["sql", query, "--store", store]).stdout
    assert "c3" in table_out and "half" in table_out
    for suffix, reader in ((".csv", pd.read_csv), (".json", pd.read_json), (".parquet", pd.read_parquet)):
        target = tmp_path / f"rows{suffix}"
        assert cli(["sql", query, "-o", target, "--store", store]).exit_code == 0
        pd.testing.assert_frame_equal(reader(target), expected, check_dtype=False)


def test_parameters_are_bound_not_pasted(cli, empty_store):
    result = cli(["sql", "select $name AS v", "-p", "name=x'; drop table objects; --", "-f", "csv",
                  "--store", empty_store])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[1] == "x'; drop table objects; --"


@pytest.mark.parametrize(
    "args, message",
    [
        (["query", "rpc by cty"], "unknown query"),
        (["sql", "selec 1"], "SQL error"),
        (["sql", "create table t(x int)"], "add --write"),
        (["sql", "select 1", "-p", "novalue"], "name=value"),
        (["sql", "select * from no_such_table"], "SQL error"),
    ],
)
def test_errors_are_one_line_without_traceback(cli, empty_store, args, message):
    result = cli([*args, "--store", empty_store])
    assert result.exit_code != 0
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_query_suggests_a_name(cli, tmp_path):
    result = cli(["query", "rpc by cty", "--store", tmp_path / "s"])
    assert "Did you mean" in result.stderr and "rpc by city" in result.stderr


def test_write_is_allowed_with_the_flag(cli, empty_store):
    store = empty_store
    assert cli(["sql", "create table t(x int)", "--write", "--store", store]).exit_code == 0
    assert cli(["sql", "insert into t values (7)", "--write", "--store", store]).exit_code == 0
    assert cli(["sql", "select x from t", "-f", "csv", "--store", store]).stdout.splitlines() == ["x", "7"]


def test_query_list_names_the_queries(cli):
    result = cli(["query", "--list", "-f", "json"])
    names = {row["name"] for row in json.loads(result.stdout)}
    assert "rpc by city" in names


def test_named_queries_are_sql_macros(memory_store):
    from cityq.queries.registry import list_queries

    for query in list_queries():
        frame = memory_store.sql(f"SELECT * FROM {query.macro}()")
        assert isinstance(frame, pd.DataFrame)
        pd.testing.assert_frame_equal(frame, memory_store.query(query.name), check_dtype=False)


def test_info_on_an_empty_store(cli, empty_store):
    result = cli(["info", "--store", empty_store, "-f", "table"])
    assert result.exit_code == 0, result.output
    assert "schema_version" in result.stdout
