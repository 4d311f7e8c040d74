#!/usr/bin/python3
"""Writes the seed corpora under tests/fuzz/corpus/<target>/: small valid and near-valid inputs.

Run with Debian's python3 (it needs PIL for the image seeds): /usr/bin/python3 tests/fuzz/gen_seeds.py
The corpora are checked in; rerun this only to change them. Files the fuzzers find are not added here.
"""
import base64
import io
import json
import os
import sys

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
TESTDATA = os.path.join(HERE, "..", "testdata", "coco_eval")


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


def compressed(counts):
    """COCO's compressed counts string (the LEB128-like text pycocotools writes)."""
    out = []
    for i, x in enumerate(counts):
        if i > 2:
            x -= counts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if (c & 0x10) else (x != 0)
            if more:
                c |= 0x20
            out.append(chr(c + 48))
    return "".join(out)


def png_bytes(w, h):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (200, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


def jpeg_bytes(w, h):
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (0, 90, 0)).save(buf, "JPEG", quality=50)
    return buf.getvalue()


def tutorial():
    t = "tutorial_label_fuzzer"
    write(t, "two_instances.txt", '[{"category":"59","type":"polygon","points":[[1,1],[10,1],[10,8],[1,8]]},'
          '{"category":"40","points":[[2,2],[6,2],[4,7]]}]\n')
    write(t, "bad_instances.txt", '[{"category":61,"points":[[0,0],[16,0],[16,12]]},'
          '{"category":"51","type":"line","points":[[1,1],[2,2]]},'
          '{"category":"60","points":[[1,NaN],[2,2],[3,Infinity]]}]\n')
    write(t, "outside_and_bowtie.txt", '[{"category":"40","points":[[-5,-5],[30,2],[4,20],[20,20],[2,30]]},'
          '{"points":[[1,1]]},7]\n')
    write(t, "truncated.txt", '{"category":"40"')


def labelme():
    t = "labelme_fuzzer"
    write(t, "polygon_rect_circle.json", json.dumps({
        "version": "5.0.1", "flags": {}, "shapes": [
            {"label": "cat", "points": [[1, 1], [9, 1], [9, 9]], "group_id": None, "shape_type": "polygon"},
            {"label": "dog", "points": [[2, 2], [8, 6]], "group_id": 1, "shape_type": "rectangle"},
            {"label": "dog", "points": [[12, 6], [14, 6]], "group_id": 1, "shape_type": "circle"},
            {"label": "__ignore__", "points": [[0, 0], [3, 0], [3, 3]], "shape_type": "polygon"},
            {"label": "cat", "points": [[0, 0], [1, 1]], "shape_type": "line"}],
        "imagePath": "img.png", "imageData": None, "imageHeight": 12, "imageWidth": 16}))
    write(t, "embedded_png.json", json.dumps({
        "shapes": [{"label": "a", "points": [[0, 0], [5, 0], [5, 3]], "shape_type": "polygon"}],
        "imagePath": "..\\missing\\x.jpg", "imageData": base64.b64encode(png_bytes(6, 4)).decode(),
        "imageHeight": 4, "imageWidth": 7}))
    write(t, "bad_image_data.json", '{"shapes":[{"label":"a","points":[[0,0],[5,0]],"shape_type":"rectangle"}],'
          '"imagePath":"","imageData":"iVBORw0KGgo="}\n')
    write(t, "not_labelme.json", '{"shapes":"none"}\n')


def image_header():
    t = "image_header_fuzzer"
    jpg, png = jpeg_bytes(5, 3), png_bytes(6, 4)
    write(t, "plain.jpg", jpg)
    # EXIF orientation 6 (turned 90 degrees): a little-endian TIFF header and a one-entry IFD.
    le = lambda v, n: v.to_bytes(n, "little")
    exif = b"Exif\x00\x00II*\x00" + le(8, 4) + le(1, 2) + le(0x0112, 2) + le(3, 2) + le(1, 4) + le(6, 2) + \
        b"\x00\x00" + le(0, 4)
    write(t, "exif_rotated.jpg", jpg[:2] + b"\xff\xe1" + (len(exif) + 2).to_bytes(2, "big") + exif + jpg[2:])
    write(t, "small.png", png)
    write(t, "truncated.png", png[:40])


def coco_dataset():
    t = "coco_dataset_fuzzer"  # the harness puts img.png (16x12) beside annotations.json
    write(t, "polygon_and_rles.json", json.dumps({
        "images": [{"id": 1, "file_name": "img.png", "width": 16, "height": 12},
                   {"id": 2, "file_name": "missing.jpg"}],
        "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 10, 1, 10, 8, 1, 8]], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 3, "iscrowd": 1,
             "segmentation": {"size": [12, 16], "counts": compressed([50, 4, 8, 4, 8, 4, 114])}},
            {"id": 3, "image_id": 1, "category_id": 3, "segmentation": {"size": [12, 16], "counts": [180, 12]}},
            {"id": 4, "image_id": 2, "category_id": 1, "segmentation": [[0, 0, 1, 1]]}]}))
    write(t, "bad_annotations.json", json.dumps({
        "images": [{"id": 1, "file_name": "img.png"}], "categories": [{"id": 1}],
        "annotations": [
            {"image_id": 1, "category_id": 1, "segmentation": [[1, "NaN", 5, 5, 2, 9]]},
            {"image_id": 1, "category_id": 2, "segmentation": []},
            {"image_id": 1, "category_id": 1, "segmentation": {"size": [3, 3], "counts": "9"}}]}))
    write(t, "python_literals.json",
          '{"images":[{"id":1,"file_name":"img.png"}],"categories":[{"id":1}],"annotations":'
          '[{"image_id":1,"category_id":1,"segmentation":[[1,1,Infinity,2,NaN,3,-Infinity,4]]}]}\n')


def coco_gt():
    t = "coco_gt_fuzzer"
    write(t, "polygons_and_rles.json", json.dumps({
        "images": [{"id": 1, "height": 10, "width": 12, "file_name": "a.jpg"}, {"id": 2, "height": 6, "width": 5}],
        "categories": [{"id": 1, "name": "a"}, {"id": 2}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "area": 20.0, "bbox": [2, 2, 5, 4],
             "segmentation": [[2, 2, 7, 2, 7, 6, 2, 6], [8, 8, 9, 8, 9, 9]], "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 2, "area": 9, "bbox": [8, 5, 3, 3],
             "segmentation": {"size": [10, 12], "counts": [85, 3, 7, 3, 7, 3, 12]}, "iscrowd": 1},
            {"id": 3, "image_id": 2, "category_id": 2, "area": 4, "bbox": [1, 1, 2, 2],
             "segmentation": {"size": [6, 5], "counts": compressed([7, 2, 4, 2, 15])}, "iscrowd": True}]}))
    write(t, "zero_size.json", json.dumps({"images": [{"id": 1, "height": 0, "width": 3}], "categories": []}))
    write(t, "unknown_image.json", json.dumps({
        "images": [], "categories": [{"id": 1}],
        "annotations": [{"id": 1, "image_id": 9, "category_id": 1, "area": 1, "bbox": [0, 0, 1, 1]}]}))
    with open(os.path.join(TESTDATA, "gt_a_tiny.json"), "rb") as f:
        write(t, "a_tiny.json", f.read())


def coco_results():
    t = "coco_results_fuzzer"  # first byte: flags; against the harness's images 1 (10x12), 2 (6x5)
    res = lambda name, flag, doc: write(t, name, bytes([flag]) + json.dumps(doc).encode())
    res("boxes", 0, [{"image_id": 1, "category_id": 1, "bbox": [2, 2, 5, 4], "score": 0.9},
                     {"image_id": 1, "category_id": 2, "bbox": [8, 5, 2, 2], "score": 0.4},
                     {"image_id": 2, "category_id": 2, "bbox": [1, 1, 3, 3], "score": 0.8}])
    res("masks", 0, [{"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": {
                         "size": [10, 12], "counts": compressed([22, 4, 6, 4, 6, 4, 6, 4, 6, 4, 54])}},
                     {"image_id": 2, "category_id": 2, "score": 0.5,
                      "segmentation": {"size": [6, 5], "counts": [7, 2, 4, 2, 15]}}])
    res("unknown_category_ignored", 1, [{"image_id": 2, "category_id": 7, "bbox": [0, 0, 1, 1], "score": 1},
                                        {"image_id": 2, "category_id": 1, "bbox": [0, 0, 5, 6], "score": 0.2}])
    res("mixed_bad", 0, [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.1},
                         {"image_id": 1, "category_id": 1, "score": 0.3,
                          "segmentation": {"size": [10, 12], "counts": "0"}}])


def per_image():
    t = "per_image_fuzzer"  # first byte: the resample's salt; then a per-image file without its checksum
    import struct

    def pie(iou, rec, max_dets, areas, labels, img_ids, cat_ids, cells, version=1):
        b = b"MRCNNPIE" + struct.pack("<II", version, 1)
        b += struct.pack("<7Q", len(iou), len(rec), len(max_dets), len(areas), len(img_ids),
                         len(cat_ids), len(cells))
        b += struct.pack("<%dd" % len(iou), *iou) + struct.pack("<%dd" % len(rec), *rec)
        b += struct.pack("<%di" % len(max_dets), *max_dets)
        for lo, hi in areas:
            b += struct.pack("<2d", lo, hi)
        for label in labels:
            b += struct.pack("<Q", len(label)) + label.encode()
        b += struct.pack("<%dq" % len(img_ids), *img_ids) + struct.pack("<%dq" % len(cat_ids), *cat_ids)
        for k, i, counted, scores, flags in cells:
            b += struct.pack("<iiQ", k, i, len(scores)) + struct.pack("<%di" % len(counted), *counted)
            b += struct.pack("<%dd" % len(scores), *scores) + bytes(flags)
        return b

    # 2 IoU thresholds, 3 recall thresholds, maxDets 1, 10, 100, areas all and small, 3 images, 1 class.
    args = ([0.5, 0.75], [0.0, 0.5, 1.0], [1, 10, 100], [(0, 1e10), (0, 1024)], ["all", "small"],
            [4, 9, 11], [1])
    cells = [(0, 0, [1, 0], [0.9, 0.4], [1, 0, 1, 0, 3, 2, 3, 2]),
             (0, 2, [2, 1], [0.7], [1, 0, 2, 2])]
    write(t, "valid", bytes([1]) + pie(*args, cells))
    write(t, "ties_across_images", bytes([2]) + pie(*args, [(0, 0, [1, 1], [0.5], [1, 0, 1, 0]),
                                                            (0, 1, [1, 0], [0.5], [0, 0, 2, 2])]))
    write(t, "truncated", bytes([0]) + pie(*args, cells)[:90])
    write(t, "bad_flag", bytes([0]) + pie(*args, [(0, 0, [1, 0], [0.9], [7, 0, 1, 0])]))
    write(t, "cells_out_of_order", bytes([0]) + pie(*args, list(reversed(cells))))
    write(t, "version_2", bytes([0]) + pie(*args, cells, version=2))
    # Findings of the first sessions, fixed: a ground-truth count near 2^31 (a loop as long as the
    # count, ending in an int overflow) and a recall threshold of 1e300 (which hung the first fix).
    write(t, "regression_huge_gt_count", bytes([1]) + pie(*args, [(0, 0, [2147483647, 0], [0.9], [1, 0, 1, 0])]))
    write(t, "regression_huge_recall_threshold",
          bytes([1]) + pie(args[0], [0.0, 1e300], *args[2:], cells))


def rle():
    t = "rle_fuzzer"  # two bytes of size (h, w), then the counts string
    seed = lambda name, h, w, s: write(t, name, bytes([h, w]) + s.encode())
    seed("box_10x12", 10, 12, compressed([85, 3, 7, 3, 7, 3, 12]))
    seed("negative_delta_6x5", 6, 5, compressed([7, 4, 2, 2, 15]))
    seed("empty_0x0", 0, 0, "")
    seed("all_ones_4x4", 4, 4, compressed([0, 16]))
    seed("bad_char_3x3", 3, 3, "1 8")
    seed("truncated_3x3", 3, 3, compressed([4, 5]) + "h")
    with open(os.path.join(TESTDATA, "rle_cases.json")) as f:
        masks = json.load(f)["masks"]
    picked = [m for m in masks if max(m["size"]) < 64 and len(m["counts"]) > 6][:3]
    for i, m in enumerate(picked):
        seed("pycocotools_%d" % i, m["size"][0], m["size"][1], m["counts"])


def sweep_spec():
    t = "sweep_spec_fuzzer"
    write(t, "grid.json", json.dumps({
        "name": "stride_vs_minimask", "preset": "shapes", "base": {"STEPS_PER_EPOCH": 10},
        "params": {"RPN_ANCHOR_STRIDE": [1, 2], "USE_MINI_MASK": [False, True]}, "seeds": 2, "seed": 3,
        "trainer": {"epochs": 2, "layers": "heads", "coco_eval": False}}))
    write(t, "random.json", json.dumps({
        "name": "lr", "search": "random", "trials": 4, "seed": 7,
        "params": {"LEARNING_RATE": {"min": 1e-4, "max": 1e-2, "scale": "log"},
                   "TRAIN_ROIS_PER_IMAGE": {"min": 16, "max": 64, "type": "int"},
                   "OPTIMIZER": ["sgd", "adamw"]}}))
    write(t, "asha.json", json.dumps({
        "name": "sched", "params": {"IMAGES_PER_GPU": [1, 2, 4]}, "trainer": {"epochs": 8},
        "scheduler": {"type": "asha", "metric": "segm_AP", "min_epochs": 1, "max_epochs": 8, "eta": 2}}))
    write(t, "bad.json", '{"name":"x","params":{"SEED":[1]},"search":"grid","unknown":1}\n')


def config_json():
    t = "config_json_fuzzer"
    write(t, "shapes_overrides.json", json.dumps({
        "preset": "shapes", "RPN_ANCHOR_SCALES": [8, 16, 32, 64, 128], "MINI_MASK_SHAPE": [28, 28],
        "LOSS_WEIGHTS": {"mrcnn_mask_loss": 2.0}, "LEARNING_RATE_SCHEDULE": "step",
        "LEARNING_RATE_STEPS": [100, 200], "IMAGE_RESIZE_MODE": "pad64", "IMAGE_MIN_DIM": 128}))
    write(t, "torchvision.json", '{"preset": "torchvision", "NUM_CLASSES": 3, "ROI_ALIGN_ALIGNED": true}\n')
    write(t, "invalid.json", '{"NUM_CLASSES": 1, "BACKBONE_STRIDES": [4, 4], "MASK_POOL_SIZE": 7, '
          '"MASK_SHAPE": [28, 28], "POOL_SIZ": 7, "preset": 3}\n')
    write(t, "not_object.json", "[1, 2]\n")


def config_set():
    t = "config_set_fuzzer"  # one argument per line
    write(t, "sets.txt", "--set\nRPN_ANCHOR_SCALES=8,16,32,64,128\n--set=USE_MINI_MASK=false\n"
          "-set=MINI_MASK_SHAPE=(56,56)\n--set\nLOSS_WEIGHTS=rpn_class_loss=1,mrcnn_mask_loss:2\n--other=1\n")
    write(t, "bad_values.txt", "--set=NUM_CLASSES=two\n--set=RPN_ANCHOR_RATIOS=[0.5,\n--set=BATCH_SIZE=3\n"
          "--set=NAME=\"quoted\"\n--set=IMAGE_MAX_DIM=1e400\n--set\n")
    write(t, "positional.txt", "--set=SEED=3\n--\n--set=SEED=4\n")


def class_map():
    t = "class_map_fuzzer"  # the same bytes as a --class_map flag and as a file
    write(t, "flag.txt", "40=sign,51=sign_back,59=side_sign,60=side_sign_back,61=led")
    write(t, "names_only.txt", "cat, dog ,bird")
    write(t, "lines.txt", "# tutorial codes\n40 sign\n51=sign_back\n\n59\tside_sign  # comment\n")
    write(t, "object.json", '{"40": "sign", "51": "sign_back", "59": 3}')
    write(t, "pairs.json", '[["40", "sign"], [51, "sign_back"], ["40", "again"]]')


def main():
    for make in (tutorial, labelme, image_header, coco_dataset, coco_gt, coco_results, per_image, rle,
                 sweep_spec, config_json, config_set, class_map):
        make()
    return 0


if __name__ == "__main__":
    sys.exit(main())
