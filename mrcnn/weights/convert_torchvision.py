#!/usr/bin/python3
"""Converts a torchvision checkpoint into a weight file that LibTorch (mrcnn::ReadTensorFile) reads.

LibTorch cannot unpickle a Python state dict (an OrderedDict in a .pth file), so this script, run with
Debian's python3-torch, loads the checkpoint and writes a plain {name: tensor} dict with torch.save.
Names are put in the spelling of torchvision 0.14's maskrcnn_resnet50_fpn, which our C++ modules use:

  old spelling (torchvision < 0.13 checkpoints)      new spelling (ours)
  backbone.fpn.inner_blocks.<i>.{weight,bias}      backbone.fpn.inner_blocks.<i>.0.{weight,bias}
  backbone.fpn.layer_blocks.<i>.{weight,bias}      backbone.fpn.layer_blocks.<i>.0.{weight,bias}
  rpn.head.conv.{weight,bias}                      rpn.head.conv.0.0.{weight,bias}
  roi_heads.mask_head.mask_fcn<k>.{weight,bias}    roi_heads.mask_head.<k-1>.0.{weight,bias}

Also accepted: a checkpoint dict holding the state dict under "model" or "state_dict" (torchvision's
reference training scripts), a "module." prefix (DistributedDataParallel), and an ImageNet ResNet
classification checkpoint (resnet50-*.pth: conv1.*, layer1.*, ..., fc.*), whose layers become
backbone.body.* and whose fc.* is dropped. BatchNorm's num_batches_tracked counters are dropped: they
do not change any output (frozen batch norm has none, trainable batch norm uses a fixed momentum).

Usage:
  /usr/bin/python3 mrcnn/weights/convert_torchvision.py maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth \
      maskrcnn_resnet50_fpn_coco.pt
"""
import argparse
import re
import sys

import torch

_RENAMES = [
    (re.compile(r"^backbone\.fpn\.(inner|layer)_blocks\.(\d+)\.(weight|bias)$"),
     lambda m: f"backbone.fpn.{m[1]}_blocks.{m[2]}.0.{m[3]}"),
    (re.compile(r"^rpn\.head\.conv\.(weight|bias)$"), lambda m: f"rpn.head.conv.0.0.{m[1]}"),
    (re.compile(r"^roi_heads\.mask_head\.mask_fcn(\d+)\.(weight|bias)$"),
     lambda m: f"roi_heads.mask_head.{int(m[1]) - 1}.0.{m[2]}"),
]


def new_spelling(name):
    """The name in torchvision 0.14's spelling (unchanged when it already is)."""
    for pattern, replace in _RENAMES:
        m = pattern.match(name)
        if m:
            return replace(m)
    return name


def unwrap(checkpoint, source):
    """The state dict inside a checkpoint object."""
    if isinstance(checkpoint, dict):
        for key in ("model", "state_dict"):
            if key in checkpoint and isinstance(checkpoint[key], dict):
                return checkpoint[key]
        return checkpoint
    if isinstance(checkpoint, torch.nn.Module):
        return checkpoint.state_dict()
    raise ValueError(f"{source}: expected a state dict, got {type(checkpoint).__name__}")


def convert(state_dict, source):
    """{name: tensor} in our spelling; raises ValueError naming the entry on bad input."""
    names = list(state_dict.keys())
    if names and all(n.startswith("module.") for n in names):
        state_dict = {n[len("module."):]: t for n, t in state_dict.items()}
    is_classifier = "conv1.weight" in state_dict and "layer1.0.conv1.weight" in state_dict
    out = {}
    for name, tensor in state_dict.items():
        if not isinstance(name, str):
            raise ValueError(f"{source}: key {name!r} is not a string")
        if not torch.is_tensor(tensor):
            raise ValueError(f"{source}: entry '{name}' is a {type(tensor).__name__}, not a tensor")
        if name.endswith("num_batches_tracked"):
            continue
        if is_classifier:
            if name.startswith("fc."):
                continue
            name = "backbone.body." + name
        target = new_spelling(name)
        if target in out:
            raise ValueError(f"{source}: '{name}' and another entry both map to '{target}'")
        out[target] = tensor.detach().cpu().contiguous()
    if not out:
        raise ValueError(f"{source}: no tensors found")
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("input", help="torchvision checkpoint (.pth)")
    parser.add_argument("output", help="weight file for the C++ model (.pt)")
    args = parser.parse_args(argv)
    try:
        checkpoint = torch.load(args.input, map_location="cpu")
        tensors = convert(unwrap(checkpoint, args.input), args.input)
    except (ValueError, OSError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    # A plain dict: LibTorch's unpickler cannot rebuild an OrderedDict.
    torch.save(dict(tensors), args.output)
    renamed = sum(1 for n in unwrap(checkpoint, args.input) if new_spelling(n) != n)
    print(f"wrote {len(tensors)} tensors to {args.output} ({renamed} renamed from the old spelling)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
