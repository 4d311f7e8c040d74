"""Peer of ops_benchmark: times torchvision's CPU ops on the same inputs, in the same run, and prints
the ratio torchvision time / our time (above 1: ours is faster).

Run from the repository root with Debian's python3 (torch 1.13, torchvision 0.14):
    bazel build //benchmarks:ops_benchmark
    /usr/bin/python3 benchmarks/ops_peer.py [--threads 2] [--binary bazel-bin/benchmarks/ops_benchmark]

It draws the inputs (seeded), saves them for the C++ binary (--inputs), runs the binary with
--benchmark_format=json, then times torchvision with torch.set_num_threads(threads).
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


def timeit(fn, min_time=1.0, max_iters=1000):
    fn()  # warm-up
    times = []
    start = time.perf_counter()
    while len(times) < max_iters and (time.perf_counter() - start < min_time or len(times) < 3):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return sum(times) / len(times)


def torchvision_times(d):
    out = {}
    for n in (1000, 5000, 20000):
        b, s = d[f"nms/{n}/boxes"], d[f"nms/{n}/scores"]
        out[f"BM_Nms/{n}/real_time"] = timeit(lambda: torchvision.ops.nms(b, s, 0.7))
    feats = {f"p{l}": d[f"fpn/{l}"] for l in (2, 3, 4, 5)}
    for rois in (512, 1000):
        for size in (7, 14):
            pooler = MultiScaleRoIAlign(["p2", "p3", "p4", "p5"], size, 2)
            fr = {k: v.clone().requires_grad_(True) for k, v in feats.items()}
            boxes = [d[f"rois/{rois}"]]
            grad = torch.ones(rois, 256, size, size)

            def step():
                o = pooler(fr, boxes, [(800, 1088)])
                torch.autograd.grad([o], list(fr.values()), [grad])

            out[f"BM_RoiAlignFpn/{rois}/{size}/real_time"] = timeit(step, min_time=2.0)
            if (rois, size) in ((512, 7), (1000, 14)):
                out[f"BM_RoiAlignFpnForward/{rois}/{size}/real_time"] = timeit(
                    lambda: pooler(feats, boxes, [(800, 1088)]), min_time=2.0)
    gen = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    images = ImageList(torch.zeros(1, 3, 800, 1088), [(800, 1088)])
    fmaps = [torch.zeros(1, 1, h, w) for h, w in ((200, 272), (100, 136), (50, 68), (25, 34), (13, 17))]
    out["BM_AnchorsUncached/real_time"] = timeit(lambda: gen(images, fmaps))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--binary", default="bazel-bin/benchmarks/ops_benchmark")
    ap.add_argument("--min_time", default="1.0", help="--benchmark_min_time of the C++ binary")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    d = make_inputs()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "inputs.pt")
        torch.save(d, path)
        res = subprocess.run([args.binary, f"--threads={args.threads}", f"--inputs={path}",
                              "--benchmark_format=json", f"--benchmark_min_time={args.min_time}"],
                             check=True, capture_output=True, text=True)
    ours = {}
    for b in json.loads(res.stdout)["benchmarks"]:
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        ours[b["name"]] = b["real_time"] * scale
    theirs = torchvision_times(d)
    print(f"threads: {args.threads} (ours and torchvision), torch {torch.__version__}, "
          f"torchvision {torchvision.__version__}")
    print(f"{'benchmark':42s} {'ours ms':>10s} {'torchvision ms':>15s} {'ratio tv/ours':>14s}")
    for name, t in ours.items():
        tv = theirs.get(name)
        if tv is None:
            print(f"{name:42s} {t * 1e3:10.3f} {'-':>15s} {'-':>14s}")
        else:
            print(f"{name:42s} {t * 1e3:10.3f} {tv * 1e3:15.3f} {tv / t:14.2f}")


if __name__ == "__main__":
    main()
