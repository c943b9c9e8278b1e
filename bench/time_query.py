"""Time one named query on an existing store, in this process: one warm-up run (DuckDB caches,
macro binding), then `repeats` timed runs; prints the median wall time and DuckDB's own CPU and
total time of the last run (its JSON profile). For an A/B comparison of two cityq trees, run it
alternately under each tree's PYTHONPATH, each on its own copy of one store (opening a store
installs that tree's macros and migrations):

    PYTHONPATH=NEW python bench/time_query.py STORE_NEW "rpc by city" threshold=0.5
    PYTHONPATH=OLD python bench/time_query.py STORE_OLD "rpc by city" threshold=0.5

Prints one tab-separated line: query, parameters, median wall s, DuckDB cpu s, DuckDB total s, rows.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str]) -> None:
    from cityq.store import Store

    path, name, *pairs = argv
    params = dict(pair.split("=", 1) for pair in pairs if pair)
    repeats = int(params.pop("repeats", 1))
    with Store(path) as store, tempfile.TemporaryDirectory() as tmp:
        store.con.execute("SET enable_progress_bar = false")
        rows = len(store.query(name, **params))
        profile = Path(tmp) / "profile.json"
        store.con.execute("PRAGMA enable_profiling = 'json'")
        store.con.execute(f"PRAGMA profiling_output = '{profile}'")
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            store.query(name, **params)
            times.append(time.perf_counter() - start)
        store.con.execute("PRAGMA disable_profiling")
        query = json.loads(profile.read_text())["query"]
    print(f"{name}\t{params}\t{statistics.median(times):.3f}\t{query['cpu_time']:.2f}\t{query['total_time']:.2f}\t{rows}")


if __name__ == "__main__":
    main(sys.argv[1:])
