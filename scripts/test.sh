#!/usr/bin/env bash
# Set up (if needed) and run the fast test suite. Slow/GPU tests: bench/run.py runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
