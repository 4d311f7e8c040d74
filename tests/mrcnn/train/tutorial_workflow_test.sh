#!/bin/bash
# The tutorial's workflow end to end on a dataset in its layout (JPEGImages/ + Segmentations/*.txt):
# train with checkpoints, resume with --init_with=last, evaluate the newest checkpoint, detect on
# one image. Budgets are tiny: this checks the plumbing, not the accuracy.
#   tutorial_workflow_test.sh TRAIN EVALUATE DETECT WRITE_TUTORIAL_SHAPES_PY
set -euo pipefail
train=$(realpath "$1") evaluate=$(realpath "$2") detect=$(realpath "$3") writer=$(realpath "$4")
tmp=${TEST_TMPDIR:-$(mktemp -d)}
data=$tmp/data logs=$tmp/logs
fail() { echo "FAIL: $*" >&2; exit 1; }

/usr/bin/python3 "$writer" "$data" --count 20 --seed 3
classes=1=square,2=circle,3=triangle
common=(--format=tutorial --dataset_dir="$data" --class_map="$classes" --threads=1)
"$train" "${common[@]}" --preset=shapes --set STEPS_PER_EPOCH=3 --set VALIDATION_STEPS=1 --set NUM_CLASSES=4 \
  --layers=all --epochs=2 --model_dir="$logs" --workers=1 > "$tmp/train1.txt" 2>&1 ||
  { cat "$tmp/train1.txt"; fail "training"; }
run=$(ls -d "$logs"/shapes* | head -1)
for f in config.json mask_rcnn_shapes_0001.pt mask_rcnn_shapes_0002.pt; do
  [[ -f $run/$f ]] || { ls -l "$run"; fail "no $f in the run folder"; }
done
grep -q "16 training and 4 validation images" "$tmp/train1.txt" || { cat "$tmp/train1.txt"; fail "split"; }

# find_last(): resume the newest checkpoint up to epoch 3.
"$train" "${common[@]}" --preset=shapes --set STEPS_PER_EPOCH=3 --set VALIDATION_STEPS=1 \
  --layers=all --epochs=3 --init_with=last --model_dir="$logs" --workers=1 > "$tmp/train2.txt" 2>&1 ||
  { cat "$tmp/train2.txt"; fail "resume"; }
[[ -f $run/mask_rcnn_shapes_0003.pt ]] || { cat "$tmp/train2.txt"; ls -l "$run"; fail "resume wrote no epoch 3"; }
[[ ! -f $run/mask_rcnn_shapes_0004.pt ]] || fail "resume trained past --epochs"

"$evaluate" "${common[@]}" --weights=last --model_dir="$logs" --detections_out="$tmp/dets.json" \
  > "$tmp/eval.txt" 2>&1 || { cat "$tmp/eval.txt"; fail "evaluate"; }
grep -q "mask_rcnn_shapes_0003.pt on 4 images" "$tmp/eval.txt" || { cat "$tmp/eval.txt"; fail "evaluate did not use the newest checkpoint on the 4 validation images"; }
[[ $(grep -c "Average Precision" "$tmp/eval.txt") == 12 ]] || { cat "$tmp/eval.txt"; fail "bbox and segm summaries"; }
/usr/bin/python3 -c "import json, sys; json.load(open(sys.argv[1]))" "$tmp/dets.json" || fail "detections JSON"

# --compare_precision: the same checkpoint in fp32 and bf16; its fp32 pass is the plain evaluation.
"$evaluate" "${common[@]}" --weights=last --model_dir="$logs" --compare_precision --detections_out="$tmp/cmp" --flush_denormal \
  > "$tmp/cmp.txt" 2>&1 || { cat "$tmp/cmp.txt"; fail "evaluate --compare_precision"; }
for p in fp32 bf16; do
  grep -q "PRECISION=$p: .*mask_rcnn_shapes_0003.pt on 4 images" "$tmp/cmp.txt" || { cat "$tmp/cmp.txt"; fail "no $p pass"; }
done
[[ $(grep -c "Average Precision" "$tmp/cmp.txt") == 24 ]] || { cat "$tmp/cmp.txt"; fail "two bbox and segm summaries"; }
grep -q "^fp32 against bf16: pairs [0-9]* (of [0-9]* / [0-9]* detections), box IoU mean" "$tmp/cmp.txt" ||
  { cat "$tmp/cmp.txt"; fail "agreement line"; }
/usr/bin/python3 -c "
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
assert a == b, 'the fp32 pass of --compare_precision differs from the plain evaluation'
" "$tmp/dets.json" "$tmp/cmp.fp32.json" || fail "fp32 detections"
[[ -s $tmp/cmp.bf16.json ]] || fail "no bf16 detections file"

# detect takes the run folder's config.json beside the weights.
image=$(ls "$data"/JPEGImages/*.png | head -1)
"$detect" --weights="$run/mask_rcnn_shapes_0003.pt" --image="$image" --out="$tmp/out.png" --json \
  --score_threshold=0 --class_names=BG,square,circle,triangle > "$tmp/detect.json" 2> "$tmp/detect.err" ||
  { cat "$tmp/detect.err"; fail "detect"; }
[[ -s $tmp/out.png ]] || fail "detect wrote no image"
/usr/bin/python3 -c "
import json, sys
d = json.load(open(sys.argv[1]))
dets = d['detections'] if isinstance(d, dict) else d
assert isinstance(dets, list), d
" "$tmp/detect.json" || { cat "$tmp/detect.json"; fail "detect --json output"; }

# A run folder whose config.json is broken: the error names the file and the reason.
mkdir -p "$tmp/broken"
cp "$run/mask_rcnn_shapes_0003.pt" "$tmp/broken/"
echo "{not json" > "$tmp/broken/config.json"
if "$detect" --weights="$tmp/broken/mask_rcnn_shapes_0003.pt" --image="$image" > /dev/null 2> "$tmp/broken.err"; then
  fail "detect accepted a broken config.json"
fi
grep -q "broken/config.json: not valid JSON" "$tmp/broken.err" || { cat "$tmp/broken.err"; fail "broken config.json message"; }
if "$evaluate" "${common[@]}" --weights="$tmp/broken/mask_rcnn_shapes_0003.pt" > /dev/null 2> "$tmp/broken2.err"; then
  fail "evaluate accepted a broken config.json"
fi
grep -q "broken/config.json: not valid JSON" "$tmp/broken2.err" || { cat "$tmp/broken2.err"; fail "evaluate's broken config.json message"; }

# Under `bazel run` the binaries start elsewhere; relative paths are taken from
# BUILD_WORKING_DIRECTORY, where the user typed them.
rel_run=${run#"$tmp/"}
(cd / && BUILD_WORKING_DIRECTORY="$tmp" "$train" --format=tutorial --dataset_dir=data --class_map="$classes" \
  --threads=1 --preset=shapes --set STEPS_PER_EPOCH=1 --set VALIDATION_STEPS=1 --layers=all --epochs=1 \
  --nococo_eval --model_dir=rel_logs --workers=1) > "$tmp/rel_train.txt" 2>&1 || { cat "$tmp/rel_train.txt"; fail "train with relative paths"; }
ls "$tmp"/rel_logs/shapes*/mask_rcnn_shapes_0001.pt > /dev/null || fail "relative --model_dir not under BUILD_WORKING_DIRECTORY"
(cd / && BUILD_WORKING_DIRECTORY="$tmp" "$detect" --weights="$rel_run/mask_rcnn_shapes_0003.pt" \
  --image="data/JPEGImages/$(basename "$image")" --out=rel_out.png) 2> "$tmp/rel_detect.err" ||
  { cat "$tmp/rel_detect.err"; fail "detect with relative paths"; }
[[ -s $tmp/rel_out.png ]] || fail "relative --out not under BUILD_WORKING_DIRECTORY"

# Resuming continues with the run's config.json: a config that differs is refused, naming the key with
# both values, and nothing is trained; without config flags the stored config is used.
if "$train" "${common[@]}" --preset=shapes --set STEPS_PER_EPOCH=3 --set VALIDATION_STEPS=1 \
    --set RPN_ANCHOR_STRIDE=2 --layers=all --epochs=4 --init_with=last --model_dir="$logs" --workers=1 \
    > "$tmp/resume_diff.txt" 2>&1; then
  fail "resume with another RPN_ANCHOR_STRIDE was accepted"
fi
grep -q "RPN_ANCHOR_STRIDE (run: 1, given: 2)" "$tmp/resume_diff.txt" || { cat "$tmp/resume_diff.txt"; fail "resume mismatch message"; }
[[ ! -f $run/mask_rcnn_shapes_0004.pt ]] || fail "a refused resume trained"
"$train" "${common[@]}" --layers=all --epochs=4 --init_with=last --model_dir="$logs" --workers=1 \
  --nococo_eval > "$tmp/resume_plain.txt" 2>&1 || { cat "$tmp/resume_plain.txt"; fail "resume without config flags"; }
[[ -f $run/mask_rcnn_shapes_0004.pt ]] || { cat "$tmp/resume_plain.txt"; fail "resume without config flags wrote no epoch 4"; }
grep -q '"STEPS_PER_EPOCH": 3' "$run/config.json" || fail "config.json changed"
# A run folder without config.json, or with a broken one, is an error naming the file.
mkdir -p "$tmp/noconf/shapes20260101T0000"
cp "$run/mask_rcnn_shapes_0004.pt" "$tmp/noconf/shapes20260101T0000/"
if "$train" "${common[@]}" --layers=all --epochs=5 --init_with=last --model_dir="$tmp/noconf" --workers=1 \
    > "$tmp/noconf.txt" 2>&1; then
  fail "resume without config.json was accepted"
fi
grep -q "shapes20260101T0000/config.json: missing" "$tmp/noconf.txt" || { cat "$tmp/noconf.txt"; fail "missing config.json message"; }
echo '{"NUM_CLASSES": 4, "NO_SUCH_KEY": 1}' > "$tmp/noconf/shapes20260101T0000/config.json"
if "$train" "${common[@]}" --layers=all --epochs=5 --init_with=last --model_dir="$tmp/noconf" --workers=1 \
    > "$tmp/badconf.txt" 2>&1; then
  fail "resume with an unknown key in config.json was accepted"
fi
grep -q "config.json: unknown config key 'NO_SUCH_KEY'" "$tmp/badconf.txt" || { cat "$tmp/badconf.txt"; fail "unknown key message"; }
# evaluate on weights without a config.json beside them needs --preset/--config, and says so.
mkdir -p "$tmp/bare"
cp "$run/mask_rcnn_shapes_0004.pt" "$tmp/bare/"
if "$evaluate" "${common[@]}" --weights="$tmp/bare/mask_rcnn_shapes_0004.pt" > /dev/null 2> "$tmp/bare.err"; then
  fail "evaluate without config.json used defaults"
fi
grep -q "no config.json beside it" "$tmp/bare.err" || { cat "$tmp/bare.err"; fail "evaluate's missing config.json message"; }
echo PASS
