"""cityq/heap.py: the mmap threshold is fixed only where memory is at stake."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cityq import heap

CHECK = """
import ctypes, ctypes.util, sys
from cityq.heap import bound_heap
print(bound_heap(int(sys.argv[1])))
"""


@pytest.mark.parametrize(("env", "decoded", "expected"), [
    ("", heap.BOUND_ABOVE - 1, "False"),  # small set: speed first
    ("", heap.BOUND_ABOVE, "True"),  # large set: memory follows the batch
    ("0", heap.BOUND_ABOVE * 10, "False"),
    ("1", 0, "True"),
])
def test_bound_heap_follows_the_size_and_the_switch(env, decoded, expected):
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt")
    out = subprocess.run([sys.executable, "-c", CHECK, str(decoded)], capture_output=True, text=True, check=True,
                         env={"CITYQ_BOUND_HEAP": env, "PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)})
    assert out.stdout.strip() == expected
