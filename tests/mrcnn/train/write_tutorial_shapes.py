#!/usr/bin/python3
"""Writes synthetic shapes in the tutorial's layout: ROOT/JPEGImages/NAME.png and
ROOT/Segmentations/NAME.txt, each label file a JSON list of polygons with category codes
"1" (square), "2" (circle, a 24-gon) and "3" (triangle), as a labelling tool exports them.

  /usr/bin/python3 write_tutorial_shapes.py ROOT [--count 20] [--size 128] [--seed 0]
"""
import argparse
import json
import math
import os

import numpy as np
from PIL import Image, ImageDraw


def shape_polygon(kind, cx, cy, s):
    if kind == 0:
        return [(cx - s, cy - s), (cx + s, cy - s), (cx + s, cy + s), (cx - s, cy + s)]
    if kind == 1:
        return [(cx + s * math.cos(2 * math.pi * k / 24), cy + s * math.sin(2 * math.pi * k / 24))
                for k in range(24)]
    h = s * math.sin(math.pi / 3)
    return [(cx, cy - s), (cx - h, cy + s / 2), (cx + h, cy + s / 2)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("root")
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.RandomState(a.seed)
    os.makedirs(os.path.join(a.root, "JPEGImages"), exist_ok=True)
    os.makedirs(os.path.join(a.root, "Segmentations"), exist_ok=True)
    n = a.size
    for i in range(a.count):
        bg = tuple(int(v) for v in rng.randint(0, 256, 3))
        img = Image.new("RGB", (n, n), bg)
        draw = ImageDraw.Draw(img)
        labels = []
        # Shapes side by side in a row of cells, so none covers another.
        cells = rng.permutation(4)[: rng.randint(1, 4)]
        for c in cells:
            kind = int(rng.randint(0, 3))
            cx = (c % 2 + 0.5) * n / 2 + rng.randint(-n // 16, n // 16 + 1)
            cy = (c // 2 + 0.5) * n / 2 + rng.randint(-n // 16, n // 16 + 1)
            s = rng.randint(n // 12, n // 5)
            while True:
                color = tuple(int(v) for v in rng.randint(0, 256, 3))
                if sum(abs(x - y) for x, y in zip(color, bg)) >= 90:
                    break
            pts = shape_polygon(kind, cx, cy, s)
            draw.polygon(pts, fill=color)
            labels.append({"category": str(kind + 1), "type": "polygon",
                           "points": [[round(x, 1), round(y, 1)] for x, y in pts]})
        name = f"shapes_{i:04d}"
        img.save(os.path.join(a.root, "JPEGImages", name + ".png"))
        with open(os.path.join(a.root, "Segmentations", name + ".txt"), "w") as f:
            json.dump(labels, f)


if __name__ == "__main__":
    main()
