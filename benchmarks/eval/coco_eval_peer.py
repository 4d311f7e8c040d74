"""Peer of coco_eval_benchmark: pycocotools' COCOeval evaluate()+accumulate() on the same files.

Loading (COCO(), loadRes) is outside the timed region, as in the C++ benchmark; every repeat starts
from freshly loaded objects because evaluate() converts the annotations in place. Prints one JSON
object: {"bbox": {"min_s": ..., "median_s": ...}, "segm": {...}}.

    python3 benchmarks/eval/coco_eval_peer.py --gt GT.json --dt DT.json --repeats 3
"""
import argparse
import contextlib
import io
import json
import statistics
import time

from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gt", required=True)
    ap.add_argument("--dt", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iou_types", default="bbox,segm")
    args = ap.parse_args()
    with open(args.gt) as f:
        gt_json = f.read()
    with open(args.dt) as f:
        dt_json = f.read()
    out = {}
    for iou_type in args.iou_types.split(","):
        times = []
        stats = None
        for _ in range(args.repeats):
            with contextlib.redirect_stdout(io.StringIO()):
                gt = COCO()
                gt.dataset = json.loads(gt_json)
                gt.createIndex()
                dt = gt.loadRes(json.loads(dt_json))
                ev = COCOeval(gt, dt, iou_type)
                start = time.perf_counter()
                ev.evaluate()
                ev.accumulate()
                times.append(time.perf_counter() - start)
                ev.summarize()
            stats = [float(v) for v in ev.stats]
        out[iou_type] = {"min_s": min(times), "median_s": statistics.median(times), "stats": stats}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
