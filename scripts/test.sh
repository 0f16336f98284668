#!/usr/bin/env bash
# Set up (first time) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if ! command -v chromium >/dev/null 2>&1; then  # Debian's chromium drives the browser tests (no browser download)
  if [ "$(id -u)" = 0 ]; then
    echo "[test] installing Debian's chromium for the browser tests" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
      || echo "[test] could not install chromium: the browser tests will fail" >&2
  else
    echo "[test] install Debian's chromium (sudo apt-get install chromium) for the browser tests" >&2
  fi
fi
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
