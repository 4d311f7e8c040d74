#!/usr/bin/env bash
# Builds train, evaluate and model_benchmark against a CUDA LibTorch (--config=cuda) on this machine
# and bundles them with the Debian libraries they load (OpenCV, SQLite, Abseil, gflags, tcmalloc and
# what those need), for a GPU machine that has PyTorch (whose LibTorch and CUDA libraries they then
# use) but no Bazel or OpenCV for C++. On the GPU machine: OUT=dir BUNDLE/run_trainer_on_gpu.sh, or
# BUNDLE/run_precision_on_gpu_host.sh (bf16 on that machine's CPU).
# Usage: LIBTORCH_HOME=/path/to/torch [NCCL_HOME=...] benchmarks/cuda/bundle_trainer.sh BUNDLE_DIR
# (LIBTORCH_HOME: e.g. the torch/ folder of PyTorch's wheel, unpacked; the same version as the GPU
# machine's PyTorch.)
set -euo pipefail
: "${LIBTORCH_HOME:?set LIBTORCH_HOME to a CUDA LibTorch (include/, lib/)}"
bundle=${1:?usage: bundle_trainer.sh BUNDLE_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
# A separate output base: switching LibTorch would otherwise refetch and rebuild the normal tree.
base=${OUTPUT_BASE:-$HOME/.cache/mrcnn-workbench/bazel-cuda-libtorch}
# --symlink_prefix=/: the workspace's bazel-bin keeps pointing at the normal build (a sweep running from
# it would otherwise lose its trainer).
bazel --output_base="$base" build --symlink_prefix=/ --config=cuda --linkopt=-Wl,--allow-shlib-undefined \
  //mrcnn/train:train //mrcnn/train:evaluate //benchmarks/model:model_benchmark
bin=$(bazel --output_base="$base" info --symlink_prefix=/ --config=cuda bazel-bin)
mkdir -p "$bundle" "$bundle/.libs"
cp -f "$bin/mrcnn/train/train" "$bin/mrcnn/train/evaluate" "$bin/benchmarks/model/model_benchmark" "$bundle/"
# Every library ldd resolves except LibTorch's, CUDA's and the C and C++ runtimes (the GPU machine
# brings its own, newer ones).
ldd "$bundle/train" "$bundle/evaluate" "$bundle/model_benchmark" | awk '$3 ~ /^\// {print $3}' | sort -u |
  grep -v -e "$LIBTORCH_HOME" -e '/cuda' -e 'libc\.so' -e 'libm\.so' -e 'libpthread' -e 'libdl\.so' \
    -e 'librt\.so' -e 'ld-linux' -e 'libstdc++' -e 'libgcc_s' |
  xargs -I{} cp -L {} "$bundle/.libs/"
tar -C "$bundle/.libs" -cJf "$bundle/libs.tar.xz" . && rm -rf "$bundle/.libs"
cp -f "$root/benchmarks/cuda/gpu_host_env.sh" "$root/benchmarks/cuda/run_trainer_on_gpu.sh" \
  "$root/benchmarks/cuda/run_precision_on_gpu_host.sh" "$bundle/"
du -sh "$bundle"
