#!/usr/bin/env bash
# Set up (if needed) and run the fast test suite. Slow/GPU tests: bench/run.py runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Lint first: a style or import error fails fast, before minutes of tests.
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -q "$@"
