#!/usr/bin/env bash
# Set up (first time) and open the studio on the embedded models at http://127.0.0.1:7860.
# Extra arguments go to `flipbook studio` (e.g. --port 7861, --host 0.0.0.0 to serve your network).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1
exec .venv/bin/flipbook studio "$@"
