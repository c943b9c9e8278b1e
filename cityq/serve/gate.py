"""Lending the store to requests without keeping a writer out.

DuckDB lets a process open a file for writing only while no other process has it open. A
cityq writer takes the store's writer lock first (`<store>/.writer.lock`), then connects to
the DuckDB file, retrying while it is taken (`cityq.store.connection.connect`: after 50 ms,
then at doubling gaps up to 1 s), and a long writer lets go of the file between its commits
and connects again for each (`Store.release`). So the server must hold the file only in short
stretches, and step aside whenever a writer runs:

- one request at a time gets the store (DuckDB runs each query on all cores anyway);
  requests that arrive meanwhile queue and reuse the same read-only connection, which saves
  the 0.05-0.1 s an open costs;
- the connection is closed as soon as no request is waiting;
- while no writer runs, it is closed in any case after `hold` seconds of continuous use, and
  the file stays free for `rest` seconds before anyone opens it again: a courtesy to writers
  that do not announce themselves;
- while a cityq writer runs (its writer lock is held; probing it costs a few microseconds),
  the connection is closed after every request and the file then stays free for
  `writer_rest` seconds, longer than a writer's longest retry gap, so a writer that wants the
  file gets it before the next request does: it waits at most for the query in flight;
- while a writer has the file, opening it fails: requests retry for `busy_wait` seconds, then
  get `StoreBusy` (the page says who holds the store).

Most requests never come here: the site keeps answers until the database file changes
(`Site.read`), and tiles until their inputs are evicted.

A request holds the store at most `query_timeout` seconds; then DuckDB interrupts its query.
Each connection gets the SQL box's lock-down (no file access, no extensions): nothing a
request runs can read a file or change a setting.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cityq.errors import CityqError


class StoreBusy(CityqError):
    """A writer holds the store for longer than a request waits."""


class TooLong(CityqError):
    """A request's queries ran past the gate's timeout and were interrupted."""


@dataclass(frozen=True)
class GateTimes:
    hold: float = 1.0  # longest a connection stays open while requests keep coming (s)
    rest: float = 0.2  # then the file stays free this long (s)
    writer_rest: float = 1.1  # while a writer runs: free this long after every request (s), > its 1 s retry gap
    busy_wait: float = 5.0  # how long a request waits for a writer to finish (s)
    query_timeout: float = 30.0  # a request's queries are interrupted after this long (s)


class StoreGate:
    """Lends the read-only store to one request at a time (see the module's docstring)."""

    def __init__(self, path: Path, times: GateTimes = GateTimes()):
        self.path = Path(path)
        self.times = times
        self._lock = threading.Lock()  # who has the store
        self._count = threading.Lock()  # guards _waiting
        self._waiting = 0
        self._store = None
        self._held_since = 0.0  # start of the current stretch without a full rest
        self._closed_at = -1e9
        self.opens = 0  # connections opened (the tests read it)

    @contextlib.contextmanager
    def store(self) -> Iterator[object]:
        """The read-only store, to this request alone until the block ends."""
        with self._count:
            self._waiting += 1
        with self._lock:
            with self._count:
                self._waiting -= 1
            if self._store is not None and (self._held_too_long() or self._writer()):
                self._close()
            if self._store is None:
                self._open()
            # "One query" must stay short even when the SQL box asks for a cross join of
            # everything: past the timeout DuckDB is told to stop, and the store is released.
            timer = threading.Timer(self.times.query_timeout, self._store.con.interrupt)
            timer.start()
            try:
                yield self._store
            except Exception as exc:
                if not timer.is_alive():
                    raise TooLong(f"stopped after {self.times.query_timeout:g} s: the server holds the store at "
                                  "most that long for one page, so that writers are not kept waiting; narrow the "
                                  "query, or run it with `cityq sql` in a shell") from exc
                raise
            finally:
                timer.cancel()
                with self._count:
                    idle = self._waiting == 0
                if idle or self._held_too_long() or self._writer():
                    self._close()

    def close(self) -> None:
        with self._lock:
            self._close()

    def _held_too_long(self) -> bool:
        return time.monotonic() - self._held_since > self.times.hold

    def _writer(self) -> bool:
        from cityq.store.connection import writer_running

        return writer_running(self.path)

    def _open(self) -> None:
        from cityq.queries.sandbox import lock_down
        from cityq.store import Store

        now = time.monotonic()
        if self._writer():
            # A writer runs: keep the file free long enough for its next retry to land.
            time.sleep(max(0.0, self.times.writer_rest - (now - self._closed_at)))
            self._held_since = time.monotonic()
        elif now - self._closed_at >= self.times.rest:
            self._held_since = now  # the file had a full rest: a fresh stretch
        elif now - self._held_since > self.times.hold:
            # Busy for a whole `hold` with only short gaps: give a writer its window first.
            time.sleep(self.times.rest - (now - self._closed_at))
            self._held_since = time.monotonic()
        try:
            store = Store(self.path, read_only=True, wait_seconds=self.times.busy_wait)
        except CityqError as exc:
            if str(exc).startswith("store busy"):
                raise StoreBusy(str(exc)) from None
            raise
        try:
            lock_down(store.con)
        except Exception:
            store.close()
            raise
        self._store = store
        self.opens += 1

    def _close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
            self._closed_at = time.monotonic()
