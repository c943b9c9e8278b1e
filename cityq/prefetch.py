"""Work ahead on a background thread: read the next block while this one is computed.

    for block, pixels in prefetched(blocks, read_block): ...

`read_block` runs on one worker thread, `ahead` items before the loop needs them; its
exceptions surface in the loop, at the item they belong to. The worker should read files, not
rows: a DuckDB connection is not shared between threads, and the store lets go of its
connection between commits (`store.release()`).
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def prefetched(items: Iterable[T], load: Callable[[T], R], ahead: int = 1) -> Iterator[tuple[T, R]]:
    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cityq-prefetch") as pool:
        try:
            for item in items:
                pending.append((item, pool.submit(load, item)))
                if len(pending) > ahead:
                    first, future = pending.popleft()
                    yield first, future.result()
            while pending:
                first, future = pending.popleft()
                yield first, future.result()
        finally:  # the loop stopped early: do not start what it will not use
            for _, future in pending:
                future.cancel()
