"""The store: creation, migrations, busy and newer stores, bulk inserts, runs."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from cityq.errors import CityqError
from cityq.store import Store, migrations


def test_new_store_has_schema_and_objects(tmp_path):
    with Store(tmp_path / "s") as store:
        assert store.fetch_df("SELECT max(version) AS v FROM schema_version")["v"][0] == migrations.latest_version()
        names = store.fetch_df("SELECT name FROM objects WHERE object_id IN (13, 32, 43, 48) ORDER BY object_id")
        assert names["name"].tolist() == ["earth", "fence", "signboard", "skyscraper"]
    # Reopening does not seed twice.
    with Store(tmp_path / "s") as store:
        assert store.fetch_df("SELECT count(*) AS n FROM objects")["n"][0] == 150


def test_older_store_is_migrated(tmp_path, monkeypatch):
    with Store(tmp_path / "s"):
        pass
    extra = (migrations.latest_version() + 1, "CREATE TABLE notes (note VARCHAR);")
    original = migrations.available()
    monkeypatch.setattr(migrations, "available", lambda: [*original, extra])
    with Store(tmp_path / "s") as store:
        assert store.fetch_df("SELECT max(version) AS v FROM schema_version")["v"][0] == extra[0]
        assert store.fetch_df("SELECT count(*) AS n FROM notes")["n"][0] == 0


def test_newer_store_is_refused(tmp_path):
    with Store(tmp_path / "s") as store:
        store.con.execute("INSERT INTO schema_version VALUES (999, current_timestamp, '99.0')")
    with pytest.raises(CityqError, match="newer than this cityq"):
        Store(tmp_path / "s")


def test_missing_store_is_a_clear_error(tmp_path):
    with pytest.raises(CityqError, match="no cityq store"):
        Store(tmp_path / "nowhere", read_only=True)


def test_busy_store_names_the_holder(tmp_path):
    with Store(tmp_path / "s"):
        pass
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from cityq.store import Store; s = Store(sys.argv[1]); print('ok', flush=True); time.sleep(30)",
         str(tmp_path / "s")],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ok"
        with pytest.raises(CityqError, match=r"store busy: .* in use by process \d+"):
            Store(tmp_path / "s", wait_seconds=0.3)
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
