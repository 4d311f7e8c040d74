"""Writes rle_cases.json: pycocotools' own answers for RLE encode, area, toBbox, merge, iou and
polygon/box/uncompressed-RLE conversion on random inputs (seeded), for tests/eval/rle_test.

Run with the python3 that has pycocotools (the pyenv python3 on PATH):
    python3 tests/testdata/coco_eval/gen_rle_cases.py > tests/testdata/coco_eval/rle_cases.json
"""
import json
import sys

import numpy as np
from pycocotools import mask as mu

rng = np.random.default_rng(20261125)


def rand_mask(h, w):
    kind = rng.integers(0, 5)
    m = np.zeros((h, w), np.uint8)
    if kind == 0:
        return m  # empty
    if kind == 1:
        m[:] = 1  # full
        return m
    if kind == 2:
        return (rng.random((h, w)) < 0.3).astype(np.uint8)  # noise
    for _ in range(rng.integers(1, 4)):  # union of rectangles
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        m[y0:y0 + rng.integers(1, h + 1), x0:x0 + rng.integers(1, w + 1)] = 1
    return m


def enc(m):
    r = mu.encode(np.asfortranarray(m))
    return r["counts"].decode("ascii")


def coord(limit):
    kind = rng.integers(0, 4)
    if kind == 0:
        return float(rng.integers(-3, limit + 4))
    if kind == 1:
        return float(rng.integers(-3, limit + 4)) + 0.5
    if kind == 2:
        return float(rng.integers(0, limit * 10 + 1)) / 10.0
    return float(rng.uniform(-4, limit + 4))


def rand_polygon(h, w):
    n = int(rng.integers(3, 9))
    xy = []
    for _ in range(n):
        xy += [coord(w), coord(h)]
    r = rng.random()
    if r < 0.2:
        xy += xy[:2]  # closing vertex repeated
    elif r < 0.35:
        j = 2 * int(rng.integers(0, n))
        xy = xy[:j + 2] + xy[j:j + 2] + xy[j + 2:]  # a vertex repeated in place
    return xy


out = {"masks": [], "polygons": [], "boxes": [], "uncompressed": [], "merges": [], "mask_ious": [],
       "box_ious": []}

for _ in range(40):
    h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    m = rand_mask(h, w)
    r = mu.encode(np.asfortranarray(m))
    out["masks"].append({
        "size": [h, w],
        "rows": ["".join(str(int(v)) for v in row) for row in m],
        "counts": r["counts"].decode("ascii"),
        "area": int(mu.area(r)),
        "bbox": [float(v) for v in mu.toBbox(r)],
    })

for _ in range(60):
    h, w = int(rng.integers(5, 60)), int(rng.integers(5, 60))
    polys = [rand_polygon(h, w) for _ in range(int(rng.integers(1, 4)))]
    rles = mu.frPyObjects(polys, h, w)
    merged = mu.merge(rles)
    out["polygons"].append({
        "size": [h, w],
        "polygons": polys,
        "each": [r["counts"].decode("ascii") for r in rles],
        "merged": merged["counts"].decode("ascii"),
        "area": int(mu.area(merged)),
        "bbox": [float(v) for v in mu.toBbox(merged)],
    })

for _ in range(20):
    h, w = int(rng.integers(5, 60)), int(rng.integers(5, 60))
    box = [coord(w), coord(h), float(rng.uniform(0, w)), float(rng.uniform(0, h))]
    r = mu.frPyObjects(np.array([box], dtype=np.double), h, w)[0]
    out["boxes"].append({"size": [h, w], "box": box, "counts": r["counts"].decode("ascii")})

for _ in range(10):
    h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    m = rand_mask(h, w)
    runs, prev, n = [], 0, 0
    for v in m.flatten(order="F"):
        if v != prev:
            runs.append(n)
            n, prev = 0, v
        n += 1
    runs.append(n)
    r = mu.frPyObjects({"size": [h, w], "counts": [int(c) for c in runs]}, h, w)
    out["uncompressed"].append({"size": [h, w], "runs": [int(c) for c in runs],
                                "counts": r["counts"].decode("ascii")})

for _ in range(20):
    h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    ms = [rand_mask(h, w) for _ in range(int(rng.integers(2, 4)))]
    rles = [mu.encode(np.asfortranarray(m)) for m in ms]
    out["merges"].append({
        "size": [h, w],
        "inputs": [enc(m) for m in ms],
        "union": mu.merge(rles, intersect=0)["counts"].decode("ascii"),
        "intersection": mu.merge(rles, intersect=1)["counts"].decode("ascii"),
    })

for _ in range(20):
    h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
    dts = [rand_mask(h, w) for _ in range(int(rng.integers(1, 5)))]
    gts = [rand_mask(h, w) for _ in range(int(rng.integers(1, 5)))]
    crowd = [int(v) for v in rng.integers(0, 2, len(gts))]
    d = [mu.encode(np.asfortranarray(m)) for m in dts]
    g = [mu.encode(np.asfortranarray(m)) for m in gts]
    iou = mu.iou(d, g, crowd)
    out["mask_ious"].append({"size": [h, w], "dt": [enc(m) for m in dts], "gt": [enc(m) for m in gts],
                             "iscrowd": crowd, "iou": [[float(v) for v in row] for row in iou]})

for _ in range(20):
    def box():
        b = [coord(50), coord(50), float(rng.uniform(0, 30)), float(rng.uniform(0, 30))]
        if rng.random() < 0.1:
            b[2] = 0.0
        return b
    dts = [box() for _ in range(int(rng.integers(1, 5)))]
    gts = [box() for _ in range(int(rng.integers(1, 5)))]
    crowd = [int(v) for v in rng.integers(0, 2, len(gts))]
    iou = mu.iou(dts, gts, crowd)
    out["box_ious"].append({"dt": dts, "gt": gts, "iscrowd": crowd,
                            "iou": [[float(v) for v in row] for row in iou]})

json.dump(out, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
