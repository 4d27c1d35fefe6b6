#!/usr/bin/env bash
# The pretraining-budget ladder (issue: the paper's finding at mini scale). Resumable: run it again and
# every stage that is done is skipped, the one in progress resumes from its checkpoint.
#   teacher 1x (8M tokens) and scratch 6L, 2L (8M each) -> teacher 2x, 4x, 8x, 16x (continued).
# Each rung is exported to $ROOT/rungs/<N>M/; stop with SIGTERM (it checkpoints first).
#
# On a CPU, one process uses its second thread poorly (12-layer teacher, fp32, AVX2 EPYC: 1 thread
# 1,100 tokens/s, 2 threads 1,300), so with PARALLEL=1 (the default without a GPU and with >= 2 cores)
# the scratch models train beside the teacher's first rung, one thread each.
# bf16 autocast is on only where it is native (PretrainConfig.bf16="auto"): emulated bf16 was 15x slower.
#
# Sessions that share no disk (issue 15): with PACK=<folder in the repo> the ladder first restores that
# pack when $ROOT holds no run, and packs the run again whenever it stops. MAX_MINUTES time-boxes the
# whole ladder (each stage gets what is left), e.g.
#   MAX_MINUTES=50 PACK=checkpoints/pretrain scripts/pretrain_ladder.sh   # then commit checkpoints/pretrain
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python}
ROOT=${MARATHI_PRUNE_HOME:-$HOME/.cache/marathi-prune}/pretrain
RUNGS=${RUNGS:-"8 16 32 64 128"}
PACK=${PACK:-}
MAX_MINUTES=${MAX_MINUTES:-}
if [ -z "${PARALLEL:-}" ]; then
  PARALLEL=0
  if [ "$(nproc)" -ge 2 ] && ! $PY -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then PARALLEL=1; fi
fi
THREADS=${THREADS:-$([ "$PARALLEL" = 1 ] && echo 1 || nproc)}  # per process while two train side by side
threads=$THREADS
end=$(( $(date +%s) + ${MAX_MINUTES:-0} * 60 ))

if [ -n "$PACK" ] && [ -f "$PACK/manifest.json" ] && [ ! -f "$ROOT/family_config.json" ]; then
  $PY -m models.build_offline --checkpoint-dir "$ROOT" --unpack "$PACK" || exit 1
fi

pack() { if [ -n "$PACK" ]; then $PY -m models.build_offline --checkpoint-dir "$ROOT" --pack "$PACK"; fi; }

reached() {  # reached <checkpoint folder> <millions>: the model finished this rung or aims beyond it
  local state="$ROOT/$1/state.json"
  [ -f "$state" ] && $PY -c 'import json, sys
s = json.load(open(sys.argv[1])); rung = int(sys.argv[2]) * 10**6
sys.exit(0 if s["budget_tokens"] > rung or (s["budget_tokens"] == rung and s["done"]) else 1)' "$state" "$2"
}

stage() {  # stage <models> <millions of tokens> <marker file> <checkpoint folder of the last model>; 1 = stopped early
  if [ -f "$3" ] || reached "$4" "$2"; then echo "done: $1 at ${2}M"; return 0; fi
  local limit=()
  if [ -n "$MAX_MINUTES" ]; then
    local left=$(( (end - $(date +%s)) / 60 ))
    if [ "$left" -lt 1 ]; then return 1; fi
    limit=(--max-minutes "$left")
  fi
  $PY -m models.build_offline --threads "$threads" --checkpoint-dir "$ROOT" --quiet "${limit[@]}" --models "$1" --budget-tokens "${2}000000" \
    --out-dir "$ROOT/rungs/${2}M"
  [ -f "$3" ]
}

marker() { echo "$ROOT/rungs/${2}M/$1/model.safetensors"; }  # marker <model folder> <millions>

first=${RUNGS%% *}
if [ "$PARALLEL" = 1 ]; then
  stage teacher "$first" "$(marker mini-teacher-12l "$first")" mini-teacher-12l & teacher=$!
  stage small,smaller "$first" "$(marker mini-scratch-2l "$first")" mini-scratch-2l; scratch_ok=$?
  wait "$teacher"; teacher_ok=$?
  ok=$(( scratch_ok == 0 && teacher_ok == 0 ))
else
  stage teacher "$first" "$(marker mini-teacher-12l "$first")" mini-teacher-12l \
    && stage small,smaller "$first" "$(marker mini-scratch-2l "$first")" mini-scratch-2l; ok=$(( $? == 0 ))
fi
threads=${THREADS_ALONE:-$(nproc)}  # the teacher alone from here on
if [ "$ok" = 1 ]; then
  for m in ${RUNGS#* }; do
    stage teacher "$m" "$(marker mini-teacher-12l "$m")" mini-teacher-12l || { ok=0; break; }
  done
fi
pack
if [ "$ok" != 1 ]; then echo "stopped before the end of the ladder; run it again to resume"; fi
