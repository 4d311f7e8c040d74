#!/usr/bin/python3
"""Peer of model_benchmark: times torchvision's maskrcnn_resnet50_fpn on the same weights, inputs and
thread count, in the same run, and prints the ratios torchvision / ours (above 1: ours is faster) and
the peak resident memory of each side.

Variants (--variants, default ours_fp32,tv_fp32): ours_fp32, ours_bf16 (PRECISION=bf16), tv_fp32,
and tv_bb_bf16 (torchvision with only its backbone + FPN under torch.autocast("cpu", torch.bfloat16):
its whole detector cannot run in bf16, its NMS has no bf16 kernel). Each round runs every variant
once, in turn; the table gives the median and the range (min-max) over the rounds, the timed steps'
CPU time (user, system) and minor page faults per step, the ratios of the medians and of the fastest
rounds, and for our side the convolutions' share of the step, their achieved TFLOP/s and the peak
of a 2048^3 bf16 / fp32 matrix product measured in the same process.

Run from the repository root with Debian's python3 (torch 1.13, torchvision 0.14):
    bazel build //benchmarks/model:model_benchmark
    /usr/bin/python3 benchmarks/model/model_peer.py [--threads 2] [--rounds 4] [--iterations 2]

Cases, --preset torchvision (maskrcnn_resnet50_fpn on both sides):
  inference   one 640x480 uint8 image, resized to 800x1066, eval mode, score threshold 0.05
  train_step  two 512x512 images (resized to 800x800) with 3 instances each: forward, backward, SGD
              (rate 1e-5, momentum 0.9, weight decay 1e-4 on both sides)
--preset shapes: the same cases at 128x128 with the shapes preset's model (narrow ResNet-18 with
trained batch norm, FPN 64), built in torchvision from its own modules.
Weights are seeded random (batch norm frozen, as with pretrained weights), converted once with
mrcnn/weights/convert_torchvision.py. Each case runs in fresh processes (one per side and round, so
the peak RSS belongs to that case), alternating sides; each process times --iterations steps after a
warm-up and reports their mean (this machine's speed drifts by up to 30% within an hour, so use
--rounds 3 or more for figures, and --iterations 10 for the shapes preset's short steps).
Our binaries link tcmalloc; torchvision runs with glibc's malloc as Python loads it, unless
--torchvision-tcmalloc preloads tcmalloc there too.
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


# The allocator our binaries link (third_party/BUILD.bazel); --torchvision-tcmalloc preloads it into
# torchvision's process too.
TCMALLOC = "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4"

# Our side's flags per preset. For "shapes" the knobs torchvision cannot express are set to what
# torchvision does (per-level proposals, RPN coder weights 1, full-size masks), so both run the same
# model.
OUR_FLAGS = {
    "torchvision": ["--preset=torchvision"],
    "shapes": ["--preset=shapes", "--set", "PROPOSAL_SELECTION=per_level", "--set",
               "RPN_BBOX_STD_DEV=1,1,1,1", "--set", "USE_MINI_MASK=false"],
}


def build_shapes_model():
    """torchvision's MaskRCNN with the shapes preset: ResNet-18 of base width 32 with trained batch
    norm, FPN 64, anchors 8..128, 128 px, heads of 256 / 64 channels, 4 classes."""
    from torchvision.models.detection import backbone_utils, faster_rcnn, mask_rcnn
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    backbone = ref.build_backbone("resnet18", 32, 64, trainable_bn=True)
    anchors = AnchorGenerator(((8,), (16,), (32,), (64,), (128,)), ((0.5, 1.0, 2.0),) * 5)
    return mask_rcnn.MaskRCNN(
        backbone, num_classes=None, min_size=128, max_size=128,
        image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
        rpn_anchor_generator=anchors, rpn_pre_nms_top_n_train=1000, rpn_pre_nms_top_n_test=500,
        rpn_post_nms_top_n_train=500, rpn_post_nms_top_n_test=250,
        box_batch_size_per_image=32, box_positive_fraction=0.33, box_detections_per_img=20,
        box_score_thresh=0.05, box_nms_thresh=0.5,
        box_head=faster_rcnn.TwoMLPHead(64 * 7 * 7, 256),
        box_predictor=faster_rcnn.FastRCNNPredictor(256, 4),
        mask_head=mask_rcnn.MaskRCNNHeads(64, [64] * 4, 1),
        mask_predictor=mask_rcnn.MaskRCNNPredictor(64, 64, 4))


def build_model(preset="torchvision", seed=0):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    if preset == "shapes":
        model = build_shapes_model()
        ref.randomize_batch_norm(model, g)
        return model
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=91)
    ref.randomize_batch_norm(model, g)
    ref.freeze_batch_norm(model)
    return model


def make_inputs(path, preset="torchvision"):
    g = torch.Generator().manual_seed(7)
    infer = (480, 640) if preset == "torchvision" else (128, 128)
    train = 512 if preset == "torchvision" else 128
    num_classes = 91 if preset == "torchvision" else 4
    d = {"infer.image": torch.randint(0, 256, (3,) + infer, generator=g, dtype=torch.uint8)}
    for i in range(2):
        d[f"train.image.{i}"] = torch.randint(0, 256, (3, train, train), generator=g, dtype=torch.uint8)
        boxes = (torch.tensor([[40.0, 60.0, 200.0, 260.0], [220.0, 100.0, 480.0, 400.0],
                               [10.0, 300.0, 150.0, 500.0]]) + 8 * i) * (train / 512)
        masks = torch.zeros(3, train, train, dtype=torch.uint8)
        margin = train // 50
        for k, b in enumerate(boxes.long().tolist()):
            masks[k, b[1] + margin:b[3] - margin, b[0] + margin:b[2] - margin] = 1
        d[f"train.boxes.{i}"] = boxes
        d[f"train.labels.{i}"] = (torch.tensor([1, 18, 3]) + i) % (num_classes - 1) + 1
        d[f"train.masks.{i}"] = masks
    torch.save(d, path)


def autocast_backbone(model):
    """Runs the backbone + FPN under bf16 autocast and hands fp32 features to the RPN and ROI heads."""
    forward = model.backbone.forward

    def bf16_forward(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            features = forward(x)
        return type(features)((k, v.float()) for k, v in features.items())
    model.backbone.forward = bf16_forward


def worker(args):
    """One case on torchvision's side; prints {"seconds", "peak_rss_mb", "user_s", "sys_s", "minor_faults"}."""
    torch.set_num_threads(args.threads)
    if args.flush_denormal and not torch.set_flush_denormal(True):
        sys.exit("--flush-denormal: this CPU cannot flush denormals")
    model = build_model(args.preset)
    model.load_state_dict(torch.load(args.state), strict=True)
    d = torch.load(args.inputs)
    if args.backbone_bf16:
        autocast_backbone(model)
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
        # The C++ side's settings; a small rate keeps the seeded random weights finite (at 0.02 the
        # loss is NaN after the warm-up step, and a step on NaN weights times other work).
        sgd = torch.optim.SGD(params, lr=1e-5, momentum=0.9, weight_decay=1e-4)

        def step():
            sgd.zero_grad()
            loss = sum(model(images, targets).values())
            loss.backward()
            sgd.step()
            return loss.item()
    step()  # warm-up, as the C++ side
    u0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    for _ in range(args.iterations):
        step()
    seconds = (time.perf_counter() - t0) / args.iterations  # the mean, as Google Benchmark reports
    u1 = resource.getrusage(resource.RUSAGE_SELF)
    # CPU time and minor page faults of the timed steps, per step (the C++ side reports the same).
    use = {"user_s": (u1.ru_utime - u0.ru_utime) / args.iterations,
           "sys_s": (u1.ru_stime - u0.ru_stime) / args.iterations,
           "minor_faults": (u1.ru_minflt - u0.ru_minflt) / args.iterations}
    print(json.dumps({"seconds": seconds, "peak_rss_mb": u1.ru_maxrss / 1024.0, **use}))


def run_ours(args, name, work, precision="fp32"):
    """Our side's (seconds, peak MB, counters) of one benchmark in a fresh process."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    out = subprocess.run(
        [args.binary] + OUR_FLAGS[args.preset] + ["--set", f"PRECISION={precision}", f"--inputs={work}/inputs.pt",
         f"--weights={work}/weights.pt", f"--benchmark_filter=^{name}/", "--benchmark_format=json",
         f"--iterations={args.iterations}"] + (["--flush_denormal"] if args.flush_denormal else []),
        env=env, check=True, capture_output=True, text=True).stdout
    b = json.loads(out)["benchmarks"][0]
    return b["real_time"] / 1000.0, b["peak_rss_mb"], b


def run_theirs(args, case, work, backbone_bf16=False):
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if args.torchvision_tcmalloc:
        env["LD_PRELOAD"] = TCMALLOC
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--worker", case, "--state", f"{work}/model.pth",
         "--inputs", f"{work}/inputs.pt", "--threads", str(args.threads), "--preset", args.preset,
         "--iterations", str(args.iterations)] + (["--backbone-bf16"] if backbone_bf16 else []) +
        (["--flush-denormal"] if args.flush_denormal else []),
        env=env, check=True, capture_output=True, text=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["seconds"], r["peak_rss_mb"], {k: r[k] for k in ("user_s", "sys_s", "minor_faults")}


VARIANTS = ("ours_fp32", "ours_bf16", "tv_fp32", "tv_bb_bf16")


def run_variant(args, variant, case, work):
    names = {"inference": "BM_Inference", "train_step": "BM_TrainStep"}
    if variant.startswith("ours_"):
        return run_ours(args, names[case], work, precision=variant[len("ours_"):])
    return run_theirs(args, case, work, backbone_bf16=variant == "tv_bb_bf16")


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2


def use_text(rs):
    """Medians over the rounds of the timed steps' CPU time and minor page faults, per step."""
    m = {k: median([r[2][k] for r in rs]) for k in ("user_s", "sys_s", "minor_faults")}
    return f"user {m['user_s']:.2f} s sys {m['sys_s']:.2f} s {m['minor_faults'] / 1e3:7.1f}k faults"


def print_precision_table(args, case, results):
    """results: variant -> list of (seconds, peak MB, counters) over the rounds."""
    med = {v: median([r[0] for r in rs]) for v, rs in results.items()}
    best = {v: min(r[0] for r in rs) for v, rs in results.items()}
    for v, rs in results.items():
        secs = [r[0] for r in rs]
        line = (f"{case:11s} {v:11s} {med[v]:8.3f} s  [{min(secs):.3f}-{max(secs):.3f}]  "
                f"{max(r[1] for r in rs):6.0f} MB  {use_text(rs)}")
        c = rs[-1][2]
        if "conv_tflops" in c:
            line += (f"  conv {median([r[2]['conv_share'] for r in rs]) * 100:3.0f}% of step, "
                     f"{median([r[2]['conv_tflops'] for r in rs]):.3f} TFLOP/s; matmul peak bf16 "
                     f"{median([r[2]['matmul_bf16_tflops'] for r in rs]):.3f} fp32 "
                     f"{median([r[2]['matmul_fp32_tflops'] for r in rs]):.3f} TFLOP/s")
        print(line, flush=True)
    pairs = [(n, d) for n, d in (("ours_fp32", "ours_bf16"), ("tv_fp32", "ours_bf16"),
                                 ("tv_bb_bf16", "ours_bf16"), ("tv_fp32", "ours_fp32"),
                                 ("tv_fp32", "tv_bb_bf16")) if n in med and d in med]
    # Medians are the figure on a quiet machine; on a loaded one the fastest rounds are the least
    # disturbed, so both are printed.
    for label, t in (("medians", med), ("fastest rounds", best)):
        ratios = [f"{n}/{d} {t[n] / t[d]:.2f}" for n, d in pairs]
        print(f"{case:11s} ratios of {label} (above 1: the second is faster): " + ", ".join(ratios),
              flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--binary", default=os.path.join(ROOT, "bazel-bin/benchmarks/model/model_benchmark"))
    parser.add_argument("--cases", default="inference,train_step")
    parser.add_argument("--preset", default="torchvision",
                        help="preset, or a comma list run one after the other: torchvision,shapes")
    parser.add_argument("--variants", default="",
                        help="comma list of " + ",".join(VARIANTS) + ": the precision axis (median and "
                             "range over --rounds); default: ours_fp32,tv_fp32")
    parser.add_argument("--backbone-bf16", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["inference", "train_step"])
    parser.add_argument("--state")
    parser.add_argument("--inputs")
    parser.add_argument("--iterations", type=int, default=1,
                        help="timed steps per process after one warm-up, averaged (both sides)")
    parser.add_argument("--flush-denormal", action="store_true",
                        help="flush denormal floats to zero on both sides (the seeded random weights' fp32 "
                             "gradients reach the denormal range, which some CPUs compute many times slower)")
    parser.add_argument("--torchvision-tcmalloc", action="store_true",
                        help="run torchvision with tcmalloc preloaded, the allocator our binaries link, "
                             "to compare the models under the same allocator")
    args = parser.parse_args()
    if args.iterations < 1 or args.rounds < 1:
        parser.error(f"--iterations and --rounds must be >= 1, got {args.iterations} and {args.rounds}")
    if args.worker:
        worker(args)
        return
    presets = args.preset.split(",")
    for p in presets:
        if p not in OUR_FLAGS:
            parser.error(f"--preset: unknown preset '{p}' (known: {', '.join(sorted(OUR_FLAGS))})")
    variants = [v for v in args.variants.split(",") if v]
    for v in variants:
        if v not in VARIANTS:
            parser.error(f"--variants: unknown variant '{v}' (known: {', '.join(VARIANTS)})")
    for p in presets:
        args.preset = p
        run_precision_axis(args, variants or ["ours_fp32", "tv_fp32"])


def prepare_workspace(args, work):
    """The preset's random torchvision model, its conversion for ours, and the shared inputs, in `work`."""
    torch.save(build_model(args.preset).state_dict(), f"{work}/model.pth")
    subprocess.run([sys.executable, os.path.join(ROOT, "mrcnn/weights/convert_torchvision.py"),
                    f"{work}/model.pth", f"{work}/weights.pt"], check=True, capture_output=True)
    make_inputs(f"{work}/inputs.pt", args.preset)


def run_precision_axis(args, variants):
    with tempfile.TemporaryDirectory() as work:
        prepare_workspace(args, work)
        print(f"threads {args.threads}, rounds {args.rounds} x {args.iterations} step(s), {args.preset} "
              f"preset, torchvision with {'tcmalloc' if args.torchvision_tcmalloc else 'glibc malloc'}, "
              f"denormals {'flushed' if args.flush_denormal else 'kept'}; "
              f"median [min-max] over the rounds", flush=True)
        for case in args.cases.split(","):
            results = {v: [] for v in variants}
            for _ in range(args.rounds):
                for v in variants:
                    results[v].append(run_variant(args, v, case, work))
            print_precision_table(args, case, results)


if __name__ == "__main__":
    main()
