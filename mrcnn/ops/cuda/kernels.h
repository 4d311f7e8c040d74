// CUDA kernels for the detector's hot ops, behind a plain pointer-and-stream API (float32 device
// pointers, a cudaStream_t), so they work with a CPU-only LibTorch too:
//   - FusedRoiAlignForward / FusedRoiAlignBackward: ROIAlign over all FPN levels in one launch, the
//     level of each ROI chosen inside the kernel (torchvision's LevelMapper); backward with atomics
//     (fast) or deterministic (each thread owns a gradient plane).
//   - Nms / NmsSorted: bitmask NMS with the suppression pass on the device (no host round trip); with
//     class ids it is batched NMS that compares ids instead of offsetting coordinates.
//   - Proposals: the RPN proposal step fused: top-k before NMS (per level or global), decode, clip,
//     drop small boxes, NMS (per level or global), keep the best post_nms_top_n.
// Every function is asynchronous on `stream` and returns the first CUDA error it met.
// The per-element math is in kernel_math.h (shared with CPU tests) and box_math.h (shared with the
// CPU ops).
#ifndef MRCNN_OPS_CUDA_KERNELS_H_
#define MRCNN_OPS_CUDA_KERNELS_H_

#include <cstdint>

#include <cuda_runtime_api.h>

#include "mrcnn/ops/cuda/kernel_math.h"

namespace mrcnn {
namespace ops {
namespace cuda {

// features: levels.data[l] is [batch, channels, H_l, W_l] on the device; rois [num_rois, 5]
// (batch_index, x1, y1, x2, y2) in image pixels -> output [num_rois, channels, pooled_h, pooled_w].
cudaError_t FusedRoiAlignForward(const FpnLevels<float>& features, const float* rois,
                                 int64_t num_rois, int pooled_height, int pooled_width,
                                 int sampling_ratio, bool aligned, float* output,
                                 cudaStream_t stream);

// grads.data[l] receive the gradient of each level (zeroed here first); grad_output is
// [num_rois, channels, pooled_h, pooled_w]. deterministic = true gives bit-identical results run to
// run (one thread per gradient plane, ROIs summed in order); false uses atomicAdd (faster).
cudaError_t FusedRoiAlignBackward(const FpnLevels<float>& grads, const float* rois,
                                  int64_t num_rois, const float* grad_output, int pooled_height,
                                  int pooled_width, int sampling_ratio, bool aligned,
                                  bool deterministic, cudaStream_t stream);

// NMS over boxes [n, 4] already sorted by decreasing score. Writes the kept positions (ascending,
// i.e. by decreasing score) to keep[0 .. *keep_count) where keep and keep_count are device memory.
// classes [n] (or nullptr): boxes of different classes never suppress each other.
cudaError_t NmsSorted(const float* boxes, const int* classes, int n, float iou_threshold,
                      int64_t* keep, int* keep_count, cudaStream_t stream);

// NMS over unsorted boxes [n, 4] with scores [n]: sorts by decreasing score (stable for ties), then
// NmsSorted. keep receives indices into the inputs, by decreasing score.
cudaError_t Nms(const float* boxes, const float* scores, const int* classes, int n,
                float iou_threshold, int64_t* keep, int* keep_count, cudaStream_t stream);

struct ProposalParams {
  int pre_nms_top_n = 1000;   // per level when per_level, else over all anchors
  int post_nms_top_n = 1000;  // kept after NMS
  float nms_threshold = 0.7f;
  float min_size = 1e-3f;
  float score_threshold = 0.0f;  // on sigmoid(objectness)
  float weights[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  float bbox_xform_clip = 4.135166556742356f;  // log(1000 / 16)
  bool per_level = true;  // torchvision: top-k and NMS per level; matterport: global
};

// One image. objectness [A] logits, deltas [A, 4], anchors [A, 4], with the anchors of level l at
// [level_begin[l], level_begin[l + 1]) (level_begin is a HOST array of num_levels + 1 offsets).
// Writes up to post_nms_top_n boxes [*, 4] and probabilities, by decreasing score, and their number
// to *count (device memory).
cudaError_t Proposals(const float* objectness, const float* deltas, const float* anchors,
                      const int64_t* level_begin, int num_levels, int image_height, int image_width,
                      const ProposalParams& params, float* boxes, float* scores, int* count,
                      cudaStream_t stream);

}  // namespace cuda
}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_CUDA_KERNELS_H_
