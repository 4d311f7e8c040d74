"""Peer of datasets_benchmark: the same loading work done the usual Python way (PIL decode with EXIF,
polygon masks drawn with PIL, torch resize to 512 px square with padding, normalisation, random flip,
boxes from masks, 56x56 mini masks, batches of 2 through torch.utils.data.DataLoader with 1 or 2 worker
processes), on the same folder of 64 JPEGs, and the synthetic shapes at 128 px.

    /usr/bin/python3 benchmarks/datasets_benchmark_peer.py

Reads (or writes, when absent) $MRCNN_BENCH_DIR, default /tmp/mrcnn_datasets_bench, as the C++
benchmark does. Prints images per second for each case, named like the C++ benchmarks.
"""
import json
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageOps

BENCH_DIR = os.environ.get("MRCNN_BENCH_DIR", "/tmp/mrcnn_datasets_bench")
N_IMAGES = 64
MEAN = torch.tensor([123.7, 116.8, 103.9]).view(3, 1, 1)
STD = torch.tensor([1.0, 1.0, 1.0]).view(3, 1, 1)


def write_folder(root):
    """Same images and polygons as WriteFolder in datasets_benchmark.cc."""
    if os.path.exists(os.path.join(root, "Segmentations", "img_063.txt")):
        return
    os.makedirs(os.path.join(root, "JPEGImages"), exist_ok=True)
    os.makedirs(os.path.join(root, "Segmentations"), exist_ok=True)
    y, x = np.mgrid[0:480, 0:640]
    for i in range(N_IMAGES):
        bgr = np.stack([(x + i) % 256, (y * 2) % 256, (x + y) % 256], axis=-1).astype(np.uint8)
        img = Image.fromarray(bgr[:, :, ::-1].copy())
        draw = ImageDraw.Draw(img)
        label = []
        for k in range(3):
            px, py, s = 40 + (i * 37 + k * 180) % 480, 40 + (i * 23 + k * 110) % 320, 30 + (i + 7 * k) % 60
            poly = [(px, py), (px + 2 * s, py + s // 3), (px + s, py + 2 * s), (px - s // 2, py + s)]
            draw.polygon(poly, fill=(255 - 60 * k, 200, 40 * k))
            label.append({"category": str(40 + k), "type": "polygon", "points": [list(p) for p in poly]})
        img.save(os.path.join(root, "JPEGImages", "img_%03d.jpg" % i), quality=90)
        with open(os.path.join(root, "Segmentations", "img_%03d.txt" % i), "w") as f:
            json.dump(label, f)


def prepare(image, masks, side, flip):
    """image: [3, H, W] float 0-255; masks: [N, H, W] uint8. Square resize + pad, normalise, flip,
    boxes from masks, 56x56 mini masks."""
    _, h, w = image.shape
    scale = min(max(1.0, side / min(h, w)), side / max(h, w))
    nh, nw = round(h * scale), round(w * scale)
    if (nh, nw) != (h, w):
        image = F.interpolate(image[None], size=(nh, nw), mode="bilinear", align_corners=False)[0]
        masks = F.interpolate(masks[None].float(), size=(nh, nw), mode="nearest")[0].byte()
    top, left = (side - nh) // 2, (side - nw) // 2
    image = F.pad(image, (left, side - nw - left, top, side - nh - top))
    masks = F.pad(masks, (left, side - nw - left, top, side - nh - top))
    if flip:
        image = image.flip(-1)
        masks = masks.flip(-1)
    image = (image - MEAN) / STD
    boxes, minis = [], []
    for m in masks:
        ys, xs = torch.nonzero(m, as_tuple=True)
        if len(ys) == 0:
            continue
        x1, y1, x2, y2 = xs.min().item(), ys.min().item(), xs.max().item() + 1, ys.max().item() + 1
        boxes.append([x1, y1, x2, y2])
        crop = m[y1:y2, x1:x2].float()[None, None]
        minis.append((F.interpolate(crop, size=(56, 56), mode="bilinear", align_corners=False)[0, 0] > 0.5).byte())
    return image, torch.tensor(boxes, dtype=torch.float32), torch.stack(minis)


class FolderDataset(torch.utils.data.Dataset):
    def __init__(self, root, side):
        self.root, self.side = root, side
        self.names = sorted(f[:-4] for f in os.listdir(os.path.join(root, "JPEGImages")))

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        name = self.names[i]
        img = ImageOps.exif_transpose(Image.open(os.path.join(self.root, "JPEGImages", name + ".jpg"))).convert("RGB")
        with open(os.path.join(self.root, "Segmentations", name + ".txt")) as f:
            label = json.load(f)
        masks = []
        for inst in label:
            m = Image.new("L", img.size, 0)
            ImageDraw.Draw(m).polygon([tuple(p) for p in inst["points"]], fill=1)
            masks.append(torch.from_numpy(np.array(m)))
        image = torch.from_numpy(np.array(img)).permute(2, 0, 1).float()
        return prepare(image, torch.stack(masks), self.side, random.random() < 0.5)


class ShapesDataset(torch.utils.data.Dataset):
    """matterport's shapes: random background, 1-4 squares/circles/triangles drawn in order."""

    def __init__(self, count, side):
        self.count, self.side = count, side

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        rng = random.Random(i)
        s = self.side
        bg = tuple(rng.randint(0, 255) for _ in range(3))
        img = Image.new("RGB", (s, s), bg)
        draw = ImageDraw.Draw(img)
        masks = []
        for _ in range(rng.randint(1, 4)):
            shape = rng.choice(["square", "circle", "triangle"])
            colour = tuple(rng.randint(0, 255) for _ in range(3))
            x, y, r = rng.randint(16, s - 17), rng.randint(16, s - 17), rng.randint(8, s // 4)
            m = Image.new("L", (s, s), 0)
            md = ImageDraw.Draw(m)
            if shape == "square":
                xy = [x - r, y - r, x + r, y + r]
                draw.rectangle(xy, fill=colour)
                md.rectangle(xy, fill=1)
            elif shape == "circle":
                xy = [x - r, y - r, x + r, y + r]
                draw.ellipse(xy, fill=colour)
                md.ellipse(xy, fill=1)
            else:
                pts = [(x, y - r), (x - r * 0.866, y + r / 2), (x + r * 0.866, y + r / 2)]
                draw.polygon(pts, fill=colour)
                md.polygon(pts, fill=1)
            new = torch.from_numpy(np.array(m))
            masks = [old * (1 - new) for old in masks] + [new]  # later shapes occlude earlier ones
        image = torch.from_numpy(np.array(img)).permute(2, 0, 1).float()
        return prepare(image, torch.stack(masks), s, rng.random() < 0.5)


def collate(items):
    return torch.stack([it[0] for it in items]), [it[1] for it in items], [it[2] for it in items]


def worker_init(_):
    torch.set_num_threads(1)


def measure(name, dataset, batch_size, workers, epochs):
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers,
                                         collate_fn=collate, worker_init_fn=worker_init,
                                         persistent_workers=True, prefetch_factor=4)
    for _ in loader:  # warm-up epoch: worker start-up is not counted
        break
    start, images = time.perf_counter(), 0
    for _ in range(epochs):
        for batch in loader:
            images += batch[0].shape[0]
    rate = images / (time.perf_counter() - start)
    print("peer %-28s images_per_s=%.1f" % (name, rate))
    return rate


def main():
    torch.set_num_threads(1)
    write_folder(BENCH_DIR)
    for workers in (1, 2):
        measure("BM_Loader512/%d" % workers, FolderDataset(BENCH_DIR, 512), 2, workers, 2)
    for workers in (1, 2):
        measure("BM_LoaderShapes128/%d" % workers, ShapesDataset(256, 128), 4, workers, 2)


if __name__ == "__main__":
    main()
