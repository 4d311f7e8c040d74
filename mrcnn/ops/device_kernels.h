// The device kernels behind the ops' public API, in torchvision's pattern: each op (RoiAlign,
// MultiScaleRoiAlign, Nms, BatchedNms) is one function that callers use on any device; it checks its
// arguments once, then runs the CPU kernel in this package or, for CUDA tensors, the CUDA kernel;
// autograd sits on top of both (RoiAlign's backward dispatches the same way).
//
// The CUDA kernels live in //mrcnn/ops/cuda and need nvcc and a CUDA LibTorch, which a CPU build has
// neither of, so this package cannot depend on them. Instead //mrcnn/ops/cuda:torch_ops registers its
// implementations here when it is linked (a static initializer; the model links it under
// --config=cuda). Without it an op given CUDA tensors fails with an error that says how to build.
//
//   if (features.is_cuda()) return CudaKernels("RoiAlign").roi_align_forward(...);
#ifndef MRCNN_OPS_DEVICE_KERNELS_H_
#define MRCNN_OPS_DEVICE_KERNELS_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace mrcnn {
namespace ops {

// torchvision's MultiScaleRoIAlign over levels k_min..k_max (one level: k_min == k_max, every ROI
// pooled from it). features: one float32 [N, C, H_l, W_l] per level; rois float32 [K, 5];
// scales[l] the spatial scale of level l. The level of each ROI is torchvision's LevelMapper.
struct RoiAlignArgs {
  std::vector<double> scales;
  int64_t k_min = 0;
  int64_t k_max = 0;
  int64_t pooled_height = 0;
  int64_t pooled_width = 0;
  int64_t sampling_ratio = 0;
  bool aligned = false;
};

struct CudaOpKernels {
  // -> [K, C, pooled_height, pooled_width]
  at::Tensor (*roi_align_forward)(at::TensorList features, const at::Tensor& rois,
                                  const RoiAlignArgs& args) = nullptr;
  // grad_output [K, C, ph, pw] -> one gradient per level, shaped [batch, channels, H_l, W_l].
  // deterministic: bit-identical run to run (slower); else atomics.
  std::vector<at::Tensor> (*roi_align_backward)(const at::Tensor& grad_output,
                                                const at::Tensor& rois, const RoiAlignArgs& args,
                                                int64_t batch, int64_t channels,
                                                const std::vector<int64_t>& heights,
                                                const std::vector<int64_t>& widths,
                                                bool deterministic) = nullptr;
  // boxes float32 [N, 4], scores float32 [N], idxs int64 [N] or undefined (one class) -> int64 [K]
  // kept indices by decreasing score (stable for ties), on the boxes' device.
  at::Tensor (*nms)(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                    double iou_threshold) = nullptr;
};

// Called once by the CUDA library's static initializer.
void RegisterCudaKernels(const CudaOpKernels& kernels);

// Whether a CUDA implementation is linked into this binary.
bool HaveCudaKernels();

// The registered CUDA kernels; throws c10::Error naming `op` when none are linked.
const CudaOpKernels& CudaKernels(const char* op);

}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_DEVICE_KERNELS_H_
