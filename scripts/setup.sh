#!/usr/bin/env bash
# Creates .venv (once, or again when pyproject.toml changes) with everything Flipbook needs.
# torch is pinned to the local CPU wheel (2.13.0) on every install; torchvision is never installed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
STAMP="$VENV/.flipbook-installed"
want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then exit 0; fi
echo "[setup] creating $VENV (one time; a few minutes)" >&2
LOG=$(mktemp)  # the installers' own output: shown only if a step fails
quiet() { "$@" >>"$LOG" 2>&1 || { cat "$LOG" >&2; echo "[setup] failed: $*" >&2; exit 1; }; }
[ -x "$VENV/bin/python" ] || quiet python3 -m venv "$VENV"
quiet "$VENV/bin/python" -m pip install -q --disable-pip-version-check uv
# uv reads no pip config: hand it pip's find-links and extra indexes.
args=()
for f in $(pip config get global.find-links 2>/dev/null) $(pip config get :env:.find-links 2>/dev/null); do args+=(--find-links "$f"); done
for u in $(pip config get global.extra-index-url 2>/dev/null); do args+=(--extra-index-url "$u"); done
echo "torch==2.13.0" > "$VENV/constraints.txt"
quiet "$VENV/bin/python" -m uv pip install --python "$VENV/bin/python" --compile-bytecode \
  --index-strategy unsafe-best-match "${args[@]}" -c "$VENV/constraints.txt" -e ".[dev]"
if "$VENV/bin/python" -c "import torchvision" 2>/dev/null; then echo "[setup] torchvision got in: remove it" >&2; exit 1; fi
echo "$want" > "$STAMP"
rm -f "$LOG"
echo "[setup] ready" >&2
