"""Give freed batch buffers back to the system, so a long run's memory follows its batch.

glibc's malloc serves an allocation above its mmap threshold by mmap and returns it on free,
but the threshold is dynamic: each freed mmapped block raises it (up to 32 MB), after which
the batch-sized tensors of training and ingest (a 224 px batch of 32 is 4.8 MB as uint8 and
19 MB as float32) come from the heap, where fragmentation keeps them resident. Peak RSS then
grows with the number of batches, that is with the dataset (bench/bench_memory.py measured
it). A fixed threshold keeps every block above 128 KiB on mmap: freed at once, whatever the
run's length. Small objects are unaffected. No-op where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_MMAP_THRESHOLD = -3  # from glibc's malloc.h
THRESHOLD = 128 * 1024  # glibc's own initial value, now fixed


@functools.cache
def bound_heap() -> bool:
    """Fix malloc's mmap threshold (once per process); True where that took effect."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, THRESHOLD))
    except (OSError, AttributeError):  # not glibc (musl, macOS): their allocators differ
        return False
