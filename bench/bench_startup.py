"""Start-up of the commands that read the store (issue 20.3): whole-process wall time of each,
against `python -c "import duckdb, typer"` in the same run.

A and B run in turn (A B A B ...), and the ratio is taken pair by pair, so a machine whose
speed drifts (this one is shared) moves both alike; the medians are quoted. The store is a small
real one (synthetic cities, one model ingested: masks in Zarr, so `check` reads and recounts).
Goal: every command under 2x the bare import.

A second yardstick, C, is a Typer app with the options of `cityq sql` that does nothing: Typer
(0.29) coerces every non-flag option through a Pydantic TypeAdapter, so parsing a command line
imports Pydantic and builds adapters, a cost no Typer command avoids and the bare import does
not pay. The ratio A/C is what cityq adds on top of its CLI framework.

    .venv/bin/python bench/bench_startup.py [--quick]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = [sys.executable, "-c", "import duckdb, typer"]
_TYPER_APP = """
import sys
from enum import Enum
from pathlib import Path
from typing import Optional
import duckdb, typer
class Format(str, Enum):
    csv = "csv"
app = typer.Typer()
@app.command()
def sql(text: str, param: Optional[list[str]] = typer.Option(None, "-p"), write: bool = False,
        store: Path = typer.Option(Path("s"), "--store"), fmt: Optional[Format] = typer.Option(None, "-f"),
        output: Optional[Path] = typer.Option(None, "-o"), no_headers: bool = False):
    pass
@app.command()
def other():
    pass
app(["sql", "select 1", "--store", "s"])
"""
TYPER_APP = [sys.executable, "-c", _TYPER_APP]
COMMANDS = [
    ["--help"],
    ["query", "top objects", "-f", "csv"],
    ["sql", "select 1"],
    ["info"],
    ["models"],
    ["datasets"],
    ["tables"],
    ["check"],
]


def _build_store(folder: Path) -> Path:
    import torch

    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store import Store
    from cityq.synth.writer import generate_dataset

    images = folder / "images"
    generate_dataset(images, per_city=15, size=32, seed=0, workers=1, progress=False)
    torch.manual_seed(0)
    save_checkpoint(folder / "m.pt", create_model("simple", 2), "simple", 2, {"img_size": 32})
    store = folder / "store"
    with Store.create(store) as opened:
        add_dataset(opened, images, "synth", progress=False)
        import_model(opened, ImportOptions("simple", folder / "m.pt", "simple-s0", "synth", img_size=32, device="cpu"))
        ingest_model(opened, "simple-s0", IngestOptions(device="cpu", progress=False))
    return store


def _wall(command: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def measure(store: Path, runs: int) -> list[dict]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CITYQ_PROGRESS": "0", "CITYQ_STORE": str(store)}
    cityq = [sys.executable, "-c", "from cityq.cli import main; main()"]
    rows = []
    for args in COMMANDS:
        _wall(cityq + args, env), _wall(BASELINE, env), _wall(TYPER_APP, env)  # warm-up: page cache, .pyc
        a, b, c = [], [], []
        for _ in range(runs):
            a.append(_wall(cityq + args, env))
            b.append(_wall(BASELINE, env))
            c.append(_wall(TYPER_APP, env))
        ratio = statistics.median(x / y for x, y in zip(a, b))
        framework = statistics.median(x / z for x, z in zip(a, c))
        shown = " ".join(args)
        rows.append({"name": f"cityq {shown}: median wall", "value": statistics.median(a), "unit": "s",
                     "baseline": f"import duckdb, typer: {statistics.median(b):.3f} s; "
                                 f"empty Typer app: {statistics.median(c):.3f} s",
                     "note": f"{ratio:.2f}x the import, {framework:.2f}x the empty app "
                             f"(medians of {runs} paired runs; goal < 2x the import)"})
    return rows


def run(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="cityq-bench-startup-") as tmp:
        store = _build_store(Path(tmp))
        return measure(store, runs=3 if quick else 9)


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(f"{row['name']:<45} {row['value']:.3f} s   {row['baseline']}   {row['note']}")
