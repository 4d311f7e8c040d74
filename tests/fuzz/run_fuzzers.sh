#!/usr/bin/env bash
# Builds the libFuzzer targets (//tests/fuzz, tag "fuzz") with --config=fuzz and fuzzes each for a bounded
# time, one after the other, from a copy of its seed corpus (tests/fuzz/corpus/<target>/ is never
# written). libFuzzer runs in fork mode and goes on after a crash, hang or out-of-memory, saving each such
# input; triage.py then replays them and sorts them into findings already listed in known_crashes.txt
# and new ones. One line per target:
#   fuzz: PASSED rle_fuzzer: 2801294 runs in 30 s (93376/s), corpus 114
#   fuzz: KNOWN coco_gt_fuzzer: ... runs; only known crashes: <signature> (known_crashes.txt)
#   fuzz: FAILED image_header_fuzzer: ... new crash: SEGV at datasets/image_io.cc:33 -> <input>
# Exits 1 when a target has a new finding or the build failed (known ones alone do not fail it).
# Everything goes under the output folder (default fuzz-out/, git-ignored):
#   corpus/<target>/   the working corpus: seeds plus what the fuzzer found; kept, so a later run goes on
#   crashes/<target>/  crash-*, timeout-*, oom-* inputs (replay: bazel-fuzz-bin/tests/fuzz/<target> FILE)
#   logs/<target>.log  libFuzzer's output, and <target>.triage
#
# Usage: tests/fuzz/run_fuzzers.sh [--time=SECONDS per target, default 30] [--timeout=SECONDS per
#        input, default 10] [--rss_limit_mb=MB, default 2048] [--out=DIR] [--fresh] [--seed=N]
#        [TARGET ...]
# --fresh starts from the seeds again. --seed fixes libFuzzer's random seed (default 0: a new one each
# run; CI passes one, so its mutations start the same way every time). TARGET: names such as
# rle_fuzzer (default: all).
set -uo pipefail
cd "$(dirname "$0")/../.."

time_s=30 timeout_s=10 rss_mb=2048 out=fuzz-out fresh=0 seed=0 only=()
for arg in "$@"; do
  case "$arg" in
    --time=*) time_s="${arg#*=}" ;;
    --timeout=*) timeout_s="${arg#*=}" ;;
    --rss_limit_mb=*) rss_mb="${arg#*=}" ;;
    --out=*) out="${arg#*=}" ;;
    --fresh) fresh=1 ;;
    --seed=*) seed="${arg#*=}" ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    -*) echo "run_fuzzers.sh: unknown option $arg" >&2; exit 2 ;;
    *) only+=("$arg") ;;
  esac
done

targets=()
while read -r label; do
  name="${label##*:}"
  if [ "${#only[@]}" -eq 0 ] || [[ " ${only[*]} " == *" $name "* ]]; then targets+=("$name"); fi
done < <(bazel query 'attr(tags, "\bfuzz\b", tests(//tests/fuzz/...))' 2>/dev/null | sort)
if [ "${#targets[@]}" -eq 0 ]; then
  echo "run_fuzzers.sh: no fuzz targets found${only[*]:+ among: ${only[*]}}" >&2
  exit 2
fi

mkdir -p "$out/logs"
out="$(cd "$out" && pwd)"
labels=("${targets[@]/#/\/\/tests\/fuzz:}")
if ! bazel build --config=fuzz "${labels[@]}" >"$out/build.log" 2>&1; then
  tail -n 30 "$out/build.log"
  for t in "${targets[@]}"; do echo "fuzz: FAILED $t: build failed (see $out/build.log)"; done
  exit 1
fi
bin="$(bazel info --config=fuzz bazel-bin 2>/dev/null)/tests/fuzz"

failed=0
for t in "${targets[@]}"; do
  corpus="$out/corpus/$t" crashes="$out/crashes/$t" log="$out/logs/$t.log" tmp="$out/tmp/$t"
  [ "$fresh" -eq 1 ] && rm -rf "$corpus"
  rm -rf "$tmp"
  mkdir -p "$corpus" "$crashes" "$tmp"
  cp -f tests/fuzz/corpus/"$t"/* "$corpus"/
  stamp="$tmp/started"
  touch "$stamp"
  TMPDIR="$tmp" UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$bin/$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$time_s" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" -seed="$seed" \
    -dict=tests/fuzz/json.dict -artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1
  rc=$?
  # Fork mode's progress lines: "#RUNS: cov: .. corp: .. exec/s .. oom/timeout/crash: a/b/c time: Ts".
  runs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -1)
  stats="${runs:-0} runs in $time_s s ($(( ${runs:-0} / (time_s > 0 ? time_s : 1) ))/s), corpus $(ls "$corpus" | wc -l)"
  mapfile -t found < <(find "$crashes" -type f -newer "$stamp" | sort)
  if [ "${#found[@]}" -eq 0 ]; then
    if [ "$rc" -eq 0 ]; then
      echo "fuzz: PASSED $t: $stats"
    else
      failed=1
      echo "fuzz: FAILED $t: libFuzzer exited $rc without saving an input (log $log)"
      tail -n 5 "$log" | sed 's/^/    /'
    fi
    continue
  fi
  if /usr/bin/python3 tests/fuzz/triage.py --binary="$bin/$t" --target="$t" \
      --known=tests/fuzz/known_crashes.txt --timeout="$timeout_s" "${found[@]}" >"$out/logs/$t.triage" 2>&1; then
    echo "fuzz: KNOWN $t: $stats; only known crashes (tests/fuzz/known_crashes.txt):"
  else
    failed=1
    echo "fuzz: FAILED $t: $stats; new findings (inputs in $crashes):"
  fi
  sed 's/^/    /' "$out/logs/$t.triage"
done
rm -rf "$out/tmp"
exit "$failed"
