#!/usr/bin/env bash
# Train every tuning mode at one budget with plain and with warped noise, for the motion comparison
# (issue 29, deliver 4; read by `bench/motion_bench.py --tuned`). Sequential, one thread, resumable: run it
# again and each training resumes from its checkpoints in $FLIPBOOK_RUNS/modes/; finished folders are skipped.
# It runs from a snapshot of the checkout ($FLIPBOOK_RUNS/src, a git worktree of HEAD made on the first run), so
# edits to the checkout while it runs cannot break a training that starts later.
#
#   OMP_NUM_THREADS=1 FLIPBOOK_RUNS=~/flipbook-runs nohup bash bench/train_motion_modes.sh > ~/flipbook-runs/motion-modes.log 2>&1 &
set -euo pipefail
: "${FLIPBOOK_RUNS:?set FLIPBOOK_RUNS to a run folder outside the checkout}"
STEPS=${STEPS:-400}
MODES=${MODES:-"temporal simda ff-conv1d-attn1d-blocks lora full ff-conv3d-attn1d-blocks ff-conv1d-attn3d-blocks ff-conv1d-attn1d-layers"}
OUT="$FLIPBOOK_RUNS/motion-modes"
export OMP_NUM_THREADS=1
SRC="$FLIPBOOK_RUNS/src"
[ -d "$SRC" ] || git -C "$(dirname "$0")/.." worktree add --detach "$SRC" HEAD
cd "$SRC"
for mode in $MODES; do
  for noise in plain warped; do
    name="$mode-$noise-$STEPS"
    if [ -f "$OUT/$name/mode.json" ]; then echo "done: $name"; continue; fi
    flag=(); [ "$noise" = warped ] && flag=(--warped-noise)
    echo "$(date -u +%H:%M) start $name"
    PYTHONPATH="$SRC" python -m studio.cli train-mode --mode "$mode" --steps "$STEPS" --batch-size 4 "${flag[@]}" \
      --out "$OUT/$name" --work-dir "$FLIPBOOK_RUNS/modes/$name"
    echo "$(date -u +%H:%M) end $name"
  done
done
