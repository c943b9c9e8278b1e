"""Opening the store's DuckDB file: one writer at a time, a clear message when it is busy.

Two locks. DuckDB's own: one process holds the file, for reading and writing, or several for
reading only. cityq's writer lock (`<store>/.writer.lock`, an advisory `flock`): one writing
cityq process per store for as long as it runs. A long writer holds the writer lock
throughout but DuckDB's lock only while it commits (`Store.released`), so readers get in
between its commits while a second writer still waits for the first to finish.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path

import duckdb

from cityq.errors import CityqError

# How long to wait for another cityq process to release the store before giving up.
DEFAULT_WAIT_SECONDS = float(os.environ.get("CITYQ_WAIT", "10"))

_LOCK_PID = re.compile(r"PID (\d+)")


def _holder(message: str) -> str:
    match = _LOCK_PID.search(message)
    if not match:
        return "another process"
    return _describe(match.group(1))


def _describe(pid: str) -> str:
    try:
        # Arguments may hold newlines (`python -c "..."`); the message must stay one line.
        cmd = " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").split())
    except OSError:
        cmd = ""
    return f"process {pid}" + (f" ({cmd[:120]})" if cmd else "")


def connect(db_file: Path, read_only: bool, wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """Connect, retrying while another process holds the lock (DuckDB allows one writer process)."""
    wait = DEFAULT_WAIT_SECONDS if wait_seconds is None else wait_seconds
    deadline = time.monotonic() + wait
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(db_file), read_only=read_only)
        except duckdb.IOException as exc:
            text = str(exc)
            if "lock" not in text.lower():
                raise CityqError(f"cannot open store database {db_file}: {text.splitlines()[0]}") from exc
            if time.monotonic() >= deadline:
                raise _busy(db_file.parent, _holder(text)) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise CityqError(
                f"{db_file} is not a readable cityq database ({str(exc).splitlines()[0]}); "
                "point --store at a cityq store directory"
            ) from exc


def _busy(store_dir: Path, holder: str) -> CityqError:
    return CityqError(
        f"store busy: {store_dir} is in use by {holder}; "
        f"wait for it to finish (or set CITYQ_WAIT=seconds to wait longer)"
    )


class WriterLock:
    """The store's writer lock: held by one writing cityq process at a time, released when the
    process closes the store or dies (the kernel drops a dead process's flock)."""

    def __init__(self, store_dir: Path, wait_seconds: float | None = None):
        wait = DEFAULT_WAIT_SECONDS if wait_seconds is None else wait_seconds
        path = store_dir / ".writer.lock"
        self._file = open(path, "a+")
        deadline = time.monotonic() + wait
        delay = 0.05
        while True:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self._file.seek(0)
                    pid = self._file.read().strip()
                    self._file.close()
                    raise _busy(store_dir, _describe(pid) if pid.isdigit() else "another process") from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        # Who holds it, for the message a waiting writer prints.
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None


def writer_running(store_dir: Path) -> bool:
    """Whether a cityq writer holds the store's writer lock (`WriterLock`) now.
    A shared, non-blocking flock taken and dropped at once: it never waits, never creates the
    lock file, and a writer that tries its exclusive lock in that instant just retries."""
    try:
        with open(Path(store_dir) / ".writer.lock") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(lock, fcntl.LOCK_UN)
            return False
    except FileNotFoundError:  # no writer ever ran here
        return False
