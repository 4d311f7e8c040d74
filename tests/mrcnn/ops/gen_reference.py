"""Generates the reference outputs of the ops tests with torchvision (Debian's python3-torchvision 0.14).

Run from the repository root:  /usr/bin/python3 tests/mrcnn/ops/gen_reference.py
Writes tests/testdata/ops/*.pt: torch.save'd dicts {name: tensor}, read in C++ with torch::pickle_load.
Each case stores its inputs, its parameters (0-d tensors) and torchvision's outputs. Seeded: reruns
give the same files.
"""
import math
import os

import torch
import torchvision
from torchvision.models.detection import _utils as det_utils
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.image_list import ImageList
from torchvision.models.detection.roi_heads import paste_masks_in_image, project_masks_on_boxes
from torchvision.ops import boxes as box_ops
from torchvision.ops import MultiScaleRoIAlign, roi_align

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "ops")


def save(name, d):
    d = {k: (v.contiguous() if isinstance(v, torch.Tensor) else torch.tensor(v)) for k, v in d.items()}
    path = os.path.join(OUT, name + ".pt")
    torch.save(d, path)
    print(path, os.path.getsize(path), "bytes,", len(d), "entries")


def random_boxes(g, n, size=100.0, max_wh=40.0, dtype=torch.float32):
    xy = torch.rand(n, 2, generator=g, dtype=torch.float64) * size
    wh = torch.rand(n, 2, generator=g, dtype=torch.float64) * max_wh
    return torch.cat([xy, xy + wh], 1).to(dtype)


def nms_cases():
    g = torch.Generator().manual_seed(1)
    d = {}
    cases = []
    # Random boxes, distinct scores.
    b = random_boxes(g, 300)
    cases.append(("random", b, torch.rand(300, generator=g), 0.5))
    cases.append(("random_07", b, torch.rand(300, generator=g), 0.7))
    # Many equal scores (ties must keep input order) and duplicate boxes.
    b = random_boxes(g, 200, size=50.0)
    b = torch.cat([b, b[:50]])
    s = (torch.rand(250, generator=g) * 4).floor() / 4
    cases.append(("ties", b, s, 0.3))
    cases.append(("all_equal_scores", b, torch.ones(250), 0.5))
    # Zero-area and inverted boxes mixed with normal ones.
    b = random_boxes(g, 60, size=30.0)
    b[:10, 2] = b[:10, 0]  # zero width
    b[10:20, 3] = b[10:20, 1] - 5  # inverted in y
    b[20:25] = b[20:25, [2, 3, 0, 1]]  # fully inverted
    cases.append(("degenerate", b, torch.rand(60, generator=g), 0.4))
    # Huge coordinates: IoU computed without an offset trick.
    b = random_boxes(g, 100, size=1e6, max_wh=2e5)
    cases.append(("huge", b, torch.rand(100, generator=g), 0.5))
    cases.append(("threshold_0", random_boxes(g, 50), torch.rand(50, generator=g), 0.0))
    cases.append(("threshold_1", random_boxes(g, 50), torch.rand(50, generator=g), 1.0))
    cases.append(("empty", torch.zeros(0, 4), torch.zeros(0), 0.5))
    cases.append(("single", torch.tensor([[1.0, 2.0, 3.0, 4.0]]), torch.tensor([0.5]), 0.5))
    b64 = random_boxes(g, 200, dtype=torch.float64)
    cases.append(("double", b64, torch.rand(200, generator=g, dtype=torch.float64), 0.6))
    for i, (name, b, s, t) in enumerate(cases):
        d[f"nms/{i}/boxes"] = b
        d[f"nms/{i}/scores"] = s.to(b.dtype)
        d[f"nms/{i}/threshold"] = torch.tensor(t, dtype=torch.float64)
        d[f"nms/{i}/keep"] = torchvision.ops.nms(b, s.to(b.dtype), t)
    d["nms/count"] = torch.tensor(len(cases))
    # Batched NMS: small (torchvision's coordinate trick), large (its per-class loop), huge coordinates
    # (compared with the per-class loop, which is what the trick is meant to equal).
    bcases = []
    b = random_boxes(g, 300, size=60.0)
    s = (torch.rand(300, generator=g) * 8).floor() / 8
    bcases.append(("small_ties", b, s, torch.randint(0, 5, (300,), generator=g), 0.5,
                   torchvision.ops.batched_nms))
    b = random_boxes(g, 1500, size=200.0)
    bcases.append(("large", b, torch.rand(1500, generator=g), torch.randint(0, 10, (1500,), generator=g),
                   0.5, torchvision.ops.batched_nms))
    b = random_boxes(g, 200, size=1e7, max_wh=3e6)
    bcases.append(("huge", b, torch.rand(200, generator=g), torch.randint(0, 4, (200,), generator=g), 0.3,
                   box_ops._batched_nms_vanilla))
    bcases.append(("empty", torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.int64), 0.5,
                   torchvision.ops.batched_nms))
    for i, (name, b, s, idx, t, fn) in enumerate(bcases):
        d[f"batched/{i}/boxes"] = b
        d[f"batched/{i}/scores"] = s
        d[f"batched/{i}/idxs"] = idx
        d[f"batched/{i}/threshold"] = torch.tensor(t, dtype=torch.float64)
        d[f"batched/{i}/keep"] = fn(b, s, idx, t)
    d["batched/count"] = torch.tensor(len(bcases))
    save("nms", d)


def box_cases():
    g = torch.Generator().manual_seed(2)
    d = {}
    a = random_boxes(g, 40)
    b = random_boxes(g, 30)
    b[:3, 2] = b[:3, 0]  # zero-area boxes
    b[3:5] = b[3:5, [2, 3, 0, 1]]  # inverted
    d["iou/a"], d["iou/b"], d["iou/out"] = a, b, box_ops.box_iou(a, b)
    for i, w in enumerate([(1.0, 1.0, 1.0, 1.0), (10.0, 10.0, 5.0, 5.0)]):
        coder = det_utils.BoxCoder(w)
        ref = random_boxes(g, 50)
        prop = random_boxes(g, 50) + 0.5
        d[f"coder/{i}/weights"] = torch.tensor(w, dtype=torch.float64)
        d[f"coder/{i}/reference"], d[f"coder/{i}/proposals"] = ref, prop
        d[f"coder/{i}/encoded"] = coder.encode_single(ref, prop)
        codes = torch.randn(50, 12, generator=g) * 2
        codes[:5, 2::4] = 50.0  # beyond the log(1000/16) clamp
        codes[5:10, 3::4] = -30.0
        d[f"coder/{i}/codes"] = codes
        d[f"coder/{i}/decoded"] = coder.decode(codes, [prop])
    boxes = random_boxes(g, 40, size=120.0) - 20.0
    d["clip/boxes"] = boxes
    d["clip/height"], d["clip/width"] = torch.tensor(70), torch.tensor(90)
    d["clip/out"] = box_ops.clip_boxes_to_image(boxes, (70, 90))
    small = random_boxes(g, 60, max_wh=3.0)
    small[:5] = small[:5, [2, 3, 0, 1]]
    d["small/boxes"], d["small/min_size"] = small, torch.tensor(1.0, dtype=torch.float64)
    d["small/keep"] = box_ops.remove_small_boxes(small, 1.0)
    save("boxes", d)


def anchor_cases():
    d = {}
    cases = [
        # (sizes per level, ratios, image (h, w), feature sizes)
        (((32,), (64,), (128,), (256,), (512,)), (0.5, 1.0, 2.0), (96, 128),
         [(24, 32), (12, 16), (6, 8), (3, 4), (2, 2)]),
        (((16, 24), (40, 60)), (0.25, 1.0, 3.0, 0.7), (50, 70), [(13, 18), (7, 9)]),
        (((8,),), (1.0,), (20, 20), [(5, 5)]),
    ]
    for i, (sizes, ratios, image, feats) in enumerate(cases):
        gen = AnchorGenerator(sizes, (ratios,) * len(sizes))
        images = ImageList(torch.zeros(1, 3, *image), [image])
        fmaps = [torch.zeros(1, 1, *f) for f in feats]
        anchors = gen(images, fmaps)[0]
        counts = [f[0] * f[1] * len(s) * len(ratios) for f, s in zip(feats, sizes)]
        d[f"{i}/num_levels"] = torch.tensor(len(sizes))
        for l, s in enumerate(sizes):
            d[f"{i}/sizes/{l}"] = torch.tensor(s, dtype=torch.float64)
            d[f"{i}/feature/{l}"] = torch.tensor(feats[l])
            d[f"{i}/anchors/{l}"] = anchors[sum(counts[:l]):sum(counts[:l + 1])]
        d[f"{i}/ratios"] = torch.tensor(ratios, dtype=torch.float64)
        d[f"{i}/image"] = torch.tensor(image)
    d["count"] = torch.tensor(len(cases))
    save("anchors", d)


def matcher_cases():
    g = torch.Generator().manual_seed(3)
    d = {}
    cases = []
    q = torch.rand(6, 80, generator=g)
    cases.append(q)
    q = (torch.rand(5, 60, generator=g) * 10).floor() / 10  # many ties
    q[2] = 0.0  # a gt without any overlap
    cases.append(q)
    a = random_boxes(g, 200, size=80.0)
    gt = random_boxes(g, 7, size=80.0)
    cases.append(box_ops.box_iou(gt, a))
    i = 0
    for q in cases:
        for allow in (False, True):
            for hi, lo in ((0.7, 0.3), (0.5, 0.5)):
                d[f"{i}/quality"], d[f"{i}/high"], d[f"{i}/low"] = q, torch.tensor(hi), torch.tensor(lo)
                d[f"{i}/allow_low"] = torch.tensor(allow)
                d[f"{i}/matches"] = det_utils.Matcher(hi, lo, allow)(q)
                i += 1
    d["count"] = torch.tensor(i)
    save("matcher", d)


def roi_align_cases():
    g = torch.Generator().manual_seed(4)
    d = {}
    x = torch.randn(2, 3, 12, 14, generator=g)
    rois = []
    for _ in range(24):
        bi = float(torch.randint(0, 2, (1,), generator=g))
        rois.append([bi] + random_boxes(g, 1, size=50.0, max_wh=30.0)[0].tolist())
    rois += [
        [0, 10.0, 10.0, 11.0, 11.0],  # 1x1 pixel
        [1, 0.0, 0.0, 0.0, 0.0],  # zero area at the origin
        [0, 20.0, 20.0, 20.0, 30.0],  # zero width
        [1, 30.0, 25.0, 10.0, 5.0],  # inverted
        [0, -20.0, -10.0, 15.0, 12.0],  # partly outside (top left)
        [1, 40.0, 30.0, 80.0, 70.0],  # partly outside (bottom right)
        [0, 100.0, 100.0, 140.0, 150.0],  # fully outside
        [1, -1e6, -1e6, 1e6, 1e6],  # huge (fixed sampling ratio only)
        [0, 55.0, 47.0, 56.0, 48.0],  # 1x1 at the far edge
    ]
    rois = torch.tensor(rois, dtype=torch.float32)
    cases = [
        (0.25, 5, 5, 2, False, True),
        (0.25, 7, 7, 2, True, True),
        (0.5, 3, 4, -1, False, False),
        (0.25, 4, 3, 0, True, False),
        (1.0 / 3.0, 2, 2, 3, False, True),
    ]
    for i, (scale, ph, pw, sr, aligned, with_huge) in enumerate(cases):
        r = rois if with_huge else torch.cat([rois[:-2], rois[-1:]])
        xi = x.clone().requires_grad_(True)
        out = roi_align(xi, r, (ph, pw), scale, sr, aligned)
        grad_out = torch.randn(out.shape, generator=g)
        out.backward(grad_out)
        for k, v in dict(input=x, rois=r, scale=torch.tensor(scale, dtype=torch.float64),
                         pooled_h=torch.tensor(ph), pooled_w=torch.tensor(pw),
                         sampling_ratio=torch.tensor(sr), aligned=torch.tensor(aligned),
                         output=out.detach(), grad_output=grad_out, grad_input=xi.grad).items():
            d[f"single/{i}/{k}"] = v
    d["single/count"] = torch.tensor(len(cases))
    # Multi-level (torchvision's MultiScaleRoIAlign): image 128x128 padded batch, P2..P5.
    feats = {f"p{l}": torch.randn(2, 2, 128 >> l, 128 >> l, generator=g) for l in (2, 3, 4, 5)}
    boxes = []
    for n in (9, 7):
        ctr = torch.rand(n, 2, generator=g) * 128
        side = torch.exp(torch.rand(n, 1, generator=g) * math.log(600 / 20)) * 20  # 20..600 px
        boxes.append(torch.cat([ctr - side / 2, ctr + side / 2], 1))
    image_sizes = [(128, 120), (100, 128)]
    for i, (out_size, sr) in enumerate(((7, 2), (14, -1))):
        pooler = MultiScaleRoIAlign(["p2", "p3", "p4", "p5"], out_size, sr)
        fi = {k: v.clone().requires_grad_(True) for k, v in feats.items()}
        out = pooler(fi, boxes, image_sizes)
        grad_out = torch.randn(out.shape, generator=g)
        out.backward(grad_out)
        d[f"multi/{i}/output"] = out.detach()
        d[f"multi/{i}/grad_output"] = grad_out
        d[f"multi/{i}/out_size"], d[f"multi/{i}/sampling_ratio"] = torch.tensor(out_size), torch.tensor(sr)
        for l in (2, 3, 4, 5):
            d[f"multi/{i}/grad/{l}"] = fi[f"p{l}"].grad
        d[f"multi/{i}/levels"] = pooler.map_levels(boxes)
    for l in (2, 3, 4, 5):
        d[f"multi/feature/{l}"] = feats[f"p{l}"]
    d["multi/boxes/0"], d["multi/boxes/1"] = boxes
    d["multi/image_sizes"] = torch.tensor(image_sizes)
    d["multi/count"] = torch.tensor(2)
    save("roi_align", d)


def mask_cases():
    g = torch.Generator().manual_seed(5)
    d = {}
    masks = torch.rand(5, 1, 28, 28, generator=g)
    boxes = torch.tensor([[5.0, 6.0, 30.0, 25.0], [-10.0, -5.0, 12.0, 14.0], [40.0, 20.0, 70.0, 52.0],
                          [10.2, 10.7, 11.1, 11.4], [20.5, 3.3, 48.9, 39.9]])
    d["paste/masks"], d["paste/boxes"] = masks, boxes
    d["paste/height"], d["paste/width"] = torch.tensor(40), torch.tensor(50)
    d["paste/out"] = paste_masks_in_image(masks, boxes, (40, 50), padding=1)
    gt = (torch.rand(3, 30, 40, generator=g) > 0.5).float()
    rois = random_boxes(g, 12, size=35.0, max_wh=20.0)
    rois[0] = torch.tensor([-5.0, -5.0, 10.0, 8.0])
    matched = torch.randint(0, 3, (12,), generator=g)
    d["targets/gt_masks"], d["targets/rois"], d["targets/matched"] = gt, rois, matched
    d["targets/out"] = project_masks_on_boxes(gt, rois, matched, 28)
    save("mask_ops", d)


def sampler_cases():
    # torchvision's sampler draws from the global generator; seeded with torch.manual_seed it must
    # equal ours drawing from a CPU generator with the same seed.
    g = torch.Generator().manual_seed(6)
    d = {}
    for i, (batch, frac, seed) in enumerate(((16, 0.25, 42), (64, 0.5, 7), (7, 0.33, 0))):
        labels = torch.randint(-1, 3, (45,), generator=g)
        torch.manual_seed(seed)
        pos, neg = det_utils.BalancedPositiveNegativeSampler(batch, frac)([labels])
        d[f"{i}/labels"], d[f"{i}/batch"], d[f"{i}/fraction"] = labels, torch.tensor(batch), torch.tensor(frac)
        d[f"{i}/seed"], d[f"{i}/positive"], d[f"{i}/negative"] = torch.tensor(seed), pos[0].bool(), neg[0].bool()
    d["count"] = torch.tensor(3)
    save("sampler", d)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    nms_cases()
    box_cases()
    anchor_cases()
    matcher_cases()
    roi_align_cases()
    mask_cases()
    sampler_cases()
