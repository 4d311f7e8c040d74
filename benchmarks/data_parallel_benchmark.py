#!/usr/bin/python3
"""Data-parallel training throughput: N ranks x 1 thread against 1 rank x N threads, same global batch.

Runs the trainer (bazel build //mrcnn:train first) in alternating rounds, each configuration in its own
processes: `train --ranks=N --threads=1` and `train --threads=N`, two epochs of --steps steps each on
synthetic shapes, and times the second epoch (the first warms up). Per round it prints the steps per
second of both, their ratio, and for the ranks the share of the epoch rank 0 spent waiting for the
gradient allreduce after backward (`data-parallel: epoch ... waiting ... (P%)`). At the end: median,
min and max of each over the rounds.

  /usr/bin/python3 benchmarks/data_parallel_benchmark.py --preset shapes --rounds 3
  /usr/bin/python3 benchmarks/data_parallel_benchmark.py --preset r50 --rounds 3 --steps 3

Presets: `shapes` (the shapes preset, 128 x 128, its global batch of 4) and `r50` (the torchvision
preset's R50-FPN at 512 x 512, global batch 2, 4 classes, train-mode batch norm). Only ratios from one run mean anything on a
machine whose speed drifts (see README "Model").
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

PRESETS = {
    "shapes": ["--preset=shapes", "--shapes_size=128"],
    # From scratch, frozen batch norm (mean 0, variance 1) lets R50's activations grow without bound and
    # the first step diverges; train-mode batch norm keeps them finite.
    "r50": ["--preset=torchvision", "--set", "NUM_CLASSES=4", "--set", "IMAGE_MIN_DIM=512", "--set",
            "IMAGE_MAX_DIM=512", "--set", "IMAGES_PER_GPU=2", "--set", "TRAIN_BN=true", "--set",
            "LEARNING_RATE=0.001", "--shapes_size=512"],
}


def run(train, preset, steps, ranks, threads, workdir):
    args = [train, "--format=shapes", "--layers=all", "--epochs=2", "--nococo_eval", "--workers=1",
            "--shapes_train=64", "--shapes_val=2", "--set", f"STEPS_PER_EPOCH={steps}", "--set",
            "VALIDATION_STEPS=0", f"--model_dir={workdir}", f"--threads={threads}"] + PRESETS[preset]
    if ranks > 1:
        args.append(f"--ranks={ranks}")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=3600)
    if out.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{out.stderr[-3000:]}")
    text = out.stderr
    if ranks > 1:
        m = re.findall(r"data-parallel: epoch ([0-9.]+) s, waiting for the gradient allreduce ([0-9.]+) s", text)
        if len(m) != 2:
            sys.exit(f"no data-parallel epoch lines in:\n{text[-3000:]}")
        epoch, wait = float(m[1][0]), float(m[1][1])
        return steps / epoch, wait / epoch
    m = re.findall(r"\(epoch ([0-9.]+) s\)", text)
    if len(m) != 2:
        sys.exit(f"no epoch times in:\n{text[-3000:]}")
    return steps / float(m[1]), 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train", default="bazel-bin/mrcnn/train/train")
    p.add_argument("--preset", choices=sorted(PRESETS), default="shapes")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--ranks", type=int, default=2)
    a = p.parse_args()
    if not os.access(a.train, os.X_OK):
        sys.exit(f"{a.train}: not built (bazel build //mrcnn:train)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ddp_bench_") as tmp:
        for r in range(a.rounds):
            dp, share = run(a.train, a.preset, a.steps, a.ranks, 1, os.path.join(tmp, f"dp{r}"))
            one, _ = run(a.train, a.preset, a.steps, 1, a.ranks, os.path.join(tmp, f"one{r}"))
            rows.append((dp, one, dp / one, share))
            print(f"round {r + 1}: {a.ranks} ranks x 1 thread {dp:.3f} steps/s (allreduce wait {100 * share:.1f}%), "
                  f"1 rank x {a.ranks} threads {one:.3f} steps/s, ratio {dp / one:.3f}", flush=True)
    for i, name in enumerate([f"{a.ranks} x 1 steps/s", f"1 x {a.ranks} steps/s", "ratio", "allreduce share"]):
        v = [row[i] for row in rows]
        print(f"{name}: median {statistics.median(v):.3f}, min {min(v):.3f}, max {max(v):.3f}")


if __name__ == "__main__":
    main()
