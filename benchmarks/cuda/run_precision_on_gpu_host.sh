#!/usr/bin/env bash
# On the GPU machine (16 cores; an Intel Xeon with AMX-BF16), from the repository root, with a bundle
# made by bundle_trainer.sh in BUNDLE: bf16 against fp32 on a CPU with AMX, where PyTorch's newer
# oneDNN runs bf16 convolutions on the matrix engines. Everything runs at once on disjoint cores:
#   cores 0-5   model_peer.py's precision axis for the R50-FPN preset, one round per core pair (3 rounds)
#   cores 6-7   which oneDNN kernels bf16 gets (ONEDNN_VERBOSE), then the shapes preset's axis, 3 rounds
#   cores 8-15  an R50-FPN (torchvision preset, trainable batch norm) trained on the shapes data on the
#               GPU, then `evaluate --compare_precision` of its last checkpoint on the CPU
# Usage: OUT=dir [TRAIN_SECONDS=200] [TRAIN_LR=0.002] [CASES=inference,train_step] [PEER_ARGS=...] \
#   BUNDLE/run_precision_on_gpu_host.sh   (PEER_ARGS: more model_peer.py flags, e.g. --flush-denormal)
set -uo pipefail
source "$(dirname "$0")/gpu_host_env.sh"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
train_s=${TRAIN_SECONDS:-200}
read -r -a peer_args <<< "${PEER_ARGS:-}"
export PYTHONUNBUFFERED=1
peer() {  # peer CORES OUTFILE ARGS...
  local cores=$1 out=$2
  shift 2
  timeout 420 taskset -c "$cores" python3 benchmarks/model/model_peer.py --binary "$g/model_benchmark" --threads 2 \
    --variants ours_fp32,ours_bf16,tv_fp32,tv_bb_bf16 --cases "${CASES:-inference,train_step}" \
    "${peer_args[@]}" "$@" > "$out" 2>&1
  echo "exit $?" >> "$out"
}
for r in 0 1 2; do
  peer "$((2 * r)),$((2 * r + 1))" "$OUT/bench_r50_$r.txt" --preset torchvision --rounds 1 &
done
(
  {
    lscpu | grep -E "Model name|Flags" | grep -o "Model name.*\|amx[a-z_0-9]*" | tr '\n' ' '
    echo
    # The kernel oneDNN picks for a bf16 convolution under CPU autocast (the library our binaries load).
    ONEDNN_VERBOSE=1 taskset -c 6,7 python3 -c '
import torch
print("torch", torch.__version__)
x, w = torch.randn(2, 256, 100, 136), torch.randn(256, 256, 3, 3)
with torch.autocast("cpu", dtype=torch.bfloat16):
    torch.nn.functional.conv2d(x.contiguous(memory_format=torch.channels_last), w, padding=1)
' | grep -E "^torch|info,oneDNN|convolution" | cut -c1-160 | head -4
  } > "$OUT/bench_shapes.txt" 2>&1
  peer 6,7 "$OUT/bench_shapes.tmp" --preset shapes --rounds 3 --iterations 10
  cat "$OUT/bench_shapes.tmp" >> "$OUT/bench_shapes.txt" && rm -f "$OUT/bench_shapes.tmp"
) &
(
  cd /tmp
  timeout "$train_s" taskset -c 8-15 "$g/train" --format=shapes --preset=torchvision --set NUM_CLASSES=4 \
    --set TRAIN_BN=true --set LEARNING_RATE="${TRAIN_LR:-0.002}" --set WARMUP_STEPS=100 --set STEPS_PER_EPOCH=50 \
    --set VALIDATION_STEPS=1 --layers=all --epochs=30 --device=cuda --threads=8 --model_dir=/tmp/r50 \
    --log_every=50 2>&1 | tr "\r" "\n" | grep -v "^ *$" | tail -25
  echo "train exit ${PIPESTATUS[0]} (124: stopped after ${train_s} s, as planned)"
  ls /tmp/r50/*/
  last=$(ls -t /tmp/r50/*/mask_rcnn_*.pt | head -1)
  timeout 200 taskset -c 8-15 "$g/evaluate" --weights="$last" --format=shapes --device=cpu \
    --threads=8 --max_images=50 --compare_precision --detections_out="$OUT/r50" 2>&1
  echo "evaluate exit $?"
) > "$OUT/train_eval.txt" 2>&1 &
wait
for f in "$OUT"/*.txt; do echo "=== $f"; cat "$f"; done
