"""Two processes on one store: a second writer, or a reader, while one writes. DuckDB lets one
process open the file for writing; cityq waits up to $CITYQ_WAIT seconds, then stops with
`error: store busy: ... is in use by process PID (command)`. Never a traceback, never damage."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
from contracts import one_line_error

from cityq.errors import CityqError

MODEL = "resnet18-s0"  # one of tiny_ingested's models


HOLD = """
import sys, time
from cityq.store import Store
store = Store.create(sys.argv[1])
with store.transaction():
    store.con.execute("INSERT INTO runs (stage, subject, started_at, status) VALUES ('hold', 'x', now(), 'running')")
    print('holding', flush=True)
    time.sleep(float(sys.argv[2]))
store.close()
"""


@pytest.fixture
def writer(tiny_ingested, copy_store):
    """Another process holding the store for writing, mid-transaction."""
    store = copy_store(tiny_ingested)
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(store), "6"], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding"
    yield store, process
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()


@pytest.mark.parametrize("args", [
    ["ingest", "--model", MODEL, "--split", "val", "--device", "cpu"],  # a second writer
    ["sql", "SELECT count(*) FROM images"],  # a reader
    ["query", "rpc by city"],
    ["check"],
])
def test_a_second_cityq_fails_clearly_naming_the_process(cli, writer, monkeypatch, args):
    from cityq.store import connection

    store, process = writer
    monkeypatch.setattr(connection, "DEFAULT_WAIT_SECONDS", 0.3)
    line = one_line_error(cli([*args, "--store", store]), "store busy", f"process {process.pid}", "CITYQ_WAIT")
    assert "python" in line  # the holder's command line, so the user knows what to wait for


def test_a_waiting_cityq_gets_the_store_when_the_writer_finishes(cli, writer, monkeypatch):
    from cityq.store import connection

    store, process = writer
    monkeypatch.setattr(connection, "DEFAULT_WAIT_SECONDS", 60)
    started = time.monotonic()
    result = cli(["sql", "SELECT status FROM runs WHERE stage = 'hold'", "-f", "csv", "--store", store])
    assert result.exit_code == 0, result.output
    assert process.wait() == 0 and time.monotonic() - started > 1  # it waited for the writer
    assert result.stdout.strip().splitlines() == ["status", "running"]  # the writer's committed state


def test_a_writer_killed_mid_transaction_leaves_the_last_committed_state(cli, writer):
    from cityq.store import Store
    from cityq.store.check import check_store

    store, process = writer
    process.send_signal(signal.SIGKILL)
    process.wait()
    with Store(store, read_only=True) as opened:
        assert opened.sql("SELECT count(*) AS n FROM runs WHERE stage = 'hold'")["n"][0] == 0  # rolled back
        assert not [f.line() for f in check_store(opened) if f.severity != "note"]


def test_readers_get_in_between_a_writers_commits(tiny_ingested, copy_store):
    """A long ingest holds the file only while it reads a block's inputs and commits it: a reader
    polling meanwhile gets answers, each a committed state, and sees the work grow; a second
    writer still waits for the first (cityq's writer lock) and says who holds the store."""
    from cityq.store import Store, connection

    store = copy_store(tiny_ingested)
    args = ["ingest", "--model", MODEL, "--split", "train", "--block-size", "2", "--batch-size", "1",
            "--device", "cpu", "--store", str(store)]
    writer = subprocess.Popen([sys.executable, "-c", "from cityq.cli import main; main()", *args],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    try:
        while writer.poll() is None:
            with Store(store, read_only=True, wait_seconds=30) as reader:
                row = reader.sql(
                    "SELECT (SELECT count(*) FROM mask_blocks b JOIN ingests i USING (ingest_id) "
                    "WHERE i.split = 'train') AS blocks, (SELECT count(*) FROM mask_images m JOIN ingests i "
                    "USING (ingest_id) WHERE i.split = 'train') AS images").iloc[0]
                seen.append((int(row["blocks"]), int(row["images"])))
            time.sleep(0.02)
        assert writer.wait() == 0, writer.stderr.read()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    with Store(store, read_only=True) as done:
        total = done.sql("SELECT count(*) AS n FROM mask_blocks b JOIN ingests i USING (ingest_id) "
                         "WHERE i.split = 'train'")["n"][0]
    partial = [blocks for blocks, _ in seen if 0 < blocks < total]
    assert partial, f"no reader got in while the ingest ran ({len(seen)} reads, {total} blocks)"
    assert [b for b, _ in seen] == sorted(b for b, _ in seen)  # committed states only, never going back
    assert all(images <= 2 * blocks for blocks, images in seen)  # rows never ahead of their block markers
    # While a writer works, a second writer waits for it, then says who holds the store.
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(store), "3"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(CityqError, match=rf"store busy: .* in use by process {holder.pid}"):
            connection.WriterLock(store, wait_seconds=0.3)
    finally:
        holder.kill()
        holder.wait()
