#!/usr/bin/python3
"""Peer of model_benchmark: times torchvision's maskrcnn_resnet50_fpn on the same weights, inputs and
thread count, in the same run, and prints the ratios torchvision / ours (above 1: ours is faster) and
the peak resident memory of each side.

Run from the repository root with Debian's python3 (torch 1.13, torchvision 0.14):
    bazel build //benchmarks/model:model_benchmark
    /usr/bin/python3 benchmarks/model/model_peer.py [--threads 2] [--rounds 1]

Cases (torchvision preset on both sides):
  inference   one 640x480 uint8 image, resized to 800x1066, eval mode, score threshold 0.05
  train_step  two 512x512 images (resized to 800x800) with 3 instances each: forward, backward, SGD
Weights are seeded random (batch norm frozen, as with pretrained weights), converted once with
mrcnn/weights/convert_torchvision.py. Each case runs in fresh processes (one per side and round, so
the peak RSS belongs to that case), alternating sides; the fastest round of each side is kept.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import torch
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "mrcnn"))
import torchvision_reference as ref  # noqa: E402  (seeded weights, frozen batch norm)


def build_model(seed=0):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=91)
    ref.randomize_batch_norm(model, g)
    ref.freeze_batch_norm(model)
    return model


def make_inputs(path):
    g = torch.Generator().manual_seed(7)
    d = {"infer.image": torch.randint(0, 256, (3, 480, 640), generator=g, dtype=torch.uint8)}
    for i in range(2):
        d[f"train.image.{i}"] = torch.randint(0, 256, (3, 512, 512), generator=g, dtype=torch.uint8)
        boxes = torch.tensor([[40.0, 60.0, 200.0, 260.0], [220.0, 100.0, 480.0, 400.0],
                              [10.0, 300.0, 150.0, 500.0]]) + 8 * i
        masks = torch.zeros(3, 512, 512, dtype=torch.uint8)
        for k, b in enumerate(boxes.long().tolist()):
            masks[k, b[1] + 10:b[3] - 10, b[0] + 10:b[2] - 10] = 1
        d[f"train.boxes.{i}"] = boxes
        d[f"train.labels.{i}"] = torch.tensor([1, 18, 3]) + i
        d[f"train.masks.{i}"] = masks
    torch.save(d, path)


def worker(args):
    """One case on torchvision's side; prints {"seconds": ..., "peak_rss_mb": ...}."""
    torch.set_num_threads(args.threads)
    model = build_model()
    model.load_state_dict(torch.load(args.state), strict=True)
    d = torch.load(args.inputs)
    if args.worker == "inference":
        model.eval()
        image = d["infer.image"].float() / 255

        def step():
            with torch.no_grad():
                return model([image])[0]["boxes"].shape[0]
    else:
        model.train()
        images = [d[f"train.image.{i}"].float() / 255 for i in range(2)]
        targets = [{"boxes": d[f"train.boxes.{i}"], "labels": d[f"train.labels.{i}"],
                    "masks": d[f"train.masks.{i}"]} for i in range(2)]
        params = [p for p in model.parameters() if p.requires_grad]
        sgd = torch.optim.SGD(params, lr=0.02, momentum=0.9, weight_decay=1e-4)

        def step():
            sgd.zero_grad()
            loss = sum(model(images, targets).values())
            loss.backward()
            sgd.step()
            return loss.item()
    step()  # warm-up, as the C++ side
    times = []
    for _ in range(args.iterations):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"seconds": min(times), "peak_rss_mb": peak}))


def run_ours(args, name, work):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run(
        [args.binary, "--preset=torchvision", f"--inputs={work}/inputs.pt",
         f"--weights={work}/weights.pt", f"--benchmark_filter=^{name}/", "--benchmark_format=json",
         "--benchmark_min_time=0"], env=env, check=True, capture_output=True, text=True).stdout
    b = json.loads(out)["benchmarks"][0]
    return b["real_time"] / 1000.0, b["peak_rss_mb"]


def run_theirs(args, case, work):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", case, "--state", f"{work}/model.pth",
         "--inputs", f"{work}/inputs.pt", "--threads", str(args.threads)],
        env=env, check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["seconds"], r["peak_rss_mb"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--binary", default=os.path.join(ROOT, "bazel-bin/benchmarks/model/model_benchmark"))
    parser.add_argument("--cases", default="inference,train_step")
    parser.add_argument("--worker", choices=["inference", "train_step"])
    parser.add_argument("--state")
    parser.add_argument("--inputs")
    parser.add_argument("--iterations", type=int, default=1)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    with tempfile.TemporaryDirectory() as work:
        torch.save(build_model().state_dict(), f"{work}/model.pth")
        subprocess.run([sys.executable, os.path.join(ROOT, "mrcnn/weights/convert_torchvision.py"),
                        f"{work}/model.pth", f"{work}/weights.pt"], check=True, capture_output=True)
        make_inputs(f"{work}/inputs.pt")
        print(f"threads {args.threads}, rounds {args.rounds} (fastest kept), torchvision preset")
        print(f"{'case':12s} {'ours s':>9s} {'tv s':>9s} {'tv/ours':>8s} {'ours MB':>9s} {'tv MB':>9s}")
        names = {"inference": "BM_Inference", "train_step": "BM_TrainStep"}
        for case in args.cases.split(","):
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(run_ours(args, names[case], work))
                theirs.append(run_theirs(args, case, work))
            o = min(ours)
            t = min(theirs)
            print(f"{case:12s} {o[0]:9.3f} {t[0]:9.3f} {t[0] / o[0]:8.2f} "
                  f"{max(x[1] for x in ours):9.0f} {max(x[1] for x in theirs):9.0f}", flush=True)


if __name__ == "__main__":
    main()
