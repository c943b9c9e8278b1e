"""Give freed batch buffers back to the system, so a long run's memory follows its batch.

glibc's malloc serves an allocation above its mmap threshold by mmap and returns it on free,
but the threshold is dynamic: each freed mmapped block raises it (up to 32 MB), after which
the batch-sized tensors of training and ingest come from the heap, where fragmentation keeps
them resident. Peak RSS then grows with the number of batches, that is with the dataset
(bench/bench_memory.py measured it). A fixed threshold keeps every block above 128 KiB on
mmap: freed at once, whatever the run's length.

It has a price: every activation is then mapped and unmapped on each pass, and the page
faults made training ResNet18 at 112 px on this project's CPU 1.8x slower. So it is taken only
where memory is at stake: when the images a command reads, decoded, pass BOUND_ABOVE bytes
(below that the growth it prevents is smaller than the data itself). `CITYQ_BOUND_HEAP=1`
forces it, `=0` turns it off. No-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
THRESHOLD = 128 * 1024  # glibc's own initial value, now fixed
BOUND_ABOVE = 2 * 10**9  # decoded bytes a command reads before memory outweighs speed


def bound_heap(decoded_bytes: int) -> bool:
    """Fix malloc's mmap threshold when the command's decoded images pass BOUND_ABOVE (or
    CITYQ_BOUND_HEAP says so); True where that took effect."""
    forced = os.environ.get("CITYQ_BOUND_HEAP", "").strip()
    if forced == "0" or (forced != "1" and decoded_bytes < BOUND_ABOVE):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, macOS): their allocators differ
        return False
