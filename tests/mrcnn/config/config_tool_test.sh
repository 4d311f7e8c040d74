#!/usr/bin/env bash
# End-to-end checks of config_tool: prints the effective config; rejects bad values naming key and reason.
set -u
tool="$1"
fails=0
check() {  # check NAME EXPECTED_EXIT EXPECTED_TEXT -- ARGS...
  local name="$1" want_rc="$2" want="$3"; shift 4
  local out rc
  out=$("$tool" "$@" 2>&1); rc=$?
  if [ "$rc" -ne "$want_rc" ] || ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL $name: exit $rc (want $want_rc), output:"; echo "$out"; fails=$((fails + 1))
  else
    echo "ok   $name"
  fi
}
check prints_table 0 "RPN_ANCHOR_STRIDE              2" -- --set RPN_ANCHOR_STRIDE=2
check space_form 0 "RPN_ANCHOR_SCALES              [16,32,64,128,256]" -- --set RPN_ANCHOR_SCALES=16,32,64,128,256
check json 0 '"MINI_MASK_SHAPE": [' -- --json --set 'MINI_MASK_SHAPE=(28,28)'
check preset 0 "BACKBONE                       resnet50" -- --preset=torchvision
cfg="${TEST_TMPDIR:-/tmp}/c.json"
echo '{"preset": "torchvision", "NUM_CLASSES": 3}' > "$cfg"
check file 0 "NUM_CLASSES                    3" -- --config="$cfg"
check bad_value 1 "RPN_ANCHOR_STRIDE: expected an integer, got 'abc'" -- --set RPN_ANCHOR_STRIDE=abc
check bad_range 1 "RPN_NMS_THRESHOLD: must be in [0, 1], got 1.5" -- --set RPN_NMS_THRESHOLD=1.5
check precision 0 "PRECISION                      bf16" -- --set PRECISION=bf16
check precision_default 0 "PRECISION                      fp32" -- --preset=torchvision
check bad_precision 1 "PRECISION: must be one of fp32, bf16; got 'half'" -- --set PRECISION=half
check bad_key 1 "unknown config key 'MINI_MASK'" -- --set MINI_MASK=1
echo '{"NUM_CLASSES": 3, "FOO": 1}' > "$cfg"
check bad_file_key 1 "$cfg: unknown config key 'FOO'" -- --config="$cfg"
check bad_arg 2 "unexpected argument 'extra'" -- extra
check bad_utf8 1 "NAME: not valid UTF-8 (byte 0xff at offset 0)" -- --set NAME=$'\xff'
check bad_name 1 "NAME: '../../x' cannot name a folder" -- --set NAME=../../x
[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
