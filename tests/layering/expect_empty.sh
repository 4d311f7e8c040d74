#!/usr/bin/env bash
# Fails when any of the given genquery results is not empty, naming the targets it found. See
# BUILD.bazel for what each query checks; `bazel query 'somepath(FROM, TO)'` shows how a target got in.
set -u
status=0
for result in "$@"; do
  if [ ! -f "$result" ]; then
    echo "FAIL: $result: no such query result"
    status=1
  elif [ -s "$result" ]; then
    echo "FAIL: $(basename "$result"): dependencies against the layering:"
    sed 's/^/  /' "$result"
    status=1
  else
    echo "ok: $(basename "$result") is empty"
  fi
done
exit "$status"
