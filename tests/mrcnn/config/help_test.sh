#!/usr/bin/env bash
# --help of the workbench's binaries (mrcnn/config/help.h): the usage message comes first (what the
# program does, then its "Usage:" line), then the program's own flags; gflags', glog's and LibTorch's
# flags (--flagfile, --fromenv, --v, ...) appear only with --helpfull.
# Arguments: pairs of BINARY and "FIRST LINE|OWN_FLAG,OWN_FLAG,..." expectations.
set -uo pipefail
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

while [ $# -ge 2 ]; do
  bin=$1; first=${2%%|*}; own=${2#*|}; shift 2
  name=$(basename "$bin")
  out=$("$bin" --help 2>&1); rc=$?
  [ "$rc" -eq 0 ] || fail "$name --help exited $rc"
  line1=$(printf '%s\n' "$out" | head -n 1)
  [ "$line1" = "$first" ] || fail "$name --help: first line is '$line1', expected '$first'"
  printf '%s\n' "$out" | grep -q "^Usage: " || fail "$name --help: no 'Usage: ' line"
  for flag in flagfile fromenv tryfromenv helpfull v logtostderr caffe2_log_level; do
    if printf '%s\n' "$out" | grep -qE "^ +-${flag} \("; then fail "$name --help lists gflags'/glog's/LibTorch's --$flag"; fi
  done
  if printf '%s\n' "$out" | grep -qE "Flags from (/|\./)"; then fail "$name --help lists flags from outside the project"; fi
  IFS=, read -r -a flags <<<"$own"
  for flag in "${flags[@]}"; do
    printf '%s\n' "$out" | grep -qE "^ +-${flag} \(" || fail "$name --help does not list its own --$flag"
  done
  full=$("$bin" --helpfull 2>&1)
  printf '%s\n' "$full" | grep -qE "^ +-flagfile \(" || fail "$name --helpfull no longer lists gflags' --flagfile"
  printf '%s\n' "$full" | grep -qE "^ +-${flags[0]} \(" || fail "$name --helpfull does not list --${flags[0]}"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASSED"
