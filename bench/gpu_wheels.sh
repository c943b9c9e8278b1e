#!/usr/bin/env bash
# Run where PyPI is reachable (this machine): downloads, into .whl/ (ignored by git), the wheels
# that bench/gpu.sh installs on a GPU machine that has no network. That machine's image has
# Python 3.12 with torch, torchvision, numpy, pandas, pyarrow, typer, rich, tqdm, scikit-learn,
# pillow, opencv and transformers; cityq's other needs come from here.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> "$(git rev-parse --git-path info/exclude)"
PY=${PYTHON:-.venv/bin/python}
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl \
  duckdb==2.0.1 zarr==3.1.6 numcodecs==0.16.6 donfig==0.8.1.post1 google-crc32c
# Pure-Python packages that PyPI ships as source only: built into wheels here.
"$PY" -m pip wheel -q --no-deps -w .whl grad-cam==1.5.7 ttach yacs mit-semseg==1.0.0
ls -la .whl
du -sh .whl
