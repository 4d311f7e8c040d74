#!/usr/bin/python3
"""Compares the tensors of two training checkpoints (torch.save dicts, read with Debian's python3-torch).

  compare_checkpoints.py A.pt B.pt [--base W.pt] [--atol 1e-5] [--max_update_diff 1e-3]

Every weight must agree within --atol (largest absolute difference); the optimizer state's relative
difference is printed. With --base (the weights both started from), the updates A - base and B - base must also
agree to --max_update_diff of the update's norm, and A must have moved from base, so that a broken
gradient cannot hide under a small learning rate. Prints the largest differences; exits 1 on failure.
"""
import argparse
import sys

import torch


def tensors(path):
    d = torch.load(path)
    return {k: v for k, v in d.items() if torch.is_tensor(v) and v.is_floating_point()
            and not k.startswith("trainer.")}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--base")
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--max_update_diff", type=float, default=1e-3)
    a = p.parse_args()
    ta, tb = tensors(a.a), tensors(a.b)
    if set(ta) != set(tb):
        print("different tensors:", sorted(set(ta) ^ set(tb))[:10])
        return 1
    worst, worst_key = 0.0, ""
    model_keys = [k for k in ta if not k.startswith("optimizer.")]
    for k in model_keys:
        d = (ta[k].double() - tb[k].double()).abs().max().item() if ta[k].numel() else 0.0
        if d > worst:
            worst, worst_key = d, k
    print(f"weights: largest absolute difference {worst:.3g} ({worst_key}) over {len(model_keys)} tensors")
    ok = worst <= a.atol
    # The optimizer's state (momentum: a sum of gradients) is reported, relative to its norm.
    num = den = 0.0
    for k in ta:
        if k.startswith("optimizer."):
            num += (ta[k].double() - tb[k].double()).pow(2).sum().item()
            den += ta[k].double().pow(2).sum().item()
    if den > 0:
        print(f"optimizer state: relative difference {(num ** 0.5) / (den ** 0.5):.3g}")
    if a.base:
        base = tensors(a.base)
        num = den = 0.0
        for k, v in base.items():
            if k in ta and not k.startswith("optimizer."):
                ua, ub = ta[k].double() - v.double(), tb[k].double() - v.double()
                num += (ua - ub).pow(2).sum().item()
                den += ua.pow(2).sum().item()
        rel = (num ** 0.5) / max(den ** 0.5, 1e-30)
        print(f"update norm {den ** 0.5:.4g}, relative difference of the updates {rel:.3g}")
        ok = ok and den ** 0.5 > 1e-3 and rel <= a.max_update_diff
    print("OK" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
