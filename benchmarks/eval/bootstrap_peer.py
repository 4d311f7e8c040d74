"""Peer of bootstrap_benchmark: what one bootstrap resample costs with pycocotools.

pycocotools has no notion of a repeated image, so a resample (a multiset of the images, drawn with
numpy's default_rng(--seed)) is built as a dataset in which every copy of an image is a new image
(tests/eval/bootstrap_pycocotools_diff.py's `duplicated`), then COCOeval's evaluate()+accumulate()
are timed on it; building and loading are outside the timed region. Prints one JSON object:
{"bbox": {"median_s": ..., "min_s": ..., "max_s": ...}, "segm": {...}}.

    python3 benchmarks/eval/bootstrap_peer.py --gt GT.json --dt DT.json --resamples 3
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "eval"))
from bootstrap_pycocotools_diff import duplicated  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gt", required=True)
    ap.add_argument("--dt", required=True)
    ap.add_argument("--resamples", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--iou_types", default="bbox,segm")
    args = ap.parse_args()
    with open(args.gt) as f:
        gt_json = json.load(f)
    with open(args.dt) as f:
        dt_json = json.load(f)
    ids = sorted(img["id"] for img in gt_json["images"])
    rng = np.random.default_rng(args.seed)
    draws = [np.bincount(rng.integers(0, len(ids), len(ids)), minlength=len(ids))
             for _ in range(args.resamples)]
    out = {}
    for iou_type in args.iou_types.split(","):
        times = []
        for counts in draws:
            dgt, ddt = duplicated(gt_json, dt_json, ids, counts)
            with contextlib.redirect_stdout(io.StringIO()):
                gt = COCO()
                gt.dataset = dgt
                gt.createIndex()
                dt = gt.loadRes(ddt)
                ev = COCOeval(gt, dt, iou_type)
                start = time.perf_counter()
                ev.evaluate()
                ev.accumulate()
                times.append(time.perf_counter() - start)
        out[iou_type] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
