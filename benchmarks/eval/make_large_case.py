"""A COCO-sized evaluation case for the speed benchmarks: by default 500 images of 640 x 480, 80
categories, about 3,500 ground-truth objects (polygons, some crowd RLE regions) and 20,000 detections
(each with a box and a compressed RLE mask): jittered copies of the objects, wrong-category and
background false positives. Everything random comes from --seed.

    python3 benchmarks/eval/make_large_case.py --out /tmp/large [--images 500 --detections 20000]

writes <out>/gt.json and <out>/dt.json.
"""
import argparse
import json
import os

import numpy as np
from pycocotools import mask as mu


def polygon(rng, cx, cy, radius):
    n = int(rng.integers(5, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = radius * rng.uniform(0.6, 1.0, n)
    return [round(float(v), 2) for p in zip(cx + rad * np.cos(angles), cy + rad * np.sin(angles))
            for v in p]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--detections", type=int, default=20000)
    ap.add_argument("--categories", type=int, default=80)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    h, w = 480, 640
    images = [{"id": i + 1, "height": h, "width": w, "file_name": "%06d.jpg" % (i + 1)}
              for i in range(args.images)]
    cats = [{"id": c + 1, "name": "c%d" % (c + 1)} for c in range(args.categories)]
    anns = []
    objects_per_image = 7
    for img in images:
        for _ in range(int(rng.poisson(objects_per_image))):
            cat = int(rng.integers(1, args.categories + 1))
            radius = float(np.exp(rng.uniform(np.log(4), np.log(160))))
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            if rng.random() < 0.01:
                m = np.zeros((h, w), np.uint8, order="F")
                x0, y0 = int(rng.integers(0, w - 60)), int(rng.integers(0, h - 60))
                m[y0:y0 + 60, x0:x0 + 60] = 1
                rle = mu.encode(m)
                seg = {"size": [h, w], "counts": rle["counts"].decode()}
                area = float(mu.area(rle))
                bbox = [float(v) for v in mu.toBbox(rle)]
                crowd = 1
            else:
                poly = polygon(rng, cx, cy, radius)
                rle = mu.merge(mu.frPyObjects([poly], h, w))
                seg = [poly]
                area = float(mu.area(rle))
                bbox = [float(v) for v in mu.toBbox(rle)]
                crowd = 0
            anns.append({"id": len(anns) + 1, "image_id": img["id"], "category_id": cat,
                         "segmentation": seg, "area": area, "bbox": bbox, "iscrowd": crowd})
    dts = []
    per_object = max(1, args.detections // (2 * max(1, len(anns))))
    for ann in anns:
        for _ in range(per_object + int(rng.integers(0, 2))):
            if len(dts) >= args.detections * 0.7:
                break
            jit = rng.normal(0, rng.choice([1.0, 4.0, 12.0]), 2)
            if isinstance(ann["segmentation"], list):
                poly = [v + jit[k % 2] for k, v in enumerate(ann["segmentation"][0])]
                rle = mu.merge(mu.frPyObjects([poly], h, w))
            else:
                rle = {"size": [h, w], "counts": ann["segmentation"]["counts"].encode()}
            cat = ann["category_id"] if rng.random() < 0.9 else int(rng.integers(1, args.categories + 1))
            dts.append({"image_id": ann["image_id"], "category_id": cat,
                        "bbox": [round(float(v), 2) for v in mu.toBbox(rle)],
                        "score": round(float(rng.uniform(0.05, 1.0)), 4),
                        "segmentation": {"size": [h, w], "counts": rle["counts"].decode()}})
    while len(dts) < args.detections:
        img = images[int(rng.integers(0, len(images)))]
        radius = float(np.exp(rng.uniform(np.log(4), np.log(120))))
        poly = polygon(rng, rng.uniform(0, w), rng.uniform(0, h), radius)
        rle = mu.merge(mu.frPyObjects([poly], h, w))
        dts.append({"image_id": img["id"], "category_id": int(rng.integers(1, args.categories + 1)),
                    "bbox": [round(float(v), 2) for v in mu.toBbox(rle)],
                    "score": round(float(rng.uniform(0.0, 0.6)), 4),
                    "segmentation": {"size": [h, w], "counts": rle["counts"].decode()}})
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "gt.json"), "w") as f:
        json.dump({"images": images, "categories": cats, "annotations": anns}, f)
    with open(os.path.join(args.out, "dt.json"), "w") as f:
        json.dump(dts, f)
    print("%d images, %d objects, %d detections" % (len(images), len(anns), len(dts)))


if __name__ == "__main__":
    main()
