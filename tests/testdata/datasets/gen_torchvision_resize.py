"""Reference outputs of torchvision's GeneralizedRCNNTransform resize, for tests/datasets/preprocess_test.

Run with Debian's python3 (torch 1.13, torchvision 0.14):
    /usr/bin/python3 tests/testdata/datasets/gen_torchvision_resize.py > tests/testdata/datasets/torchvision_resize.json
"""
import json

import torch
from torchvision.models.detection.transform import GeneralizedRCNNTransform


def ramp(h, w):
    # The same float image the C++ test builds: value (3x + 5y + 7c) mod 256, channels first.
    y = torch.arange(h, dtype=torch.float32)[:, None]
    x = torch.arange(w, dtype=torch.float32)[None, :]
    return torch.stack([torch.remainder(3 * x + 5 * y + 7 * c, 256.0) for c in range(3)])


def main():
    out = {"sizes": [], "images": []}
    t = GeneralizedRCNNTransform(800, 1333, [0.0] * 3, [1.0] * 3)
    t.eval()
    for h, w in [(480, 640), (333, 500), (1080, 1920), (50, 2000), (1020, 1920), (600, 600)]:
        img = torch.zeros(3, h, w)
        resized, _ = t.resize(img, None)
        out["sizes"].append({"in": [h, w], "out": list(resized.shape[-2:])})
    # Pixel values and nearest-neighbour masks on small images (min_size 8, max_size 20).
    small = GeneralizedRCNNTransform(8, 20, [0.0] * 3, [1.0] * 3)
    small.eval()
    for h, w in [(6, 9), (13, 7), (30, 11)]:
        img = ramp(h, w)
        mask = ((torch.arange(h)[:, None] * 2 + torch.arange(w)[None, :]) % 5 < 2).to(torch.uint8)[None]
        target = {"masks": mask, "boxes": torch.zeros(1, 4)}
        resized, tgt = small.resize(img, target)
        out["images"].append({
            "in": [h, w],
            "out": list(resized.shape[-2:]),
            "pixels": resized.permute(1, 2, 0).reshape(-1).tolist(),  # H x W x C
            "mask": tgt["masks"][0].reshape(-1).tolist(),
        })
    print(json.dumps(out))


if __name__ == "__main__":
    main()
