"""Resampled COCO evaluations and pycocotools' answers for them, for per_image_pycocotools_test.

A resample is a multiset of the evaluated images. pycocotools has no notion of a repeated image, so
each resample is built as a new dataset in which every copy of an image is a new image (new id, its
ground truth and detections copied, in their original order). New ids are given in order of the
original image id, copy after copy, which is the order ResampleAccumulator defines (eval/per_image.h).

For every case writes <out>/<name>/{gt.json, dt.json, config.json, resamples.json}; resamples.json
is a list of {"counts": [per evaluated image, ascending id], "stats": [12], "per_category_ap": {...}}.
Cases: the random cases of pycocotools_diff.py (by seed) and, with --case NAME GT DT IOU_TYPE, files.
Every draw comes from numpy's default_rng(seed) (cases) or --resample_seed.

    python3 tests/eval/bootstrap_pycocotools_diff.py --seeds 1-40 --resamples 4 --out /tmp/boot
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pycocotools_diff import evaluate, make_case  # noqa: E402


def duplicated(gt, results, ids, counts):
    """The dataset and results in which image ids[j] appears counts[j] times under new ids."""
    by_id = {img["id"]: img for img in gt["images"]}
    new_ids = {}  # original id -> list of new ids
    images = []
    next_id = 1
    for image_id, c in zip(ids, counts):
        new_ids[image_id] = []
        for _ in range(int(c)):
            img = dict(by_id[image_id])
            img["id"] = next_id
            images.append(img)
            new_ids[image_id].append(next_id)
            next_id += 1
    anns = []
    for ann in gt["annotations"]:
        for new_id in new_ids.get(ann["image_id"], []):
            a = dict(ann)
            a["image_id"] = new_id
            a["id"] = len(anns) + 1
            anns.append(a)
    dts = []
    for r in results:
        for new_id in new_ids.get(r["image_id"], []):
            d = dict(r)
            d["image_id"] = new_id
            dts.append(d)
    return {"images": images, "categories": gt["categories"], "annotations": anns}, dts


def resample_case(gt, results, config, rng, n):
    ids = sorted(config["img_ids"]) if config["img_ids"] else sorted(i["id"] for i in gt["images"])
    out = []
    for j in range(4 * n):
        if len(out) == n:
            break
        if j == 0:
            counts = np.ones(len(ids), np.int64)  # the evaluation itself
        else:
            counts = np.bincount(rng.integers(0, len(ids), len(ids)), minlength=len(ids))
        dgt, ddt = duplicated(gt, results, ids, counts)
        # loadRes reads every result as its first one is written (box or mask area): a resample whose
        # first result is of another kind would be evaluated under another rule, so it is drawn again.
        if results and ddt and ("bbox" in results[0]) != ("bbox" in ddt[0]):
            continue
        # Results of an image that was not drawn are gone; a category no longer present still counts
        # for catIds (pycocotools takes them from the categories list).
        dconfig = dict(config)
        dconfig["img_ids"] = []
        if not dgt["images"]:
            continue  # pycocotools cannot evaluate an empty image set
        expected = evaluate(dgt, ddt, dconfig)
        out.append({"counts": [int(c) for c in counts], "stats": expected["stats"],
                    "per_category_ap": expected["per_category_ap"]})
    return out


def write_case(d, gt, results, config, resamples):
    os.makedirs(d, exist_ok=True)
    for name, obj in (("gt", gt), ("dt", results), ("config", config), ("resamples", resamples)):
        with open(os.path.join(d, name + ".json"), "w") as f:
            json.dump(obj, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1-10", help="first-last")
    ap.add_argument("--resamples", type=int, default=4, help="per case, the first is all images once")
    ap.add_argument("--case", nargs=4, action="append", default=[],
                    metavar=("NAME", "GT", "DT", "IOU_TYPE"))
    ap.add_argument("--resample_seed", type=int, default=20)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    first, last = (int(v) for v in args.seeds.split("-"))
    names = []
    for seed in range(first, last + 1):
        gt, results, config = make_case(seed)
        rng = np.random.default_rng(10000 + seed)
        write_case(os.path.join(args.out, str(seed)), gt, results, config,
                   resample_case(gt, results, config, rng, args.resamples))
        names.append(str(seed))
    for name, gt_path, dt_path, iou_type in args.case:
        with open(gt_path) as f:
            gt = json.load(f)
        with open(dt_path) as f:
            results = json.load(f)
        config = {"iou_type": iou_type, "use_cats": 1, "max_dets": [1, 10, 100],
                  "ignore_unknown_categories": True, "img_ids": [], "cat_ids": []}
        rng = np.random.default_rng(args.resample_seed)
        write_case(os.path.join(args.out, name), gt, results, config,
                   resample_case(gt, results, config, rng, args.resamples))
        names.append(name)
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump(names, f)


if __name__ == "__main__":
    main()
