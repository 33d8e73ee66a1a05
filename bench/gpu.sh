#!/usr/bin/env bash
# GPU benchmark: train the GPU preset for a fixed number of steps (pairs/s from metrics.jsonl, peak GPU
# memory sampled with nvidia-smi), then `arc-efe evaluate` on a seeded 100-task sample at a small budget.
# Installs nothing: run it inside an environment where `import arc_efe` and CUDA torch already work.
# Sized to finish in under 8 minutes on one H100 (each stage has a hard timeout).
#
#   bash bench/gpu.sh                      # defaults below
#   STEPS=500 BUDGET=3 OUT=/tmp/gpu-bench bash bench/gpu.sh
#   PRESET=tiny DEVICE=cpu STEPS=10 LIMIT=2 BUDGET=1 TASK_BATCH=2 bash bench/gpu.sh  # the logic, on a CPU
#   TASK_BATCH=40 LIMIT=400 BUDGET=50 EVAL_TIMEOUT=900 bash bench/gpu.sh  # issue 18's target: 400 tasks in
#       <= 10 min wall with >= 300 updates per task; with TASK_BATCH K > 1, K tasks share one BUDGET of wall
#
# Last line: `pairs_s=... peak_gpu_mib=... train_s=... task_score=... plain_score=... gain=... s_task=...
# eval_s=... updates_mean=... updates_min=... task_batch=...` (eval_s: the evaluate command's wall seconds;
# updates: test-time-training updates per task).
set -euo pipefail

STEPS="${STEPS:-300}"              # optimiser steps of the GPU preset (batch 64, bf16)
BUDGET="${BUDGET:-2}"              # solver seconds per task
LIMIT="${LIMIT:-100}"              # seeded sample of arc1/evaluation
SEED="${SEED:-0}"
TASK_BATCH="${TASK_BATCH:-1}"      # tasks per batched test-time training (arc-efe evaluate --task-batch)
PRESET="${PRESET:-gpu}"
DEVICE="${DEVICE:-cuda}"
TRAIN_TIMEOUT="${TRAIN_TIMEOUT:-240}"
EVAL_TIMEOUT="${EVAL_TIMEOUT:-260}"
OUT="${OUT:-$(mktemp -d /tmp/arc-efe-gpu-bench.XXXXXX)}"
PYTHON="${PYTHON:-python}"
ARC_EFE=("$PYTHON" -m arc_efe.cli.main)
export HF_HUB_OFFLINE=1

"$PYTHON" - "$DEVICE" <<'EOF'
import datetime, os, platform, sys, torch
if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    raise SystemExit("error: torch sees no CUDA device; bench/gpu.sh needs one (or DEVICE=cpu)")
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
print(f"machine: cores={os.cpu_count()} gpu='{gpu}' torch={torch.__version__} cuda={torch.version.cuda} "
      f"python={platform.python_version()} date={now}")
EOF
mkdir -p "$OUT"
echo "output folder: $OUT"

# Peak GPU memory of the whole device (the run is assumed to be alone on it), sampled every 0.5 s.
SAMPLER_PID=""
if [[ "$DEVICE" == cuda ]] && command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits --id=0 -lms 500 > "$OUT/gpu_mem.csv" &
  SAMPLER_PID=$!
else
  echo "warning: no nvidia-smi sampling (DEVICE=$DEVICE); peak_gpu_mib will be 'na'" >&2
fi
stop_sampler() { if [[ -n "$SAMPLER_PID" ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; wait "$SAMPLER_PID" 2>/dev/null || true; SAMPLER_PID=""; fi; }
trap stop_sampler EXIT

echo "train: --preset $PRESET on $DEVICE, $STEPS steps"
start=$(date +%s)
timeout "$TRAIN_TIMEOUT" "${ARC_EFE[@]}" train --preset "$PRESET" --device "$DEVICE" --max-steps "$STEPS" \
  --out "$OUT/run" --save-every 0 --log-every 10 --set progress=false --set tensorboard=false \
  > "$OUT/train.log" 2>&1 || { echo "error: training failed or passed ${TRAIN_TIMEOUT}s; tail of $OUT/train.log:" >&2; tail -20 "$OUT/train.log" >&2; exit 1; }
train_s=$(( $(date +%s) - start ))
stop_sampler

peak_mib=na
if [[ -s "$OUT/gpu_mem.csv" ]]; then peak_mib=$(sort -n "$OUT/gpu_mem.csv" | tail -1 | tr -d ' '); fi
# pairs/s per log interval; the first interval holds the warm-up and the median skips intervals that
# contain a held-out evaluation.
pairs_s=$("$PYTHON" - "$OUT/run/metrics.jsonl" <<'EOF'
import json, statistics, sys
rates = [json.loads(line)["pairs_per_s"] for line in open(sys.argv[1]) if line.strip()][1:]
print(f"{statistics.median(rates):.1f}" if rates else "na")
EOF
)
echo "train: ${train_s}s wall, median ${pairs_s} pairs/s, peak GPU memory ${peak_mib} MiB"

echo "evaluate: $LIMIT tasks of arc1/evaluation (seed $SEED) at ${BUDGET}s per task (task batch $TASK_BATCH)"
start=$(date +%s)
timeout "$EVAL_TIMEOUT" "${ARC_EFE[@]}" evaluate --checkpoint "$OUT/run" --tasks arc1/evaluation \
  --limit "$LIMIT" --sample-seed "$SEED" --seed "$SEED" --time-budget "$BUDGET" --device "$DEVICE" --no-report \
  --task-batch "$TASK_BATCH" --out "$OUT/eval" > "$OUT/eval.log" 2>&1 || { echo "error: evaluate failed or passed ${EVAL_TIMEOUT}s; tail of $OUT/eval.log:" >&2; tail -20 "$OUT/eval.log" >&2; exit 1; }
eval_s=$(( $(date +%s) - start ))
tail -5 "$OUT/eval.log"

"$PYTHON" - "$OUT/eval" "$pairs_s" "$peak_mib" "$train_s" "$STEPS" "$BUDGET" "$LIMIT" "$eval_s" "$TASK_BATCH" <<'EOF'
import json, sys
folder, pairs_s, peak, train_s, steps, budget, limit, eval_s, batch = sys.argv[1:]
s = json.load(open(f"{folder}/scores.json"))
updates = [json.loads(line)["ttt"].get("steps", 0) for line in open(f"{folder}/tasks.jsonl") if line.strip()]
print(f"pairs_s={pairs_s} peak_gpu_mib={peak} train_s={train_s} steps={steps} task_score={s['task_score']:.4g} "
      f"plain_score={s['plain']['task_score']:.4g} gain={s['ttt_gain']['task_score']:.4g} "
      f"s_task={s['seconds_per_task']['mean']:.4g} tasks={limit} budget_s={budget} eval_s={eval_s} "
      f"updates_mean={sum(updates) / max(len(updates), 1):.1f} updates_min={min(updates, default=0)} "
      f"task_batch={batch}")
EOF
