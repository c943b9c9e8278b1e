"""The store: creation, migrations, busy and newer stores, bulk inserts, runs."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from cityq.errors import CityqError
from cityq.store import Store, migrations


def test_new_store_has_schema_and_objects(tmp_path):
    with Store.create(tmp_path / "s") as store:
        assert store.fetch_df("SELECT max(version) AS v FROM schema_version")["v"][0] == migrations.latest_version()
        names = store.fetch_df("SELECT name FROM objects WHERE object_id IN (13, 32, 43, 48) ORDER BY object_id")
        assert names["name"].tolist() == ["earth", "fence", "signboard", "skyscraper"]
    # Reopening does not seed twice.
    with Store.create(tmp_path / "s") as store:
        assert store.fetch_df("SELECT count(*) AS n FROM objects")["n"][0] == 150


def test_older_store_is_migrated(tmp_path, monkeypatch):
    with Store.create(tmp_path / "s"):
        pass
    extra = (migrations.latest_version() + 1, "CREATE TABLE notes (note VARCHAR);")
    original = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: [*original, extra])
    with Store.create(tmp_path / "s") as store:
        assert store.fetch_df("SELECT max(version) AS v FROM schema_version")["v"][0] == extra[0]
        assert store.fetch_df("SELECT count(*) AS n FROM notes")["n"][0] == 0


def test_a_migration_merged_below_the_stores_version_is_applied(tmp_path):
    # Migration numbers are reserved per issue and branches merge in any order: a store made
    # before 0004 was merged (at 0005, without 0004's table) gets 0004 when it is next opened.
    assert migrations.latest_version() > 4
    with Store.create(tmp_path / "s") as store:
        store.con.execute("DROP TABLE reliance")
        store.con.execute("DELETE FROM schema_version WHERE version = 4")
    with pytest.raises(CityqError, match="older schema"):
        Store(tmp_path / "s", read_only=True)
    with Store(tmp_path / "s") as store:
        assert 4 in store.fetch_df("SELECT version FROM schema_version")["version"].tolist()
        assert store.fetch_df("SELECT count(*) AS n FROM reliance")["n"][0] == 0
    with Store(tmp_path / "s", read_only=True):
        pass


def test_newer_store_is_refused(tmp_path):
    with Store.create(tmp_path / "s") as store:
        store.con.execute("INSERT INTO schema_version VALUES (999, current_timestamp, '99.0')")
    with pytest.raises(CityqError, match="newer than this cityq"):
        Store.create(tmp_path / "s")


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(CityqError, match="no cityq store"):
        Store(tmp_path / "nowhere", read_only=True)


def test_busy_store_names_the_holder(tmp_path):
    with Store.create(tmp_path / "s"):
        pass
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cityq.store import Store; s = Store.create(sys.argv[1]); "
            "print('ok', flush=True); time.sleep(30)",
            str(tmp_path / "s"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(CityqError, match=r"store busy: .* in use by process \d+"):
            Store.create(tmp_path / "s", wait_seconds=0.3)
    finally:
        holder.kill()
        holder.wait()


def test_transaction_rolls_back_and_run_records_status(memory_store):
    frame = pd.DataFrame({"dataset": ["d"], "path": ["a.png"], "reason": ["bad"], "seen_at": [pd.Timestamp.now()]})
    with pytest.raises(RuntimeError):
        with memory_store.transaction():
            memory_store.insert_df("bad_files", frame)
            raise RuntimeError("boom")
    assert memory_store.fetch_df("SELECT count(*) AS n FROM bad_files")["n"][0] == 0
    with pytest.raises(ValueError):
        with memory_store.run("demo-stage", "x", {"k": 1}):
            raise ValueError("failed on purpose")
    with memory_store.run("demo-stage", "y"):
        pass
    runs = memory_store.fetch_df("SELECT subject, status, message FROM runs ORDER BY run_id")
    assert runs["status"].tolist() == ["failed", "done"]
    assert runs["message"][0] == "failed on purpose"


def test_macros_are_stored_in_the_file_for_any_duckdb_client(tmp_path):
    import duckdb

    from cityq.queries.registry import all_macros
    from cityq.store.synthetic_counts import SyntheticCountsConfig, write_synthetic_counts

    with Store.create(tmp_path / "s") as store:
        write_synthetic_counts(store, SyntheticCountsConfig(n_images=20, archs=("vgg11",), seeds=(0,), size=32))
        expected = store.query("top objects", k=3)
    # A plain DuckDB client, read-only, with no cityq code: every named query is callable.
    con = duckdb.connect(str(tmp_path / "s" / "cityq.duckdb"), read_only=True)
    try:
        rows = con.sql("SELECT model, city, rank, object FROM top_objects(k := 3) ORDER BY ALL").fetchall()
        stored = {name for (name,) in con.sql("SELECT name FROM cityq_macros").fetchall()}
    finally:
        con.close()
    assert rows == sorted(expected[["model", "city", "rank", "object"]].itertuples(index=False, name=None))
    assert stored == {q.macro for q in all_macros()}


def test_other_macro_definitions_are_replaced_or_shadowed(tmp_path, monkeypatch):
    import duckdb

    from cityq.queries import registry
    from cityq.queries.registry import NamedQuery

    with Store.create(tmp_path / "s"):
        pass
    shipped = registry.all_macros()
    newer = [q for q in shipped if q.macro != "accuracy"] + [
        NamedQuery("answer", "A query a newer cityq ships.", (), "SELECT 42 AS answer", "answer.sql")
    ]
    monkeypatch.setattr(registry, "all_macros", lambda: tuple(newer))
    # Read-only: the file is left alone, this connection sees the newer definitions.
    with Store(tmp_path / "s", read_only=True) as store:
        assert store.sql("SELECT * FROM answer()")["answer"].tolist() == [42]
    con = duckdb.connect(str(tmp_path / "s" / "cityq.duckdb"), read_only=True)
    assert con.sql("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'answer'").fetchall() == [(0,)]
    con.close()
    # For writing: replaced in the file; the one no longer shipped is dropped.
    with Store.create(tmp_path / "s"):
        pass
    con = duckdb.connect(str(tmp_path / "s" / "cityq.duckdb"), read_only=True)
    try:
        assert con.sql("SELECT * FROM answer()").fetchall() == [(42,)]
        assert con.sql("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'accuracy'").fetchall() == [(0,)]
    finally:
        con.close()


def test_store_methods_are_ordinary_methods():
    # The notebook helpers are defined on the class itself, not attached by another module.
    for name in ("masks", "cams", "segmentation", "model", "target_layer", "inputs", "object_index"):
        assert name in Store.__dict__, name
    with Store(":memory:") as store:
        assert repr(store).startswith("<cityq.Store ")


def test_a_migration_numbered_below_the_stores_highest_is_still_applied(tmp_path, monkeypatch):
    """Migration numbers are reserved per issue and land in any order: a store made before
    0003 shipped, but after 0005, gets 0003 when it next opens."""
    original = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: [m for m in original if m[0] != 3])
    with Store.create(tmp_path / "s") as store:
        assert "ar_common" not in store.fetch_df("DESCRIBE residuals")["column_name"].tolist()
    monkeypatch.setattr(migrations, "available", lambda: original)
    with pytest.raises(CityqError, match="older schema"):
        Store(tmp_path / "s", read_only=True)
    with Store(tmp_path / "s") as store:
        assert "ar_common" in store.fetch_df("DESCRIBE residuals")["column_name"].tolist()
        assert 3 in set(store.fetch_df("SELECT version FROM schema_version")["version"])
    with Store(tmp_path / "s", read_only=True) as store:
        assert store.query("ar arch vs seed").empty
