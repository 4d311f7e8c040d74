#!/usr/bin/env bash
# On a GPU machine with PyTorch, in a bundle made by bundle_trainer.sh: trains the shapes preset for two
# epochs on the GPU and on the CPU, then evaluates the GPU-trained checkpoint on both devices (the same
# checkpoint must score the same). Output under OUT (default /tmp/out).
set -uo pipefail
source "$(dirname "$0")/gpu_host_env.sh"
cd /tmp
threads=${THREADS:-$(nproc)}
for dev in cuda cpu; do
  echo "== train --device=$dev"
  /usr/bin/time -f "wall %e s, max RSS %M KB" "$g/train" --format=shapes --preset=shapes --layers=all --epochs=2 \
    --device=$dev --threads="$threads" --model_dir=/tmp/logs_$dev --log_every=50 2>&1 | tr "\r" "\n" | tail -30
done
for dev in cuda cpu; do
  echo "== evaluate the GPU-trained checkpoint --device=$dev"
  "$g/evaluate" --weights=last --model_dir=/tmp/logs_cuda --format=shapes --device=$dev --threads="$threads" 2>&1 | tail -20
done
