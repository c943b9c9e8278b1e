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

MODEL = "resnet18-s0"  # one of tiny_ingested's models


HOLD = """
import sys, time
from cityq.store import Store
store = Store(sys.argv[1])
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
