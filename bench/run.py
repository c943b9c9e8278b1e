"""Run every benchmark of the project (bench/bench_*.py), then the slow and GPU tests.

    .venv/bin/python bench/run.py            # full sizes
    .venv/bin/python bench/run.py --quick    # small sizes, a smoke run
    .venv/bin/python bench/run.py --only gradcam,queries --no-tests

Each bench module exposes run(quick) -> list of {name, value, unit, baseline?, note?}. The
figures are printed as a Markdown table (paste into docs/benchmarks.md with the date and the
machine) and saved to bench/out/results-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def machine() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {gpu}, torch {torch.__version__}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes")
    parser.add_argument("--only", default="", help="comma list of bench names (bench_<name>.py)")
    parser.add_argument("--no-tests", action="store_true", help="skip the slow/GPU tests")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    names = sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    if args.only:
        wanted = set(args.only.split(","))
        names = [n for n in names if n in wanted]
    results, failed = [], []
    for name in names:
        print(f"== bench_{name}", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            rows = importlib.import_module(f"bench.bench_{name}").run(quick=args.quick)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        for row in rows:
            results.append({"bench": name, **row})
        print(f"   {time.perf_counter() - started:.1f} s", file=sys.stderr)
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"\n### Benchmarks, {stamp}, {machine()}\n")
    print(f"Command: `.venv/bin/python bench/run.py{' --quick' if args.quick else ''}`\n")
    print("| bench | measure | value | unit | baseline | note |")
    print("|---|---|---|---|---|---|")
    for r in results:
        value = r["value"]
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(
            f"| {r['bench']} | {r['name']} | {shown} | {r.get('unit', '')} | {r.get('baseline', '')} "
            f"| {r.get('note', '')} |"
        )
    out = HERE / "out"
    out.mkdir(exist_ok=True)
    (out / f"results-{dt.datetime.now():%Y%m%d-%H%M%S}.json").write_text(
        json.dumps(
            {"date": stamp, "machine": machine(), "quick": args.quick, "results": results}, indent=1, default=str
        )
    )
    code = 1 if failed else 0
    if failed:
        print(f"\nfailed benchmarks: {', '.join(failed)}", file=sys.stderr)
    if not args.no_tests:
        print("\n== slow and GPU tests", file=sys.stderr, flush=True)
        status = subprocess.call([sys.executable, "-m", "pytest", "-q", "-m", "slow or gpu", str(ROOT / "tests")])
        code |= 0 if status in (0, 5) else 1  # 5: no slow tests collected
    return code


if __name__ == "__main__":
    sys.exit(main())
