#!/usr/bin/env bash
# //eval:coco_eval on the shared a_tiny case: the 12-line summary with pycocotools' numbers
# (expected_a_tiny.json: bbox AP 0.4716 -> "0.472", APl 1.000), --json output, and clear errors.
set -euo pipefail
tool="$1"
d=tests/testdata/coco_eval
out="$TEST_TMPDIR/out"

"$tool" --gt=$d/gt_a_tiny.json --results=$d/dt_a_tiny.json --iou_type=bbox \
  --ignore_unknown_categories --threads=2 --json="$TEST_TMPDIR/r.json" > "$out"
cat "$out"
[ "$(grep -c 'Average' "$out")" = 12 ] || { echo "expected 12 summary lines"; exit 1; }
grep -qF ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.472' "$out"
grep -qF ' Average Precision  (AP) @[ IoU=0.50      | area=   all | maxDets=100 ] = 0.497' "$out"
grep -qF ' Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.111' "$out"
grep -qF ' Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = 1.000' "$out"
grep -qF '"AP": 0.4715670317031703,' "$TEST_TMPDIR/r.json"
grep -q '"12": 0.0' "$TEST_TMPDIR/r.json"

"$tool" --gt=$d/gt_a_tiny.json --results=$d/dt_a_tiny.json --iou_type=segm \
  --ignore_unknown_categories --json=- > "$out"
grep -qF '"AP": 0.40025990099009906,' "$out"
grep -q '"iou_type": "segm"' "$out"

# Errors: exit status 1 and a message naming the file, the item and the reason.
if "$tool" --gt=$d/gt_a_tiny.json --results=$d/dt_a_tiny.json --iou_type=bbox 2> "$out"; then
  echo "unknown category accepted"; exit 1
fi
grep -qF "dt_a_tiny.json: result 15 (image_id 10): category_id 999 is not in the ground truth" "$out"
echo '[{"image_id": 10, "category_id": 1, "bbox": [1, 2, 3' > "$TEST_TMPDIR/bad.json"
if "$tool" --gt=$d/gt_a_tiny.json --results="$TEST_TMPDIR/bad.json" 2> "$out"; then
  echo "malformed JSON accepted"; exit 1
fi
grep -q "bad.json: malformed JSON" "$out"
echo '[{"image_id": 10, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 1e999}]' > "$TEST_TMPDIR/big.json"
if "$tool" --gt=$d/gt_a_tiny.json --results="$TEST_TMPDIR/big.json" 2> "$out"; then
  echo "overflowing score accepted"; exit 1
fi
grep -qF "big.json: [0].score: the number 1e999 overflows a double" "$out"
if "$tool" --gt=$d/gt_a_tiny.json --results=$d/dt_a_tiny.json --iou_type=keypoints 2> "$out"; then
  echo "keypoints accepted"; exit 1
fi
grep -q "unknown iou_type 'keypoints'" "$out"
echo PASS
