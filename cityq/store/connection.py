"""Opening the store's DuckDB file: one writer at a time, a clear message when it is busy."""

from __future__ import annotations

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
    pid = match.group(1)
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
                raise CityqError(
                    f"store busy: {db_file.parent} is in use by {_holder(text)}; "
                    f"wait for it to finish (or set CITYQ_WAIT=seconds to wait longer)"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)
        except duckdb.Error as exc:
            raise CityqError(
                f"{db_file} is not a readable cityq database ({str(exc).splitlines()[0]}); "
                "point --store at a cityq store directory"
            ) from exc
