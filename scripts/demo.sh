#!/usr/bin/env bash
# Set up (if needed) and run the whole study on the synthetic cities.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/cityq demo "$@"
