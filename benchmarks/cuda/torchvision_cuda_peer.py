"""Peer of kernels_benchmark: times torchvision's CUDA ops on the same inputs (the same LCG) with CUDA
events, and prints the ratio to our kernels when given kernels_benchmark's JSON output.

    python3 benchmarks/cuda/torchvision_cuda_peer.py [--ours=kernels_benchmark.json]

MultiScaleRoIAlign is torchvision's per-level path (one roi_align call per FPN level); NMS is
torchvision.ops.nms; the proposal step is RegionProposalNetwork.filter_proposals' sequence (top-k per
level, decode, clip, remove small, batched NMS).
"""
import argparse
import json
import math

import torch
import torchvision
from torchvision.ops import MultiScaleRoIAlign, batched_nms, box_iou, nms  # noqa: F401
from torchvision.ops import boxes as box_ops


class Lcg:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.state >> 40) / 16777216.0


def make_boxes(n, width, height, max_side, seed):
    g = Lcg(seed)
    out = []
    for _ in range(n):
        x, y = g.next() * width, g.next() * height
        w, h = 8 + g.next() * max_side, 8 + g.next() * max_side
        out.append([x, y, x + w, y + h])
    return torch.tensor(out, dtype=torch.float32)


def uniform(n, seed):
    g = Lcg(seed)
    return torch.tensor([g.next() for _ in range(n)], dtype=torch.float32)


def time_us(fn, iters=50):
    fn()
    torch.cuda.synchronize()
    start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(iters):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(start.elapsed_time(stop) * 1000.0)
    times.sort()
    return times[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ours", help="kernels_benchmark --benchmark_out JSON")
    args = parser.parse_args()
    dev = torch.device("cuda")
    results = {}

    sizes = [(200, 336), (100, 168), (50, 84), (25, 42)]
    feats = {f"p{l + 2}": torch.rand(1, 256, h, w, device=dev) for l, (h, w) in enumerate(sizes)}
    pooler7 = MultiScaleRoIAlign(list(feats), 7, 2)
    pooler14 = MultiScaleRoIAlign(list(feats), 14, 2)
    for n in (512, 1000):
        boxes = make_boxes(n, 1344, 800, 400, 7).to(dev)
        for pooled, pooler in ((7, pooler7), (14, pooler14)):
            results[f"BM_FusedRoiAlignForward/{n}/{pooled}"] = time_us(
                lambda: pooler(feats, [boxes], [(800, 1344)]))
            inputs = {k: v.clone().requires_grad_(True) for k, v in feats.items()}
            out = pooler(inputs, [boxes], [(800, 1344)])
            grad = torch.rand_like(out)

            def backward():
                for v in inputs.values():
                    v.grad = None
                torch.autograd.grad(out, list(inputs.values()), grad, retain_graph=True)

            t = time_us(backward)
            results[f"BM_FusedRoiAlignBackward/{n}/{pooled}/0"] = t
            results[f"BM_FusedRoiAlignBackward/{n}/{pooled}/1"] = t

    for n in (1000, 5000, 20000, 100000):
        boxes = make_boxes(n, 1344, 800, 200, 11).to(dev)
        scores = uniform(n, 12).to(dev)
        results[f"BM_Nms/{n}"] = time_us(lambda: nms(boxes, scores, 0.5))

    cells = [200 * 336, 100 * 168, 50 * 84, 25 * 42, 13 * 21]
    counts = [3 * c for c in cells]
    a = sum(counts)
    logits = uniform(a, 21).to(dev)
    deltas = ((uniform(a * 4, 22) - 0.5) * 0.4).view(-1, 4).to(dev)
    anchors = make_boxes(a, 1344, 800, 300, 23).to(dev)
    coder = torchvision.models.detection._utils.BoxCoder((1.0, 1.0, 1.0, 1.0))

    def proposals(per_level):
        if per_level:
            chunks, idx, begin = [], [], 0
            for l, c in enumerate(counts):
                top = logits[begin:begin + c].topk(min(1000, c)).indices + begin
                chunks.append(top)
                idx.append(torch.full_like(top, l))
                begin += c
            top, levels = torch.cat(chunks), torch.cat(idx)
        else:
            top = logits.topk(1000).indices
            levels = torch.zeros_like(top)
        b = coder.decode_single(deltas[top], anchors[top])
        b = box_ops.clip_boxes_to_image(b, (800, 1344))
        s = torch.sigmoid(logits[top])
        keep = box_ops.remove_small_boxes(b, 1e-3)
        b, s, levels = b[keep], s[keep], levels[keep]
        keep = batched_nms(b, s, levels, 0.7)[:1000]
        return b[keep], s[keep]

    results["BM_Proposals/1"] = time_us(lambda: proposals(True))
    results["BM_Proposals/0"] = time_us(lambda: proposals(False))

    ours = {}
    if args.ours:
        with open(args.ours) as f:
            for b in json.load(f)["benchmarks"]:
                name = b["name"].replace("/manual_time", "")
                scale = {"us": 1.0, "ms": 1000.0, "ns": 0.001}[b["time_unit"]]
                ours[name] = b["real_time"] * scale
    print(f"{'benchmark':40} {'torchvision us':>15} {'ours us':>10} {'speedup':>8}")
    for name, t in results.items():
        o = ours.get(name)
        ratio = f"{t / o:8.2f}" if o else "       -"
        print(f"{name:40} {t:15.1f} {o if o else math.nan:10.1f} {ratio}")


if __name__ == "__main__":
    main()
