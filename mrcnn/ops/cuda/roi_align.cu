// Fused multi-level ROIAlign: one launch pools every ROI from the FPN level LevelMapper picks.
#include "mrcnn/ops/cuda/kernels.h"
#include "mrcnn/ops/cuda/launch.h"

namespace mrcnn {
namespace ops {
namespace cuda {
namespace {

using internal::BlocksFor;
using internal::kThreadsPerBlock;

__global__ void ForwardKernel(FpnLevels<float> features, const float* rois, int64_t total,
                              int pooled_height, int pooled_width, int sampling_ratio, bool aligned,
                              float* output) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    output[i] = FusedRoiAlignForwardElement(features, rois, i, pooled_height, pooled_width,
                                            sampling_ratio, aligned);
  }
}

__global__ void BackwardAtomicKernel(FpnLevels<float> grads, const float* rois,
                                     const float* grad_output, int64_t total, int pooled_height,
                                     int pooled_width, int sampling_ratio, bool aligned) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    FusedRoiAlignBackwardElement(grads, rois, grad_output, i, pooled_height, pooled_width,
                                 sampling_ratio, aligned, internal::AtomicAdd());
  }
}

__global__ void BackwardDeterministicKernel(FpnLevels<float> grads, const float* rois,
                                            int64_t num_rois, const float* grad_output,
                                            int pooled_height, int pooled_width,
                                            int sampling_ratio, bool aligned) {
  const int64_t planes = static_cast<int64_t>(grads.num_levels) * grads.batch * grads.channels;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < planes;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    const int c = static_cast<int>(i % grads.channels);
    const int b = static_cast<int>((i / grads.channels) % grads.batch);
    const int l = static_cast<int>(i / grads.channels / grads.batch);
    FusedRoiAlignBackwardPlane(grads, rois, num_rois, grad_output, l, b, c, pooled_height,
                               pooled_width, sampling_ratio, aligned);
  }
}

bool ValidLevels(const FpnLevels<float>& levels) {
  if (levels.num_levels < 1 || levels.num_levels > kMaxFpnLevels) return false;
  if (levels.k_max - levels.k_min + 1 != levels.num_levels) return false;
  if (levels.batch < 0 || levels.channels < 0) return false;
  for (int l = 0; l < levels.num_levels; ++l) {
    if (levels.height[l] <= 0 || levels.width[l] <= 0 || levels.data[l] == nullptr) return false;
  }
  return true;
}

}  // namespace

cudaError_t FusedRoiAlignForward(const FpnLevels<float>& features, const float* rois,
                                 int64_t num_rois, int pooled_height, int pooled_width,
                                 int sampling_ratio, bool aligned, float* output,
                                 cudaStream_t stream) {
  if (!ValidLevels(features) || num_rois < 0 || pooled_height <= 0 || pooled_width <= 0) {
    return cudaErrorInvalidValue;
  }
  const int64_t total = num_rois * features.channels * pooled_height * pooled_width;
  if (total == 0) return cudaSuccess;
  ForwardKernel<<<BlocksFor(total), kThreadsPerBlock, 0, stream>>>(
      features, rois, total, pooled_height, pooled_width, sampling_ratio, aligned, output);
  return cudaGetLastError();
}

cudaError_t FusedRoiAlignBackward(const FpnLevels<float>& grads, const float* rois,
                                  int64_t num_rois, const float* grad_output, int pooled_height,
                                  int pooled_width, int sampling_ratio, bool aligned,
                                  bool deterministic, cudaStream_t stream) {
  if (!ValidLevels(grads) || num_rois < 0 || pooled_height <= 0 || pooled_width <= 0) {
    return cudaErrorInvalidValue;
  }
  for (int l = 0; l < grads.num_levels; ++l) {
    const size_t bytes = sizeof(float) * grads.batch * grads.channels *
                         static_cast<size_t>(grads.height[l]) * grads.width[l];
    cudaError_t e = cudaMemsetAsync(grads.data[l], 0, bytes, stream);
    if (e != cudaSuccess) return e;
  }
  if (num_rois == 0 || grads.channels == 0) return cudaSuccess;
  if (deterministic) {
    const int64_t planes = static_cast<int64_t>(grads.num_levels) * grads.batch * grads.channels;
    BackwardDeterministicKernel<<<BlocksFor(planes), kThreadsPerBlock, 0, stream>>>(
        grads, rois, num_rois, grad_output, pooled_height, pooled_width, sampling_ratio, aligned);
  } else {
    const int64_t total = num_rois * grads.channels * pooled_height * pooled_width;
    BackwardAtomicKernel<<<BlocksFor(total), kThreadsPerBlock, 0, stream>>>(
        grads, rois, grad_output, total, pooled_height, pooled_width, sampling_ratio, aligned);
  }
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace ops
}  // namespace mrcnn
