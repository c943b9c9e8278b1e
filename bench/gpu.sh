#!/usr/bin/env bash
# The GPU benchmark, one command for a GPU machine: Grad-CAM (ResNet18, VGG11; 224 px, batch
# 256, fp32 and bf16) against grad-cam, the whole ingest, mit-semseg and SegFormer-B0, and the
# paper-scale demo's training throughput; one Markdown table out (bench/gpu.py says more).
#
#   bench/gpu_wheels.sh          # first, where PyPI is reachable: the wheels the GPU lacks
#   bench/gpu.sh                 # then, on the GPU machine, from the repository root
#   PYTHON=.venv/bin/python bench/gpu.sh --tiny --device cpu   # the same code, tiny, on a CPU
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if compgen -G ".whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/cityq-site .whl/*.whl
  export PYTHONPATH="/tmp/cityq-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PY" bench/gpu.py "$@"
