"""Second peer of coco_eval_benchmark: faster-coco-eval (PyPI, version 1.8.0: a C++ core behind
pycocotools' interface) on the same files.

Two timings per IoU type, each the fastest and the median of --repeats:
  eval_s     evaluate()+accumulate() of COCOeval_faster from loaded COCO objects (loading outside the
             timed region, as in the pycocotools peer and our EvaluateAccumulate);
  process_s  a whole `python3 faster_coco_eval_peer.py --one` process: interpreter start, import,
             loading both files, evaluate, accumulate, summarize (what `eval/coco_eval` does as a
             process).
Prints one JSON object: {"version": ..., "bbox": {"eval_s": {...}, "process_s": {...}, "stats": [12]},
"segm": {...}}.

    python3 benchmarks/eval/faster_coco_eval_peer.py --gt GT.json --dt DT.json --repeats 3
"""
import argparse
import contextlib
import io
import json
import statistics
import subprocess
import sys
import time


def evaluate(gt_path, dt_path, iou_type):
    from faster_coco_eval import COCO, COCOeval_faster
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(gt_path)
        dt = gt.loadRes(dt_path)
        ev = COCOeval_faster(gt, dt, iou_type)
        start = time.perf_counter()
        ev.evaluate()
        ev.accumulate()
        elapsed = time.perf_counter() - start
        ev.summarize()
    return elapsed, [float(v) for v in ev.stats]


def summary(times):
    return {"min_s": min(times), "median_s": statistics.median(times)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gt", required=True)
    ap.add_argument("--dt", required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--iou_types", default="bbox,segm")
    ap.add_argument("--one", default="", help="internal: one whole evaluation of this IoU type")
    args = ap.parse_args()
    if args.one:
        evaluate(args.gt, args.dt, args.one)
        return
    import faster_coco_eval
    out = {"version": faster_coco_eval.__version__}
    for iou_type in args.iou_types.split(","):
        eval_times, process_times, stats = [], [], None
        for _ in range(args.repeats):
            elapsed, stats = evaluate(args.gt, args.dt, iou_type)
            eval_times.append(elapsed)
        for _ in range(args.repeats):
            start = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--gt", args.gt, "--dt", args.dt, "--one",
                            iou_type], check=True, stdout=subprocess.DEVNULL)
            process_times.append(time.perf_counter() - start)
        out[iou_type] = {"eval_s": summary(eval_times), "process_s": summary(process_times),
                         "stats": stats}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
