"""Peer of ops_benchmark: times torchvision's CPU ops on the same inputs, in the same run, and prints
the ratio torchvision time / our time (above 1: ours is faster).

Run from the repository root with Debian's python3 (torch 1.13, torchvision 0.14):
    bazel build //benchmarks:ops_benchmark
    /usr/bin/python3 benchmarks/ops_peer.py [--threads 2] [--binary bazel-bin/benchmarks/ops_benchmark]

It draws the inputs (seeded), saves them for the C++ binary (--inputs), and for each benchmark
alternates `rounds` times between the binary (--benchmark_filter, --benchmark_format=json) and
torchvision (torch.set_num_threads(threads)), keeping the fastest round of each: on a machine shared
with other jobs the load changes from second to second, and alternating with a minimum compares both
under the lightest load seen. Wall-clock times give the ratio; the process CPU times (all threads)
are printed too.
"""
import argparse
import json
import math
import os
import subprocess
import tempfile
import time

import torch
import torchvision
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.ops import MultiScaleRoIAlign


def random_boxes(n, lo, hi, gen):
    ctr = torch.rand(n, 2, generator=gen) * torch.tensor([1088.0, 800.0])
    side = torch.exp(torch.rand(n, 2, generator=gen) * math.log(hi / lo)) * lo
    return torch.cat([ctr - side / 2, ctr + side / 2], 1)


def make_inputs():
    gen = torch.Generator().manual_seed(0)
    d = {}
    for n in (1000, 5000, 20000):
        d[f"nms/{n}/boxes"] = random_boxes(n, 8, 256, gen)
        d[f"nms/{n}/scores"] = torch.rand(n, generator=gen)
    for l in (2, 3, 4, 5):
        d[f"fpn/{l}"] = torch.randn(1, 256, 800 >> l, 1088 >> l, generator=gen)
    for n in (512, 1000):
        d[f"rois/{n}"] = random_boxes(n, 16, 600, gen)
    return d


def timeit(fn, min_time):
    """Mean wall-clock and process CPU seconds per call over at least min_time seconds (3+ calls)."""
    fn()  # warm-up
    n, wall, cpu = 0, 0.0, 0.0
    while n < 3 or wall < min_time:
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        n += 1
    return wall / n, cpu / n


def torchvision_benchmarks(d):
    """name (as the C++ binary reports it) -> a callable running torchvision's op on the inputs."""
    out = {}
    for n in (1000, 5000, 20000):
        b, s = d[f"nms/{n}/boxes"], d[f"nms/{n}/scores"]
        out[f"BM_Nms/{n}"] = lambda b=b, s=s: torchvision.ops.nms(b, s, 0.7)
    feats = {f"p{l}": d[f"fpn/{l}"] for l in (2, 3, 4, 5)}
    for rois in (512, 1000):
        for size in (7, 14):
            pooler = MultiScaleRoIAlign(["p2", "p3", "p4", "p5"], size, 2)
            fr = {k: v.clone().requires_grad_(True) for k, v in feats.items()}
            boxes = [d[f"rois/{rois}"]]
            grad = torch.ones(rois, 256, size, size)

            def step(pooler=pooler, fr=fr, boxes=boxes, grad=grad):
                o = pooler(fr, boxes, [(800, 1088)])
                torch.autograd.grad([o], list(fr.values()), [grad])

            out[f"BM_RoiAlignFpn/{rois}/{size}"] = step
            if (rois, size) in ((512, 7), (1000, 14)):
                out[f"BM_RoiAlignFpnForward/{rois}/{size}"] = (
                    lambda pooler=pooler, boxes=boxes: pooler(feats, boxes, [(800, 1088)]))
    gen = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    images = ImageList(torch.zeros(1, 3, 800, 1088), [(800, 1088)])
    fmaps = [torch.zeros(1, 1, h, w) for h, w in ((200, 272), (100, 136), (50, 68), (25, 34), (13, 17))]
    out["BM_AnchorsUncached"] = lambda: gen(images, fmaps)
    out["BM_AnchorsCached"] = None  # torchvision has no anchor cache
    return out


def run_ours(binary, threads, inputs, name, min_time):
    res = subprocess.run([binary, f"--threads={threads}", f"--inputs={inputs}",
                          f"--benchmark_filter=^{name}/", "--benchmark_format=json",
                          f"--benchmark_min_time={min_time}"],
                         check=True, capture_output=True, text=True)
    (b,) = json.loads(res.stdout)["benchmarks"]
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
    return b["real_time"] * scale, b["cpu_time"] * scale


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--binary", default="bazel-bin/benchmarks/ops_benchmark")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min_time", type=float, default=1.0, help="seconds per measurement")
    ap.add_argument("--filter", default="", help="only benchmarks whose name contains this")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d = make_inputs()
    benches = {k: v for k, v in torchvision_benchmarks(d).items() if args.filter in k}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "inputs.pt")
        torch.save(d, path)
        for name, fn in benches.items():
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(run_ours(args.binary, args.threads, path, name, args.min_time))
                if fn is not None:
                    theirs.append(timeit(fn, args.min_time))
            rows.append((name, min(ours), min(theirs) if theirs else None))
    print(f"threads: {args.threads} (ours and torchvision), torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}, best of {args.rounds} alternating rounds")
    print(f"{'benchmark':32s} {'ours ms':>10s} {'tv ms':>10s} {'ratio':>7s}   "
          f"{'ours cpu ms':>11s} {'tv cpu ms':>10s} {'cpu ratio':>9s}")
    for name, (ow, oc), tv in rows:
        if tv is None:
            print(f"{name:32s} {ow * 1e3:10.3f} {'-':>10s} {'-':>7s}   {oc * 1e3:11.3f}")
        else:
            tw, tc = tv
            print(f"{name:32s} {ow * 1e3:10.3f} {tw * 1e3:10.3f} {tw / ow:7.2f}   "
                  f"{oc * 1e3:11.3f} {tc * 1e3:10.3f} {tc / oc:9.2f}")
    print("ratio = torchvision / ours (above 1: ours is faster); cpu = process CPU time, all threads")


if __name__ == "__main__":
    main()
