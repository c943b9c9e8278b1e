"""Load check of `cityq serve`: 20 concurrent clients on the query and image pages (and the
tiles those pages load) for 30 s, p50/p95 latency and errors; and a writer that opens the
store for writing during the load and must get in.

The store is built here: synthetic cities, three random-initialised models imported in the
real checkpoint format and ingested (real masks in Zarr, real counts in DuckDB). The server is
the real command (`cityq serve --port 0`) in its own process, on 127.0.0.1 only.

Each client loops over a mix of requests with varied parameters (query parameters, models,
cities, thresholds on the grid, tile layers), so answers are not all cached: every writer's
commit also empties the server's answer cache. Baselines, same run, same mix: one client
alone (latency without contention), and a writer opening the idle store (its wait without the
server's load). The clients share one Python process on the same 2 cores as the server.

Run: .venv/bin/python bench/bench_serve.py [--quick]
"""

from __future__ import annotations

import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 20

_WRITER = """
import sys, time
from cityq.store import Store
started = time.monotonic()
waits = []
with Store(sys.argv[1]) as store:          # for writing: retries while readers hold the file
    waits.append(time.monotonic() - started)
    for block in range(5):                 # as an ingest does: let go of the file, compute, commit
        store.release()
        time.sleep(0.2)
        started = time.monotonic()
        store.con                          # connects again, retrying while readers hold the file
        waits.append(time.monotonic() - started)
        with store.run("bench-serve-writer"):
            pass
print(" ".join(f"{w:.4f}" for w in waits))
"""


def _build(folder: Path, per_city: int, size: int) -> Path:
    import torch

    from cityq.models.checkpoint import save_checkpoint
    from cityq.models.registry import create_model
    from cityq.pipeline.datasets import add_dataset
    from cityq.pipeline.ingest import IngestOptions, ingest_model
    from cityq.pipeline.train import ImportOptions, import_model
    from cityq.store import Store
    from cityq.synth.writer import generate_dataset

    generate_dataset(folder / "images", per_city=per_city, size=size, seed=0, workers=2)
    with Store.create(folder / "store") as store:
        add_dataset(store, folder / "images", "bench", progress=False)
        for arch, seed in (("resnet18", 0), ("resnet18", 1), ("simple", 0)):
            torch.manual_seed(seed)
            checkpoint = folder / f"{arch}-{seed}.pt"
            save_checkpoint(checkpoint, create_model(arch, 2), arch, 2, {"img_size": size})
            import_model(store, ImportOptions(arch, checkpoint, f"{arch}-s{seed}", "bench", img_size=size,
                                              device="cpu"))
            ingest_model(store, f"{arch}-s{seed}", IngestOptions(block_size=32, device="cpu", progress=False))
    return folder / "store"


def _start(store: Path, log: Path) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-c", "from cityq.cli import main; main()", "serve", "--store",
                                    str(store), "--port", "0"], stdout=out, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"at (http://127\.0\.0\.1:\d+)/", log.read_text())
        if found:
            try:
                urllib.request.urlopen(found.group(1) + "/static/cityq.css", timeout=5).read()
                return process, found.group(1)
            except OSError:
                pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"cityq serve did not start: {log.read_text()[-2000:]}")


def _mix(store: Path) -> list[tuple[str, str]]:
    """(kind, path) requests: query pages, image pages and the tiles such pages load."""
    from cityq.store import Store, browse

    with Store(store, read_only=True) as opened:
        refs = [browse.model_ingest(opened, m) for m in browse.ingested_models(opened)]
        cities = browse.cities(opened, refs[0].dataset)
        image_ids = [int(r[0]) for r in opened.con.execute(
            "SELECT image_id FROM mask_images WHERE ingest_id = $i", {"i": refs[0].ingest_id}).fetchall()]
    grid = [f"{t:g}" for t in refs[0].thresholds]
    rng = random.Random(0)
    mix = []
    for _ in range(400):
        t = rng.choice(grid)
        top = {"k": rng.randint(1, 5), "threshold": t}
        mix.append(("query", "/queries/top_objects?" + urllib.parse.urlencode(top)))
        mix.append(("query", "/queries/rpc_by_city?" + urllib.parse.urlencode({"threshold": t})))
        params = {"model": rng.choice(refs).model, "city": rng.choice(cities), "threshold": t}
        mix.append(("images", "/images?" + urllib.parse.urlencode(params)))
        ref = rng.choice(refs)
        for _ in range(4):
            layer = rng.choice(("overlay", "explanation", "heat"))
            mix.append(("tile", f"/tiles/{ref.ingest_id}/{rng.choice(image_ids)}.png?t={t}&layer={layer}"))
    return mix


def _load(url: str, mix, clients: int, seconds: float, writer_at: list[float], store: Path):
    """Run the clients (and the writers at the given offsets); returns (latencies by kind,
    errors, writer waits)."""
    latencies: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    start = time.monotonic()
    stop = start + seconds

    def client(k: int) -> None:
        n = k * 37
        while time.monotonic() < stop:
            kind, path = mix[n % len(mix)]
            n += 1
            began = time.monotonic()
            try:
                with urllib.request.urlopen(url + path, timeout=60) as response:
                    response.read()
                    status = response.status
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError as exc:
                status = f"{type(exc).__name__}: {exc}"
            took = time.monotonic() - began
            with lock:
                latencies.setdefault(kind, []).append(took)
                if status != 200:
                    errors.append(f"{status} {path}")

    waits: list[float] = []

    def writers() -> None:
        for offset in writer_at:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            waits.extend(_write_once(store))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    threads.append(threading.Thread(target=writers))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors, waits


def _write_once(store: Path) -> list[float]:
    """Seconds a writer waited for the file: to open the store, then to reconnect for each of
    5 commits; raises if it could not (CITYQ_WAIT = 10 s)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CITYQ_WAIT": "10"}
    done = subprocess.run([sys.executable, "-c", _WRITER, str(store)], capture_output=True, text=True, env=env,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the writer did not get in: {done.stderr.strip().splitlines()[-1:]}")
    return [float(w) for w in done.stdout.split()]


def _p(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def run(quick: bool) -> list[dict]:
    per_city, size, seconds = (30, 64, 10.0) if quick else (100, 96, 30.0)
    results: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="cityq-bench-serve-") as tmp:
        folder = Path(tmp)
        store = _build(folder, per_city, size)
        mix = _mix(store)
        process, url = _start(store, folder / "server.log")
        try:
            idle_wait = statistics.median(w for _ in range(2) for w in _write_once(store))
            # Baseline: one client, the same mix, a third of the time.
            alone, alone_errors, _ = _load(url, mix, 1, seconds / 3, [], store)
            writer_at = [seconds * k / 4 for k in (1, 2, 3)]
            loaded, errors, waits = _load(url, mix, CLIENTS, seconds, writer_at, store)
        finally:
            process.terminate()
            process.wait(timeout=30)
        scale = (f"{2 * per_city} images at {size} px ({len(mix)} distinct requests: query pages, image pages, "
                 f"tiles), 3 ingested models; load average {os.getloadavg()[0]:.1f}")
        total = sum(len(v) for v in loaded.values())
        results.append({"name": f"{CLIENTS} clients x {seconds:g} s: requests", "value": total, "unit": "requests",
                        "baseline": sum(len(v) for v in alone.values()),
                        "note": f"{scale}; baseline: 1 client for {seconds / 3:g} s"})
        results.append({"name": f"{CLIENTS} clients: errors", "value": len(errors), "unit": "responses not 200",
                        "baseline": len(alone_errors), "note": "; ".join(errors[:3])})
        for kind in ("query", "images", "tile"):
            values = loaded.get(kind, [])
            base = alone.get(kind, [])
            results.append({"name": f"{CLIENTS} clients: {kind} p95", "value": round(_p(values, 95), 3), "unit": "s",
                            "baseline": round(_p(base, 95), 3),
                            "note": f"p50 {_p(values, 50):.3f} s over {len(values)} requests; "
                                    f"baseline (1 client) p50 {_p(base, 50):.3f} s"})
        at = ", ".join(f"{t:g}" for t in writer_at)
        results.append({"name": "writer under load: wait for the file (open + 5 reconnects each)",
                        "value": round(max(waits), 3), "unit": "s (max)", "baseline": round(idle_wait, 3),
                        "note": f"{len(writer_at)} writers at {at} s, all {len(waits)} waits ended in the file; "
                                f"median {statistics.median(waits):.3f} s; baseline: idle server, median of 12"})
    return results


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
