#!/usr/bin/env bash
# The pretraining-budget ladder (issue: the paper's finding at mini scale). Resumable: run it again and
# every stage that is done is skipped, the one in progress resumes from its checkpoint.
#   teacher 1x (8M tokens) -> scratch 6L and 2L (8M each) -> teacher 2x, 4x, 8x, 16x (continued).
# Each rung is exported to $ROOT/rungs/<tokens>/; stop with SIGTERM (it checkpoints first).
#
# Sessions that share no disk (issue 15): with PACK=<folder in the repo> the ladder first restores that
# pack when $ROOT holds no run, and packs the run again whenever it stops before the end. MAX_MINUTES
# time-boxes the whole ladder (each stage gets what is left), e.g.
#   MAX_MINUTES=50 PACK=checkpoints/pretrain scripts/pretrain_ladder.sh   # then commit checkpoints/pretrain
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
ROOT=${MARATHI_PRUNE_HOME:-$HOME/.cache/marathi-prune}/pretrain
THREADS=${THREADS:-2}
RUNGS=${RUNGS:-"8 16 32 64 128"}
PACK=${PACK:-}
MAX_MINUTES=${MAX_MINUTES:-}
common=(--threads "$THREADS" --set bf16=true --checkpoint-dir "$ROOT" --quiet)
end=$(( $(date +%s) + ${MAX_MINUTES:-0} * 60 ))

if [ -n "$PACK" ] && [ -f "$PACK/manifest.json" ] && [ ! -f "$ROOT/family_config.json" ]; then
  $PY -m models.build_offline --checkpoint-dir "$ROOT" --unpack "$PACK"
fi

reached() {  # reached <checkpoint folder> <millions>: the model finished this rung or aims beyond it
  local state="$ROOT/$1/state.json"
  [ -f "$state" ] && $PY -c 'import json, sys
s = json.load(open(sys.argv[1])); rung = int(sys.argv[2]) * 10**6
sys.exit(0 if s["budget_tokens"] > rung or (s["budget_tokens"] == rung and s["done"]) else 1)' "$state" "$2"
}

stop_here() {  # the time box ran out or a stage stopped early: pack (if asked) and end this session
  if [ -n "$PACK" ]; then $PY -m models.build_offline --checkpoint-dir "$ROOT" --pack "$PACK"; fi
  echo "stopped before the end of the ladder; run it again to resume"
  exit 0
}

stage() {  # stage <models> <millions of tokens> <out dir> <marker file> <checkpoint folder of the last model>
  if [ -f "$4" ] || reached "$5" "$2"; then echo "done: $1 at ${2}M"; return; fi
  local limit=()
  if [ -n "$MAX_MINUTES" ]; then
    local left=$(( (end - $(date +%s)) / 60 ))
    if [ "$left" -lt 1 ]; then stop_here; fi
    limit=(--max-minutes "$left")
  fi
  $PY -m models.build_offline "${common[@]}" "${limit[@]}" --models "$1" --budget-tokens "${2}000000" --out-dir "$3"
  if [ ! -f "$4" ]; then stop_here; fi
}

first=${RUNGS%% *}
stage teacher "$first" "$ROOT/rungs/${first}M" "$ROOT/rungs/${first}M/mini-teacher-12l/model.safetensors" mini-teacher-12l
stage small,smaller "$first" "$ROOT/rungs/${first}M" "$ROOT/rungs/${first}M/mini-scratch-2l/model.safetensors" mini-scratch-2l
for m in ${RUNGS#* }; do
  stage teacher "$m" "$ROOT/rungs/${m}M" "$ROOT/rungs/${m}M/mini-teacher-12l/model.safetensors" mini-teacher-12l
done
if [ -n "$PACK" ]; then $PY -m models.build_offline --checkpoint-dir "$ROOT" --pack "$PACK"; fi
