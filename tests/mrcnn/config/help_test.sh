#!/usr/bin/env bash
# --help of the workbench's binaries (mrcnn/config/help.h): the usage message comes first (what the
# program does, then its "Usage:" line), then the program's own flags; gflags', glog's and LibTorch's
# flags (--flagfile, --fromenv, --v, ...) appear only with --helpfull.
# Arguments: pairs of BINARY and "FIRST LINE|OWN_FLAG,OWN_FLAG,..." expectations.
# grep reads here-strings, not pipes: with pipefail, `printf | grep -q` fails when grep stops at an
# early match and printf gets SIGPIPE on the rest of a long help text (seen under ASan).
set -uo pipefail
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

while [ $# -ge 2 ]; do
  bin=$1; first=${2%%|*}; own=${2#*|}; shift 2
  name=$(basename "$bin")
  out=$("$bin" --help 2>&1); rc=$?
  [ "$rc" -eq 0 ] || fail "$name --help exited $rc"
  line1=${out%%$'\n'*}
  [ "$line1" = "$first" ] || fail "$name --help: first line is '$line1', expected '$first'"
  grep -q "^Usage: " <<<"$out" || fail "$name --help: no 'Usage: ' line"
  for flag in flagfile fromenv tryfromenv helpfull v logtostderr caffe2_log_level; do
    if grep -qE "^ +-${flag} \(" <<<"$out"; then fail "$name --help lists gflags'/glog's/LibTorch's --$flag"; fi
  done
  if grep -qE "Flags from (/|\./)" <<<"$out"; then fail "$name --help lists flags from outside the project"; fi
  IFS=, read -r -a flags <<<"$own"
  for flag in "${flags[@]}"; do
    grep -qE "^ +-${flag} \(" <<<"$out" || fail "$name --help does not list its own --$flag"
  done
  full=$("$bin" --helpfull 2>&1)
  grep -qE "^ +-flagfile \(" <<<"$full" || fail "$name --helpfull no longer lists gflags' --flagfile"
  grep -qE "^ +-${flags[0]} \(" <<<"$full" || fail "$name --helpfull does not list --${flags[0]}"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "PASSED"
