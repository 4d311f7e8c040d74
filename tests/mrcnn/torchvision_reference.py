#!/usr/bin/python3
"""Reference outputs from Debian's torchvision for the C++ model's parity tests.

Run with /usr/bin/python3 (python3-torch 1.13, python3-torchvision 0.14); the tests call it at test time
and write into their TEST_TMPDIR, so no large weight file is checked in. Every subcommand builds the
torchvision modules with seeded random weights (batch-norm statistics randomised too, so that frozen
batch norm is not the identity), and writes into --out:

  model.pth  the modules' state dict as torch.save writes it (an OrderedDict, like a user's checkpoint;
             the C++ side reads it only after mrcnn/weights/convert_torchvision.py)
  ref.pt     a plain dict of tensors: the inputs and torchvision's outputs

Subcommands:
  backbone   ResNet body + FPN (torchvision's BackboneWithFPN and LastLevelMaxPool) at any depth and
             base width (narrow widths use torchvision's own blocks and _make_layer), frozen or
             trainable batch norm (then the forward runs in train mode and the updated running
             statistics are recorded too).
  heads      RPNHead, TwoMLPHead, FastRCNNPredictor, MaskRCNNHeads, MaskRCNNPredictor on random input.
  maskrcnn   the full maskrcnn_resnet50_fpn (91 classes, small --min_size/--max_size, low
             --score_thresh so that random weights give detections); also writes model_old.pth in
             the pre-0.13 key spelling (checked here to load strictly into torchvision). ref.pt holds
             backbone features and RPN head outputs for a normalised input, and for two uint8 images
             of different sizes the padded batch, RPN proposals and the eval-mode detections.
  train      training-mode losses (and a few gradients) of maskrcnn_resnet50_fpn on two images with
             ellipse masks, with samplers that take every labelled anchor and ROI (no randomness).
"""
import argparse
import collections
import os
import re

import torch
from torch import nn
import torchvision
from torchvision.models import resnet as tv_resnet
from torchvision.models.detection import backbone_utils, faster_rcnn, mask_rcnn, rpn
from torchvision.ops import feature_pyramid_network as tv_fpn
from torchvision.ops import misc as misc_ops

LAYOUTS = {
    "resnet18": (tv_resnet.BasicBlock, [2, 2, 2, 2]),
    "resnet34": (tv_resnet.BasicBlock, [3, 4, 6, 3]),
    "resnet50": (tv_resnet.Bottleneck, [3, 4, 6, 3]),
    "resnet101": (tv_resnet.Bottleneck, [3, 4, 23, 3]),
}


class NarrowResNet(tv_resnet.ResNet):
    """torchvision's ResNet with `width` stem channels instead of 64 (the classifier left out)."""

    def __init__(self, block, layers, width, norm_layer):
        nn.Module.__init__(self)
        self._norm_layer = norm_layer
        self.inplanes = width
        self.dilation = 1
        self.groups = 1
        self.base_width = 64  # torchvision's per-group width factor: 64 means "width = planes"
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)


def randomize_batch_norm(module, generator):
    """Non-trivial statistics and affine parameters for every (frozen) batch norm."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm2d, misc_ops.FrozenBatchNorm2d)):
                c = m.weight.shape[0]
                m.weight.copy_(torch.rand(c, generator=generator) + 0.5)
                m.bias.copy_(torch.randn(c, generator=generator) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=generator) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=generator) + 0.5)


def freeze_batch_norm(module):
    """Replaces every BatchNorm2d by torchvision's FrozenBatchNorm2d with the same statistics, as
    maskrcnn_resnet50_fpn has when built with pretrained weights (what users run)."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            frozen = misc_ops.FrozenBatchNorm2d(child.num_features, eps=child.eps)
            for k in ("weight", "bias", "running_mean", "running_var"):
                getattr(frozen, k).copy_(getattr(child, k).detach())
            setattr(module, name, frozen)
        else:
            freeze_batch_norm(child)


def randomize_biases(module, generator):
    """Small random biases, so that tests notice a bias that is not loaded."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=generator) * 0.05)


def save(out, model_state, ref):
    os.makedirs(out, exist_ok=True)
    torch.save(model_state, os.path.join(out, "model.pth"))
    torch.save({k: v.detach().contiguous() for k, v in ref.items()}, os.path.join(out, "ref.pt"))


def prefixed(prefix, state):
    """A copy of the state under `prefix` (state_dict() shares storage with the live module)."""
    return collections.OrderedDict((prefix + k, v.clone()) for k, v in state.items())


def build_backbone(depth, width, fpn_channels, trainable_bn):
    norm = nn.BatchNorm2d if trainable_bn else misc_ops.FrozenBatchNorm2d
    block, layers = LAYOUTS[depth]
    body = NarrowResNet(block, layers, width, norm)
    # torchvision's ResNet init (its own __init__ was bypassed for the stem width).
    for m in body.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    stage2 = body.inplanes // 8
    in_channels = [stage2 * 2 ** i for i in range(4)]
    return backbone_utils.BackboneWithFPN(
        body, {"layer1": "0", "layer2": "1", "layer3": "2", "layer4": "3"}, in_channels,
        fpn_channels, extra_blocks=tv_fpn.LastLevelMaxPool())


def cmd_backbone(a):
    torch.manual_seed(a.seed)
    g = torch.Generator().manual_seed(a.seed + 1)
    model = build_backbone(a.depth, a.width, a.fpn, a.trainable_bn)
    randomize_batch_norm(model, g)
    randomize_biases(model, g)
    state = prefixed("backbone.", model.state_dict())
    images = torch.randn(a.batch, 3, a.height, a.image_width, generator=g)
    ref = {"images": images}
    if a.trainable_bn:
        model.train()
    else:
        model.eval()
    with torch.no_grad():
        features = model(images)
    for i, name in enumerate(["0", "1", "2", "3", "pool"]):
        ref[f"p{i + 2}"] = features[name]
    if a.trainable_bn:
        for k, v in model.state_dict().items():
            if "running_" in k:
                ref["after.backbone." + k] = v
    save(a.out, state, ref)


def cmd_heads(a):
    torch.manual_seed(a.seed)
    g = torch.Generator().manual_seed(a.seed + 1)
    c = a.channels
    rpn_head = rpn.RPNHead(c, a.anchors)
    box_head = faster_rcnn.TwoMLPHead(c * a.pool * a.pool, a.fc)
    box_predictor = faster_rcnn.FastRCNNPredictor(a.fc, a.classes)
    mask_head = mask_rcnn.MaskRCNNHeads(c, [a.mask_channels] * 4, 1)
    mask_predictor = mask_rcnn.MaskRCNNPredictor(a.mask_channels, a.mask_channels, a.classes)
    modules = {"rpn.head.": rpn_head, "roi_heads.box_head.": box_head,
               "roi_heads.box_predictor.": box_predictor, "roi_heads.mask_head.": mask_head,
               "roi_heads.mask_predictor.": mask_predictor}
    state = collections.OrderedDict()
    for prefix, m in modules.items():
        randomize_biases(m, g)
        m.eval()
        state.update(prefixed(prefix, m.state_dict()))
    features = [torch.randn(2, c, s, s + 2, generator=g) for s in (16, 8, 4)]
    box_in = torch.randn(a.rois, c, a.pool, a.pool, generator=g)
    mask_in = torch.randn(a.rois, c, a.mask_pool, a.mask_pool, generator=g)
    ref = {"box_features": box_in, "mask_features": mask_in}
    with torch.no_grad():
        objectness, deltas = rpn_head(features)
        rep = box_head(box_in)
        scores, box_deltas = box_predictor(rep)
        mask_logits = mask_predictor(mask_head(mask_in))
    for i, f in enumerate(features):
        ref[f"features.{i}"] = f
        ref[f"objectness.{i}"] = objectness[i]
        ref[f"deltas.{i}"] = deltas[i]
    ref.update({"box_representation": rep, "class_logits": scores, "box_deltas": box_deltas,
                "mask_logits": mask_logits})
    save(a.out, state, ref)


_OLD_SPELLING = [
    (re.compile(r"^(backbone\.fpn\.(?:inner|layer)_blocks\.\d+)\.0\.(weight|bias)$"), r"\1.\2"),
    (re.compile(r"^rpn\.head\.conv\.0\.0\.(weight|bias)$"), r"rpn.head.conv.\1"),
]


def old_spelling(name):
    m = re.match(r"^roi_heads\.mask_head\.(\d+)\.0\.(weight|bias)$", name)
    if m:
        return f"roi_heads.mask_head.mask_fcn{int(m[1]) + 1}.{m[2]}"
    for pattern, repl in _OLD_SPELLING:
        if pattern.match(name):
            return pattern.sub(repl, name)
    return name


def cmd_maskrcnn(a):
    torch.manual_seed(a.seed)
    g = torch.Generator().manual_seed(a.seed + 1)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=91, min_size=a.min_size,
        max_size=a.max_size, box_score_thresh=a.score_thresh)
    randomize_batch_norm(model, g)
    freeze_batch_norm(model)
    randomize_biases(model, g)
    with torch.no_grad():
        # Spread the objectness and class scores so that they are not all ties (random heads give
        # near-constant logits) and not all saturated either.
        model.rpn.head.cls_logits.weight.normal_(0, 0.1, generator=g)
        model.roi_heads.box_predictor.cls_score.weight.normal_(0, a.class_weight_std, generator=g)
    model.eval()
    state = prefixed("", model.state_dict())
    # A pre-0.13 checkpoint: old names, no version metadata. torchvision must load it strictly.
    old = collections.OrderedDict((old_spelling(k), v) for k, v in state.items())
    assert sum(k != old_spelling(k) for k in state) == 2 * (4 + 4 + 1 + 4), "old spelling changed"
    fresh = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=91)
    freeze_batch_norm(fresh)
    fresh.load_state_dict(old, strict=True)

    ref = {}
    # Backbone and RPN head on a normalised input of the given size.
    images = torch.randn(1, 3, a.height, a.image_width, generator=g)
    ref["images"] = images
    with torch.no_grad():
        features = model.backbone(images)
        objectness, deltas = model.rpn.head(list(features.values()))
    for i, name in enumerate(["0", "1", "2", "3", "pool"]):
        ref[f"p{i + 2}"] = features[name]
        ref[f"objectness.{i}"] = objectness[i]
        ref[f"deltas.{i}"] = deltas[i]

    # The whole model on two uint8 images of different sizes (ToTensor's x / 255 as the input).
    sizes = [(a.height + 32, a.image_width + 48), (a.height + 16, a.image_width - 8)]
    uint8_images = [torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8) for h, w in sizes]
    captured = {}
    model.rpn.register_forward_hook(lambda m, inp, out: captured.update(proposals=out[0]))
    model.transform.register_forward_hook(lambda m, inp, out: captured.update(batch=out[0]))
    with torch.no_grad():
        detections = model([im.float() / 255 for im in uint8_images])
    ref["batch"] = captured["batch"].tensors
    for i, (im, det) in enumerate(zip(uint8_images, detections)):
        ref[f"image.{i}"] = im
        ref[f"proposals.{i}"] = captured["proposals"][i]
        ref[f"image_size.{i}"] = torch.tensor(captured["batch"].image_sizes[i])
        ref[f"boxes.{i}"] = det["boxes"]
        ref[f"labels.{i}"] = det["labels"]
        ref[f"scores.{i}"] = det["scores"]
        ref[f"masks.{i}"] = det["masks"][:, 0]
    save(a.out, state, ref)
    torch.save(old, os.path.join(a.out, "model_old.pth"))


def cmd_train(a):
    """Training-mode losses of maskrcnn_resnet50_fpn with samplers large enough to take every labelled
    anchor and ROI, so that the losses do not depend on random sampling."""
    torch.manual_seed(a.seed)
    g = torch.Generator().manual_seed(a.seed + 1)
    model = torchvision.models.detection.maskrcnn_resnet50_fpn(
        weights=None, weights_backbone=None, num_classes=a.classes, min_size=a.min_size,
        max_size=a.max_size, rpn_batch_size_per_image=a.sample, box_batch_size_per_image=a.sample)
    randomize_batch_norm(model, g)
    freeze_batch_norm(model)
    randomize_biases(model, g)
    model.train()
    state = prefixed("", model.state_dict())
    sizes = [(96, 128), (80, 72)]
    images, targets, ref = [], [], {}
    for i, (h, w) in enumerate(sizes):
        im = torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
        n = 3
        x1 = torch.randint(0, w // 2, (n,), generator=g).float()
        y1 = torch.randint(0, h // 2, (n,), generator=g).float()
        bw = torch.randint(8, w // 2, (n,), generator=g).float()
        bh = torch.randint(8, h // 2, (n,), generator=g).float()
        boxes = torch.stack([x1, y1, x1 + bw, y1 + bh], 1)
        labels = torch.randint(1, a.classes, (n,), generator=g)
        masks = torch.zeros(n, h, w, dtype=torch.uint8)
        yy, xx = torch.meshgrid(torch.arange(h).float() + 0.5, torch.arange(w).float() + 0.5,
                                indexing="ij")
        for k in range(n):  # an ellipse inscribed in each box
            cx, cy = (boxes[k, 0] + boxes[k, 2]) / 2, (boxes[k, 1] + boxes[k, 3]) / 2
            rx, ry = bw[k] / 2, bh[k] / 2
            masks[k] = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).to(torch.uint8)
        images.append(im.float() / 255)
        targets.append({"boxes": boxes, "labels": labels, "masks": masks})
        ref.update({f"image.{i}": im, f"boxes.{i}": boxes, f"labels.{i}": labels, f"masks.{i}": masks})
    losses = model(images, targets)
    total = sum(losses.values())
    total.backward()
    for k, v in losses.items():
        ref[f"loss.{k}"] = v.detach()
    # Gradients of a few parameters through every stage.
    for name in ["backbone.body.layer4.2.conv3.weight", "backbone.fpn.layer_blocks.0.0.weight",
                 "rpn.head.cls_logits.weight", "roi_heads.box_head.fc6.bias",
                 "roi_heads.mask_predictor.mask_fcn_logits.weight"]:
        ref[f"grad.{name}"] = dict(model.named_parameters())[name].grad
    save(a.out, state, ref)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("backbone")
    b.add_argument("--depth", choices=sorted(LAYOUTS), default="resnet50")
    b.add_argument("--width", type=int, default=64)
    b.add_argument("--fpn", type=int, default=256)
    b.add_argument("--trainable_bn", type=int, default=0)
    b.add_argument("--batch", type=int, default=1)
    b.add_argument("--height", type=int, default=64)
    b.add_argument("--image_width", type=int, default=80)
    h = sub.add_parser("heads")
    h.add_argument("--channels", type=int, default=32)
    h.add_argument("--anchors", type=int, default=3)
    h.add_argument("--classes", type=int, default=5)
    h.add_argument("--fc", type=int, default=64)
    h.add_argument("--pool", type=int, default=7)
    h.add_argument("--mask_pool", type=int, default=14)
    h.add_argument("--mask_channels", type=int, default=16)
    h.add_argument("--rois", type=int, default=6)
    m = sub.add_parser("maskrcnn")
    m.add_argument("--height", type=int, default=64)
    m.add_argument("--image_width", type=int, default=80)
    m.add_argument("--min_size", type=int, default=128)
    m.add_argument("--max_size", type=int, default=192)
    m.add_argument("--score_thresh", type=float, default=0.02)
    m.add_argument("--class_weight_std", type=float, default=0.0006)
    t = sub.add_parser("train")
    t.add_argument("--classes", type=int, default=5)
    t.add_argument("--min_size", type=int, default=128)
    t.add_argument("--max_size", type=int, default=192)
    t.add_argument("--sample", type=int, default=100000)
    for p in (b, h, m, t):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--out", required=True)
    a = parser.parse_args()
    torch.set_num_threads(1)
    {"backbone": cmd_backbone, "heads": cmd_heads, "maskrcnn": cmd_maskrcnn, "train": cmd_train}[a.cmd](a)


if __name__ == "__main__":
    main()
