#!/usr/bin/env bash
# How many trials one Slurm-launcher coordinator can follow: a sweep of N fake trials (no training;
# each logs 5 steps, a COCO result and a checkpoint, 10 report lines) on its own single-node cluster
# with C CPUs (oversubscribed on purpose: the fake trials barely use a CPU), then the coordinator's own
# cost: its CPU time, the time it spent in squeue and in ingesting reports, per trial, and the log's size.
#
#   benchmarks/slurm/coordinator_scale.sh [N=1000] [C=32]
#
# Needs root and setup.sh's slurm-wlm and munge. The cluster lives in /tmp/mrcnn-slurm-scale on port
# 6917 (apart from experiments/local_slurm.sh's default one) and is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-1000}
cpus=${2:-32}
work=$(mktemp -d /tmp/slurm_scale.XXXXXX)
export MRCNN_SLURM_DIR=/tmp/mrcnn-slurm-scale MRCNN_SLURM_PORT=6917 MRCNN_SLURM_CPUS=$cpus
export SLURM_CONF=$MRCNN_SLURM_DIR/slurm.conf
bazel build //experiments:sweep //tests/experiments:fake_trial >/dev/null 2>&1
experiments/local_slurm.sh stop >/dev/null
rm -rf "$MRCNN_SLURM_DIR"
experiments/local_slurm.sh start
trap 'experiments/local_slurm.sh stop; rm -rf "$work"' EXIT
cat >"$work/spec.json" <<SPEC
{"name": "scale", "base": {"STEPS_PER_EPOCH": 5}, "params": {"RPN_ANCHOR_STRIDE": [1]}, "seeds": $n}
SPEC
start=$(date +%s.%N)
/usr/bin/time -f "coordinator: %e s wall, %U s user + %S s system CPU, %M KB peak RSS" \
  bazel-bin/experiments/sweep --launcher=slurm --spec="$work/spec.json" --db="$work/log.sqlite" \
  --runs_dir="$work/runs" --trial_binary=bazel-bin/tests/experiments/fake_trial --slurm_poll_s=2 \
  --progress_interval_s=60 --metrics=loss 2>&1 | grep -E "^(coordinator|slurm launcher|sweep 'scale')" || true
end=$(date +%s.%N)
bytes=$(stat -c %s "$work/log.sqlite")
wal=$(stat -c %s "$work/log.sqlite-wal" 2>/dev/null || echo 0)
finished=$(sqlite3 "$work/log.sqlite" "SELECT COUNT(*) FROM trials WHERE status = 'FINISHED'")
lines=$(sqlite3 "$work/log.sqlite" "SELECT SUM(lines) FROM report_ingest")
t0=$(date +%s.%N)
squeue -h -r -t all -o '%i|%T' -j "$(sqlite3 "$work/log.sqlite" "SELECT group_concat(DISTINCT slurm_job_id) FROM attempts")" | wc -l >"$work/q"
t1=$(date +%s.%N)
awk -v n="$n" -v f="$finished" -v b="$bytes" -v w="$wal" -v l="$lines" -v s="$start" -v e="$end" -v q0="$t0" \
    -v q1="$t1" -v q="$(cat "$work/q")" 'BEGIN {
  printf "trials: %d of %d FINISHED in %.1f s; %d report lines ingested\n", f, n, e - s, l
  printf "log: %.1f MB (+ %.1f MB WAL), %.1f KB per trial\n", b / 1e6, w / 1e6, b / 1024 / n
  printf "one squeue listing %d array tasks: %.3f s\n", q, q1 - q0
}'
