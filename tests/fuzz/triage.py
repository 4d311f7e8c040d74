#!/usr/bin/python3
"""Sorts the inputs a fuzzing run saved (crash-*, timeout-*, oom-*) into known and new findings.

Each input is replayed once with the fuzz target; the report gives a signature such as
  "SEGV at datasets/image_io.cc:33" or "uncaught nlohmann::...::out_of_range at eval/coco_json.cc:28"
(the kind of failure and the first stack frame in project code). tests/fuzz/known_crashes.txt lists the
findings already reported to the code's owners, one per line:
  TARGET  REGEX  # what it is
and an input whose signature matches a REGEX (Python re.search) of its target is known. Prints one line
per signature, "known: SIGNATURE (N inputs, e.g. FILE)" or "NEW: ..." followed by the top of its report;
exits 1 when any signature is new. An input that does not fail when replayed alone counts as new.

Usage: triage.py --binary=FUZZER --target=NAME --known=FILE --timeout=SECONDS INPUT...
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

PROJECT_FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ in (.*?) (?:/proc/self/cwd/)?"
                           r"((?:datasets|eval|experiments|mrcnn|benchmarks)/[\w/]+\.(?:cc|h)):(\d+)")
ANY_FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ in ")


def load_known(path, target):
    known = []
    with open(path) as f:
        for line in f:
            body = line.split("#", 1)[0].strip()
            if not body:
                continue
            name, regex = body.split(None, 1)
            if name == target:
                known.append(re.compile(regex.strip()))
    return known


def signature(report):
    kind = "crash"
    m = re.search(r"terminate called after throwing an instance of '([^']+)'", report)
    if m:
        kind = "uncaught " + m.group(1)
    elif "ERROR: libFuzzer: timeout" in report:
        kind = "timeout"
    elif re.search(r"ERROR: libFuzzer: (out-of-memory|malloc limit)", report):
        kind = "out-of-memory"
    else:
        m = re.search(r"ERROR: (?:AddressSanitizer|LeakSanitizer): ([\w-]+)", report)
        if m:
            kind = m.group(1)
        else:
            m = re.search(r"runtime error: ([^\n]+)", report)
            if m:
                kind = "UB: " + re.sub(r"-?\d+", "N", m.group(1))
    where = "no project frame"
    for line in report.splitlines():
        m = PROJECT_FRAME.match(line)
        if m:
            where = "%s:%s" % (m.group(2), m.group(3))
            break
    return "%s at %s" % (kind, where)


def report_top(report, lines=6):
    out = []
    for line in report.splitlines():
        if (line.startswith("==") and "ERROR" in line) or "runtime error" in line or \
                line.startswith("terminate called") or "what():" in line:
            out.append(line.strip())
        elif ANY_FRAME.match(line) and PROJECT_FRAME.match(line):
            out.append(line.strip()[:200])
        if len(out) >= lines:
            break
    return out


def replay(binary, path, timeout, scratch, env):
    """Runs one input; returns its signature and report, or None when it does not fail."""
    try:
        run = subprocess.run(
            [binary, "-timeout=%d" % timeout, "-rss_limit_mb=2048", "-artifact_prefix=%s/" % scratch,
             path],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=scratch,
            timeout=timeout * 3 + 30)
        report, rc = run.stdout.decode(errors="replace"), run.returncode
    except subprocess.TimeoutExpired:
        report, rc = "ERROR: libFuzzer: timeout (the replay did not end)", 1
    if rc == 0:
        return None, report
    return signature(report), report


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--known", required=True)
    p.add_argument("--timeout", type=int, default=10)
    p.add_argument("inputs", nargs="*")
    args = p.parse_args()
    known = load_known(args.known, args.target)
    groups = {}  # signature -> (inputs, first report)
    env = dict(os.environ, UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    with tempfile.TemporaryDirectory() as scratch:
        env["TMPDIR"] = scratch
        for path in args.inputs:
            sig, report = replay(args.binary, os.path.abspath(path), args.timeout, scratch, env)
            sig = sig or "does not reproduce alone (flaky, or needs the inputs before it)"
            groups.setdefault(sig, ([], report))[0].append(path)
    new = 0
    for sig, (paths, report) in sorted(groups.items()):
        is_known = not sig.startswith("does not reproduce") and any(k.search(sig) for k in known)
        count = "%d input%s" % (len(paths), "" if len(paths) == 1 else "s")
        print("%s: %s (%s, e.g. %s)" % ("known" if is_known else "NEW", sig, count, paths[0]))
        if not is_known:
            new += 1
            for line in report_top(report):
                print("    " + line)
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
