"""Time one named query on an existing store, in this process: the warm median of `repeats` runs
after one warm-up (DuckDB caches, macro binding). For A/B comparisons of two cityq trees on copies
of one store, run it alternately under each tree's PYTHONPATH:

    PYTHONPATH=A python bench/time_query.py STORE "rpc by city" threshold=0.5
    PYTHONPATH=B python bench/time_query.py STORE_COPY "rpc by city" threshold=0.5

Prints one line: query, parameters, median seconds, rows.
"""

from __future__ import annotations

import statistics
import sys
import time


def main(argv: list[str]) -> None:
    from cityq.store import Store

    path, name, *pairs = argv
    params = dict(pair.split("=", 1) for pair in pairs if pair)
    repeats = int(params.pop("repeats", 3))
    with Store(path) as store:
        store.con.execute("SET enable_progress_bar = false")
        rows = len(store.query(name, **params))
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            store.query(name, **params)
            times.append(time.perf_counter() - start)
    print(f"{name}\t{params}\t{statistics.median(times):.3f}\t{rows}")


if __name__ == "__main__":
    main(sys.argv[1:])
