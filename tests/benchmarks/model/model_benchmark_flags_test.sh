#!/usr/bin/env bash
# model_benchmark rejects bad flags and unreadable inputs with a message naming the flag or file, before
# it loads a model.
set -u
bin="$1"
fails=0
check() {  # check NAME EXPECTED_TEXT -- ARGS...  (expects exit status 1)
  local name="$1" want="$2"; shift 3
  local out rc
  out=$("$bin" "$@" 2>&1); rc=$?
  if [ "$rc" -ne 1 ] || ! grep -qF -- "$want" <<<"$out"; then
    echo "FAIL $name: exit $rc (want 1), output:"; echo "$out"; fails=$((fails + 1))
  else
    echo "ok   $name"
  fi
}
tmp="${TEST_TMPDIR:-/tmp}"
check iterations "--iterations must be >= 1, got 0" -- --iterations=0
/usr/bin/python3 -c "import torch; torch.save({'infer.image': torch.zeros(3, 8, 8), 'unused': torch.zeros(1)}, '$tmp/in.pt')"
check profile_path "cannot write --profile file $tmp/missing/p.json: No such file or directory" \
  -- --inputs="$tmp/in.pt" --profile="$tmp/missing/p.json"
check inputs_missing "$tmp/none.pt" -- --inputs="$tmp/none.pt"
echo "not a tensor file" > "$tmp/bad.pt"
check inputs_garbage "$tmp/bad.pt" -- --inputs="$tmp/bad.pt"
check config_value "RPN_ANCHOR_STRIDE" -- --set RPN_ANCHOR_STRIDE=abc
[ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
