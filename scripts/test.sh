#!/usr/bin/env bash
# The project's test command (README and CI call this).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .venv/bin/activate ] && . .venv/bin/activate
ruff check src tests benchmarks
python -m pytest "$@"
