"""Issue 20.3: the commands that read the store start at once. They import neither torch nor
pandas (DuckDB fetches rows and writes CSV, JSON and Parquet itself). The wall time against
`python -c "import duckdb, typer"` is measured in bench/bench_startup.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "torchvision", "pandas", "altair", "sklearn", "PIL")

# Run in ONE fresh interpreter, command after command: a heavy module, once imported, stays in
# sys.modules, so the first command that pulls one in is the one named.
_PROBE = """
import json, sys
from cityq.cli import app
heavy = tuple(sys.argv[2].split(","))
found = {}
for args in json.loads(sys.argv[1]):
    try:
        app(args, standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            found[" ".join(args)] = f"exit {exc.code}"
    loaded = sorted({m.split(".")[0] for m in sys.modules} & set(heavy))
    if loaded:
        found[" ".join(args)] = loaded
        break
print("PROBE" + json.dumps(found))
"""

READERS = [
    ["--help"], ["query", "--help"],
    ["query", "--list"], ["query", "--names"], ["query", "--show", "top objects"],
    ["query", "top objects", "-p", "k=2", "-f", "csv"], ["query", "accuracy", "-f", "json"],
    ["query", "rpc by city", "-o", "{tmp}/rpc.parquet"], ["query", "objects", "-f", "table"],
    ["sql", "select 1 AS one"], ["sql", "select * from models", "-f", "ndjson"],
    ["info"], ["info", "-f", "json"], ["models"], ["datasets"], ["segmenters"],
    ["tables", "--counts"], ["schema", "models"], ["chart", "--list"],
    ["check"],  # last: it reads the Zarr arrays and recounts a sample (numpy, no torch)
]


def test_reading_commands_import_neither_torch_nor_pandas(tiny_ingested, tmp_path):
    store = str(tiny_ingested)
    commands = [[a.replace("{tmp}", str(tmp_path)) for a in args] + ([] if args[-1] == "--help" else
                                                                       ["--store", store]) for args in READERS]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CITYQ_PROGRESS": "0"}
    result = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(commands), ",".join(HEAVY)], env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.rsplit("PROBE", 1)[1])
    assert found == {}, f"heavy imports or failures: {found}"
    assert (tmp_path / "rpc.parquet").stat().st_size > 0
