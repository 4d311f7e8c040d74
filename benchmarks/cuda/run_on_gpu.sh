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
"$build/kernels_benchmark" --benchmark_out="$out/kernels_benchmark.json" --benchmark_out_format=json
python3 "$root/benchmarks/cuda/torchvision_cuda_peer.py" --ours="$out/kernels_benchmark.json" | tee "$out/peer.txt"
exit $status
