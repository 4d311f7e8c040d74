#!/usr/bin/env bash
# Installs everything the build, tests and benchmarks need, from Debian 12 packages (and PyPI for
# pycocotools, used only by the differential evaluation tests, and faster-coco-eval, a benchmark
# peer). Idempotent: when everything is present it
# returns in about a second. Run as root, or as a user with sudo.
set -euo pipefail

APT_PACKAGES=(
  # Build system (offline: WORKSPACE resolves its repositories to these local copies).
  bazel-bootstrap bazel-platforms bazel-rules-java
  # C++ toolchain and libraries.
  g++ libtorch-dev libopencv-dev libabsl-dev libgflags-dev libgoogle-glog-dev libsqlite3-dev sqlite3
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev libxxhash-dev
  # Gloo's headers for torch's c10d ProcessGroupGloo (data-parallel training; LibTorch has the code).
  libgloo-dev
  # The fuzz targets (--config=fuzz, tests/fuzz/run_fuzzers.sh): clang with libFuzzer and the
  # sanitizer runtimes. (--config=asan uses gcc's own ASan/UBSan runtimes, which g++ brings.)
  clang-14 libclang-rt-14-dev lld-14
  # Without it LibTorch's matrix products run on the reference BLAS, about 30x slower.
  libopenblas0-openmp
  # tcmalloc, linked into every binary that uses LibTorch (glibc's malloc page-faults every large
  # tensor afresh; see third_party/BUILD.bazel).
  libtcmalloc-minimal4
  # Reference outputs for the tests (Debian's python3 with torch and torchvision).
  python3-torch python3-torchvision python3-numpy python3-pil
  # The experiment report's rendering test (headless).
  chromium
  # The Slurm launcher: its client commands, and a single-node cluster for its tests and for trying it
  # on one machine (experiments/local_slurm.sh).
  slurm-wlm munge
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Make sure the OpenMP OpenBLAS is the BLAS LibTorch gets (Debian may keep the reference one selected).
arch_dir="/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
for alt in libblas.so.3 liblapack.so.3; do
  cand="${arch_dir}/openblas-openmp/${alt}"
  name="${alt}-$(basename "$arch_dir")"
  if [ -e "$cand" ] && update-alternatives --query "$name" >/dev/null 2>&1; then
    current=$(update-alternatives --query "$name" | awk '/^Value:/ {print $2}')
    if [ "$current" != "$cand" ]; then
      $SUDO update-alternatives --set "$name" "$cand" >/dev/null
    fi
  fi
done

# pycocotools for the differential evaluation tests (tagged so they are skipped when pip cannot reach
# PyPI), and faster-coco-eval for the evaluation benchmark's second peer.
PY=$(command -v python3 || true)
if [ -n "$PY" ] && [ "$PY" != "/usr/bin/python3" ]; then
  if ! "$PY" -c "import pycocotools" >/dev/null 2>&1; then
    "$PY" -m pip install -q pycocotools numpy >/dev/null 2>&1 \
      || echo "setup.sh: note: pip could not install pycocotools; the differential eval test will be skipped"
  fi
  # faster-coco-eval: the second peer of benchmarks/eval (its C++ core), pinned to the version measured.
  if ! "$PY" -c "import faster_coco_eval; assert faster_coco_eval.__version__ == '1.8.0'" >/dev/null 2>&1; then
    "$PY" -m pip install -q faster-coco-eval==1.8.0 >/dev/null 2>&1 \
      || echo "setup.sh: note: pip could not install faster-coco-eval; the benchmark skips that peer"
  fi
fi
echo "setup.sh: all dependencies present"
