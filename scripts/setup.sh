#!/usr/bin/env bash
# Create .venv (if missing) and install cityq with its test extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch/torchvision ranges in pyproject resolve to the releases on this machine's disk.
.venv/bin/python -m pip install -q -e ".[test,tsne]"
