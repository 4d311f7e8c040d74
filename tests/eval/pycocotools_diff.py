"""Random COCO evaluation cases and pycocotools' answers for them, for coco_eval_pycocotools_test.

For each seed writes <out>/<seed>/{gt.json, dt.json, config.json, expected.json}: random images,
categories, polygon / RLE / crowd ground truth and detections (boxes and/or compressed RLE masks,
ties, empty masks, unknown categories, more than maxDets per image), evaluated by pycocotools'
COCOeval with the config's iouType, useCats, maxDets and sometimes image and category subsets. Everything
random comes from the seed.

    python3 tests/eval/pycocotools_diff.py --seeds 1-40 --out /tmp/diff
"""
import argparse
import contextlib
import io
import json
import os

import numpy as np
from pycocotools import mask as mu
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval


def polygon(rng, cx, cy, radius, h, w):
    n = int(rng.integers(3, 9))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = radius * rng.uniform(0.5, 1.0, n)
    xs, ys = cx + rad * np.cos(angles), cy + rad * np.sin(angles)
    style = rng.integers(0, 3)
    if style == 0:
        xs, ys = np.round(xs), np.round(ys)
    elif style == 1:
        xs, ys = np.round(xs, 1), np.round(ys, 1)
    xy = [float(v) for p in zip(xs, ys) for v in p]
    if rng.random() < 0.15:
        xy += xy[:2]  # closing vertex repeated, as many annotation tools write it
    return xy


def rect_mask(rng, h, w):
    m = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, 3))):
        y0, x0 = int(rng.integers(0, h)), int(rng.integers(0, w))
        m[y0:y0 + int(rng.integers(1, h // 2 + 2)), x0:x0 + int(rng.integers(1, w // 2 + 2))] = 1
    return m


def runs_of(m):
    runs, prev, n = [], 0, 0
    for v in m.flatten(order="F"):
        if v != prev:
            runs.append(n)
            n, prev = 0, v
        n += 1
    runs.append(n)
    return runs


def shoelace(xy):
    x, y = np.array(xy[0::2]), np.array(xy[1::2])
    return float(0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def make_case(seed):
    rng = np.random.default_rng(seed)
    images = []
    for j in range(int(rng.integers(1, 10))):
        images.append({"id": int(1000 - 7 * j), "height": int(rng.integers(16, 170)),
                       "width": int(rng.integers(16, 170)), "file_name": "%d.jpg" % j})
    cat_ids = [int(c) for c in rng.choice(np.arange(1, 30), int(rng.integers(1, 5)), replace=False)]
    categories = [{"id": c, "name": "c%d" % c} for c in cat_ids]
    anns, dts = [], []
    ties = rng.random() < 0.3
    mode = rng.choice(["box", "mask", "mask_some_boxes", "box_only"], p=[0.35, 0.35, 0.15, 0.15])
    for img in images:
        h, w = img["height"], img["width"]
        for _ in range(int(rng.integers(0, 9))):
            cat = int(rng.choice(cat_ids))
            ann = {"id": len(anns) + 1, "image_id": img["id"], "category_id": cat, "iscrowd": 0}
            r = rng.random()
            if r < 0.12:  # crowd region as RLE
                m = rect_mask(rng, h, w)
                rle = mu.encode(np.asfortranarray(m))
                if rng.random() < 0.5:
                    ann["segmentation"] = {"size": [h, w], "counts": runs_of(m)}
                else:
                    ann["segmentation"] = {"size": [h, w], "counts": rle["counts"].decode()}
                ann["iscrowd"] = 1
                ann["area"] = float(mu.area(rle))
                ann["bbox"] = [float(v) for v in mu.toBbox(rle)]
                polys = None
            else:
                radius = rng.uniform(1, min(h, w) / 2)
                cx, cy = rng.uniform(0, w), rng.uniform(0, h)
                polys = [polygon(rng, cx, cy, radius, h, w)]
                if rng.random() < 0.15:
                    polys.append(polygon(rng, rng.uniform(0, w), rng.uniform(0, h), radius / 2, h, w))
                ann["segmentation"] = polys
                xs = [v for p in polys for v in p[0::2]]
                ys = [v for p in polys for v in p[1::2]]
                ann["bbox"] = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
                if rng.random() < 0.5:
                    ann["area"] = sum(shoelace(p) for p in polys)
                else:
                    ann["area"] = float(mu.area(mu.merge(mu.frPyObjects(polys, h, w))))
            anns.append(ann)
            # Detections near this object.
            for _ in range(int(rng.choice([0, 1, 1, 2, 3]))):
                jit = rng.normal(0, rng.choice([0.5, 2, 6]), 4)
                b = ann["bbox"]
                box = [b[0] + jit[0], b[1] + jit[1], max(0.0, b[2] + jit[2]), max(0.0, b[3] + jit[3])]
                if polys is not None:
                    shifted = [[v + (jit[0] if k % 2 == 0 else jit[1]) for k, v in enumerate(p)]
                               for p in polys]
                    seg = mu.merge(mu.frPyObjects(shifted, h, w))
                else:
                    seg = mu.encode(np.asfortranarray(rect_mask(rng, h, w)))
                c = cat if rng.random() < 0.85 else int(rng.choice(cat_ids))
                dts.append((img["id"], c, box, seg))
        # False positives, some empty.
        for _ in range(int(rng.integers(0, 6))):
            if rng.random() < 0.2:
                m = np.zeros((h, w), np.uint8)
                box = [float(rng.uniform(0, w)), float(rng.uniform(0, h)), 0.0, 0.0]
            else:
                m = rect_mask(rng, h, w)
                box = [float(rng.uniform(-5, w)), float(rng.uniform(-5, h)),
                       float(rng.uniform(0, w / 2)), float(rng.uniform(0, h / 2))]
            dts.append((img["id"], int(rng.choice(cat_ids)), box, mu.encode(np.asfortranarray(m))))
        # Many detections on one image and category (beyond small maxDets).
        if rng.random() < 0.2:
            for _ in range(int(rng.integers(5, 20))):
                m = rect_mask(rng, h, w)
                box = [float(v) for v in mu.toBbox(mu.encode(np.asfortranarray(m)))]
                dts.append((img["id"], cat_ids[0], box, mu.encode(np.asfortranarray(m))))
    unknown = rng.random() < 0.15 and len(dts) > 0
    if unknown:
        i = dts[int(rng.integers(0, len(dts)))]
        dts.insert(int(rng.integers(0, len(dts))), (i[0], 999, i[2], i[3]))
    order = rng.permutation(len(dts))
    results = []
    for j in order:
        image_id, cat, box, seg = dts[j]
        score = float(rng.random())
        if ties:
            score = round(score, 1)
        r = {"image_id": image_id, "category_id": cat, "score": score}
        if mode in ("box", "box_only") or (mode == "mask_some_boxes" and results and rng.random() < 0.5):
            r["bbox"] = [float(v) for v in box]
        if mode != "box_only":
            r["segmentation"] = {"size": seg["size"], "counts": seg["counts"].decode()}
        results.append(r)
    if rng.random() < 0.08:
        results = []
    iou_type = "segm" if rng.random() < 0.5 else "bbox"
    config = {
        "iou_type": iou_type,
        "use_cats": 0 if rng.random() < 0.25 else 1,
        "max_dets": [1, 3, 5] if rng.random() < 0.2 else [1, 10, 100],
        "ignore_unknown_categories": bool(unknown),
        "img_ids": [],  # empty: all
        "cat_ids": [],
    }
    if rng.random() < 0.2:
        ids = [img["id"] for img in images]
        config["img_ids"] = [int(i) for i in rng.choice(ids, int(rng.integers(1, len(ids) + 1)),
                                                         replace=False)]
    if rng.random() < 0.2:
        config["cat_ids"] = [int(c) for c in rng.choice(cat_ids, int(rng.integers(1, len(cat_ids) + 1)),
                                                         replace=False)]
    gt = {"images": images, "categories": categories, "annotations": anns}
    return gt, results, config


def evaluate(gt_json, results, config):
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = json.loads(json.dumps(gt_json))
        gt.createIndex()
        if results:
            dt = gt.loadRes(json.loads(json.dumps(results)))
        else:  # loadRes cannot take an empty list; an empty result set is this
            dt = COCO()
            dt.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"],
                          "annotations": []}
            dt.createIndex()
        ev = COCOeval(gt, dt, config["iou_type"])
        ev.params.useCats = config["use_cats"]
        ev.params.maxDets = config["max_dets"]
        if config["img_ids"]:
            ev.params.imgIds = config["img_ids"]
        if config["cat_ids"]:
            ev.params.catIds = config["cat_ids"]
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    p = ev.eval["precision"]
    cat_ids = [int(c) for c in ev.params.catIds] if config["use_cats"] else [-1]
    per_cat = {}
    m100 = [i for i, m in enumerate(ev.params.maxDets) if m == 100]
    for k, c in enumerate(cat_ids):
        s = p[:, :, k, 0, m100[0]] if m100 else np.array([])
        s = s[s > -1]
        per_cat[str(c)] = float(np.mean(s)) if s.size else -1.0
    return {
        "stats": [float(v) for v in ev.stats],
        "per_category_ap": per_cat,
        "cat_ids": cat_ids,
        "precision_shape": list(p.shape),
        "precision": [float(v) for v in p.flatten()],
        "recall": [float(v) for v in ev.eval["recall"].flatten()],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1-10", help="first-last")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    first, last = (int(v) for v in args.seeds.split("-"))
    for seed in range(first, last + 1):
        gt, results, config = make_case(seed)
        expected = evaluate(gt, results, config)
        d = os.path.join(args.out, str(seed))
        os.makedirs(d, exist_ok=True)
        for name, obj in (("gt", gt), ("dt", results), ("config", config), ("expected", expected)):
            with open(os.path.join(d, name + ".json"), "w") as f:
                json.dump(obj, f)


if __name__ == "__main__":
    main()
