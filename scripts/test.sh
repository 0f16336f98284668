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
# Two test processes of one thread each (pytest-xdist, a test file to a process, the longest files first: tests/
# conftest.py): most tests are small and gain little from a second thread, so two at a time use both cores.
# FLIPBOOK_TEST_WORKERS=1 runs them in one process, as plain pytest does.
# The timing tests marked `alone` run afterwards with the CPU to themselves; pytest's "no tests ran" (exit 5) is
# not a failure in either run, since the arguments may select tests of one kind only.
workers=${FLIPBOOK_TEST_WORKERS:-2}
if [ "$workers" -le 1 ]; then exec .venv/bin/python -m pytest "$@"; fi
ran() { [ "$1" = 0 ] || [ "$1" = 5 ]; }
rc=0; OMP_NUM_THREADS=1 .venv/bin/python -m pytest -n "$workers" --dist loadfile --no-loadscope-reorder -m "not alone" "$@" || rc=$?
ran "$rc" || exit "$rc"
rc=0; .venv/bin/python -m pytest -m alone "$@" || rc=$?
ran "$rc" || exit "$rc"
