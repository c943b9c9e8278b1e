#!/usr/bin/env bash
# Create .venv (if missing) and install cityq with its test extras. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch/torchvision ranges in pyproject resolve to the releases on this machine's disk.
# ray: the distributed-ingest tests run in CI too (the default install has no Ray).
.venv/bin/python -m pip install -q -e ".[test,tsne,serve,ray]"
# The segmenter tests compare against CSAILVision's own classes; its 2020 pins would drag in
# old packages, so it comes without dependencies (it needs yacs, installed above).
.venv/bin/python -m pip install -q --no-deps "mit-semseg==1.0.0"
