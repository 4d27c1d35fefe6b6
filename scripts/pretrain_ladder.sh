#!/usr/bin/env bash
# The pretraining-budget ladder (issue: the paper's finding at mini scale). Resumable: run it again and
# every stage that is done is skipped, the one in progress resumes from its checkpoint.
#   teacher 1x (8M tokens) -> scratch 6L and 2L (8M each) -> teacher 2x, 4x, 8x, 16x (continued).
# Each rung is exported to $ROOT/rungs/<tokens>/; stop with SIGTERM (it checkpoints first).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
ROOT=${MARATHI_PRUNE_HOME:-$HOME/.cache/marathi-prune}/pretrain
THREADS=${THREADS:-2}
RUNGS=${RUNGS:-"8 16 32 64 128"}
common=(--threads "$THREADS" --set bf16=true --checkpoint-dir "$ROOT" --quiet)
stage() {  # stage <models> <millions of tokens> <out dir> <marker file>
  if [ -f "$4" ]; then echo "done: $1 at ${2}M"; return; fi
  $PY -m models.build_offline "${common[@]}" --models "$1" --budget-tokens "${2}000000" --out-dir "$3"
}
first=${RUNGS%% *}
stage teacher "$first" "$ROOT/rungs/${first}M" "$ROOT/rungs/${first}M/mini-teacher-12l/model.safetensors"
stage small,smaller "$first" "$ROOT/rungs/${first}M" "$ROOT/rungs/${first}M/mini-scratch-2l/model.safetensors"
for m in ${RUNGS#* }; do
  stage teacher "$m" "$ROOT/rungs/${m}M" "$ROOT/rungs/${m}M/mini-teacher-12l/model.safetensors"
done
