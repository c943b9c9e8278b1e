"""cityq/prefetch.py: the next item loads on a worker thread while this one is used."""

from __future__ import annotations

import threading

import pytest

from cityq.prefetch import prefetched


def test_items_come_in_order_and_the_next_one_loads_meanwhile():
    started = {i: threading.Event() for i in range(4)}

    def load(i):
        started[i].set()
        return i * i

    seen = []
    for item, value in prefetched(range(4), load):
        if item < 3:  # while item is in use, item + 1 is already loading
            assert started[item + 1].wait(timeout=10)
        seen.append((item, value))
    assert seen == [(0, 0), (1, 1), (2, 4), (3, 9)]


def test_an_error_surfaces_at_its_item_and_stopping_early_cancels_the_rest():
    calls = []

    def load(i):
        calls.append(i)
        if i == 2:
            raise ValueError("bad block 2")
        return i

    got = []
    with pytest.raises(ValueError, match="bad block 2"):
        for item, _ in prefetched(range(10), load):
            got.append(item)
    assert got == [0, 1] and max(calls) <= 3  # nothing loaded far past the failure
