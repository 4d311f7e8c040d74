// Non-maximum suppression, with torchvision's semantics: boxes are visited in decreasing score
// (ties in their input order, i.e. a stable sort), and a box is dropped when its IoU with a kept
// box is strictly greater than the threshold.
//
//   at::Tensor keep = mrcnn::ops::Nms(boxes, scores, 0.7);                  // int64 [K]
//   at::Tensor keep_per_class = mrcnn::ops::BatchedNms(boxes, scores, labels, 0.5);
//
// Results are int64 indices into the inputs, sorted by decreasing score. Inputs: boxes [N, 4]
// (x1, y1, x2, y2), scores [N] of the same floating dtype, on the CPU or (float32) on a CUDA device,
// where the CUDA kernel of //mrcnn/ops/cuda runs (device_kernels.h); the result is on the inputs' device.
#ifndef MRCNN_OPS_NMS_H_
#define MRCNN_OPS_NMS_H_

#include <ATen/ATen.h>

namespace mrcnn {
namespace ops {

// boxes [N, 4], scores [N] -> int64 [K] indices of the kept boxes, by decreasing score.
at::Tensor Nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold);

// NMS run independently per category: boxes of different idxs never suppress each other.
// boxes [N, 4], scores [N], idxs [N] integer categories -> int64 [K] kept indices by decreasing
// score (stable for equal scores). Runs NMS per category rather than torchvision's
// coordinate-offset trick, so huge coordinates cannot make categories overlap; the result equals
// torchvision's.
at::Tensor BatchedNms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                      double iou_threshold);

}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_NMS_H_
