#!/usr/bin/env bash
# Builds and runs the CUDA kernel tests, the model's GPU test, the NCCL test and the kernel benchmark on a GPU
# machine without Bazel (nvcc, CMake and
# PyTorch present), then the torchvision peer on the same inputs, printing the speedups.
#
# GoogleTest, Google Benchmark, Abseil, nlohmann-json, xxHash and Gloo's headers: unpack Debian's packages
# into DEPS_PREFIX first, e.g. on a Debian machine: `apt-get download libgtest-dev libgmock-dev
# libbenchmark-dev libbenchmark1debian libabsl-dev libabsl20220623 nlohmann-json3-dev libxxhash-dev
# libxxhash0 libgloo-dev && for f in *.deb; do dpkg -x $f deps; done`
# and bring the folder along. Usage: DEPS_PREFIX=deps benchmarks/cuda/run_on_gpu.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/mrcnn-cuda-out}
build=${BUILD_DIR:-/tmp/mrcnn-cuda-build}
: "${DEPS_PREFIX:?set DEPS_PREFIX to the folder where the Debian packages are unpacked}"
mkdir -p "$out"
torch_dir=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
# NCCL's header: NCCL_INCLUDE, else the nvidia-nccl wheel beside PyTorch.
nccl_include=${NCCL_INCLUDE:-}
if [ -z "$nccl_include" ]; then
  nccl_include=$(python3 -c 'import glob, os, torch; site = os.path.dirname(os.path.dirname(torch.__file__)); print(next(iter(glob.glob(site + "/nvidia/nccl*/include")), ""))')
fi
cmake -S "$root/benchmarks/cuda" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DDEPS_PREFIX="$(cd "$DEPS_PREFIX" && pwd)" -DCMAKE_PREFIX_PATH="$torch_dir" -DNCCL_INCLUDE="$nccl_include"
cmake --build "$build" -j "$(nproc)"
status=0
"$build/kernel_math_test" --gtest_output="xml:$out/kernel_math_test.xml" || status=1
"$build/kernels_gpu_test" --gtest_output="xml:$out/kernels_gpu_test.xml" || status=1
"$build/model_gpu_test" --gtest_output="xml:$out/model_gpu_test.xml" || status=1
"$build/distributed_gpu_test" --gtest_output="xml:$out/distributed_gpu_test.xml" || status=1
# ROUNDS rounds (default 3) of ours then torchvision, alternating; then each benchmark's speedup as
# the median and range over the rounds.
rounds=${ROUNDS:-3}
: >"$out/peer.txt"
for r in $(seq "$rounds"); do
  "$build/kernels_benchmark" --benchmark_out="$out/kernels_benchmark.json" --benchmark_out_format=json >/dev/null
  echo "round $r" >>"$out/peer.txt"
  python3 "$root/benchmarks/cuda/torchvision_cuda_peer.py" --ours="$out/kernels_benchmark.json" >>"$out/peer.txt"
done
python3 - "$out/peer.txt" <<'PY' | tee -a "$out/peer.txt"
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 4 and f[0].startswith("BM_") and f[3] != "-":
        rows.setdefault(f[0], []).append((float(f[1]), float(f[2]), float(f[3])))
print(f"{'benchmark':40} {'torchvision us':>15} {'ours us':>10} {'speedup median (min-max)':>26}")
for name, v in rows.items():
    s = [x[2] for x in v]
    print(f"{name:40} {statistics.median(x[0] for x in v):15.1f} {statistics.median(x[1] for x in v):10.1f}"
          f" {statistics.median(s):11.2f} ({min(s):.2f}-{max(s):.2f}), {len(s)} rounds")
PY
exit $status
