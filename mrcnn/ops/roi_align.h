// ROIAlign (Mask R-CNN's region feature extraction) on the CPU, single level and over FPN levels,
// with torchvision's semantics (torchvision.ops.roi_align and MultiScaleRoIAlign).
//
//   // features [N, C, H, W]; rois [K, 5] (batch_index, x1, y1, x2, y2) in image pixels
//   at::Tensor pooled = mrcnn::ops::RoiAlign(features, rois, 1.0 / 16, 7, 7, 2, false);
//   // pooled: [K, C, 7, 7]
//   // FPN: features per level (P2..P5), boxes per image, image sizes (height, width)
//   at::Tensor pooled = mrcnn::ops::MultiScaleRoiAlign(fpn, boxes, sizes, 7, 7, 2, false);
//
// Both are differentiable with respect to the features (not the boxes). Forward and backward run in
// parallel over groups of channels, handed out dynamically (the forward over ROIs when there are
// few channels); in the backward each task owns whole channel planes of the gradient, so there are
// no races and the result does not depend on the thread count. The separable bilinear weights are
// computed once per ROI and reused across channels; MultiScaleRoiAlign pools every FPN level in one
// pass. Float and double tensors; argument errors raise c10::Error naming the argument.
#ifndef MRCNN_OPS_ROI_ALIGN_H_
#define MRCNN_OPS_ROI_ALIGN_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace mrcnn {
namespace ops {

// input [N, C, H, W], rois [K, 5] (batch_index, x1, y1, x2, y2), same floating dtype -> [K, C, ph,
// pw]. spatial_scale maps box coordinates to feature cells (1 / feature stride). sampling_ratio > 0
// takes that many samples per bin and axis; <= 0 takes ceil(roi_size / pooled_size) (adaptive).
// aligned shifts the box by -0.5 cell (ROIAlign v2); without it boxes are at least 1x1 cell.
// Differentiable.
at::Tensor RoiAlign(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                    int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                    bool aligned);

// The raw kernels behind RoiAlign (no autograd). grad_output [K, C, ph, pw] -> grad_input
// [batch, channels, height, width].
at::Tensor RoiAlignForward(const at::Tensor& input, const at::Tensor& rois, double spatial_scale,
                           int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                           bool aligned);
at::Tensor RoiAlignBackward(const at::Tensor& grad_output, const at::Tensor& rois,
                            double spatial_scale, int64_t batch, int64_t channels, int64_t height,
                            int64_t width, int64_t sampling_ratio, bool aligned);

// torchvision's LevelMapper: the FPN level of a box is
// floor(canonical_level + log2(sqrt(area) / canonical_scale) + eps), clamped to [k_min, k_max].
class LevelMapper {
 public:
  LevelMapper(int64_t k_min, int64_t k_max, double canonical_scale = 224,
              int64_t canonical_level = 4, double eps = 1e-6);
  // boxes [K, 4] -> int64 [K] level index relative to k_min (0 .. k_max - k_min).
  at::Tensor operator()(const at::Tensor& boxes) const;

  int64_t k_min() const { return k_min_; }
  int64_t k_max() const { return k_max_; }

 private:
  int64_t k_min_;
  int64_t k_max_;
  double canonical_scale_;
  int64_t canonical_level_;
  double eps_;
};

// The scale of each level and the level range, inferred as torchvision's MultiScaleRoIAlign does:
// scale_l = 2^round(log2(feature_height_l / max_image_height)); k_min = int(-log2(scale_first)),
// k_max = int(-log2(scale_last)).
struct LevelScales {
  std::vector<double> scales;
  int64_t k_min = 0;
  int64_t k_max = 0;
};
LevelScales InferLevelScales(const std::vector<at::Tensor>& features,
                             const std::vector<std::pair<int64_t, int64_t>>& image_sizes);

// features: one [N, C, H_l, W_l] tensor per level, finest first (e.g. P2..P5); boxes: one [K_i, 4]
// tensor per image (image pixels); image_sizes: (height, width) per image before padding. Each box
// is pooled from the level LevelMapper picks -> [sum K_i, C, ph, pw], boxes in image order.
// torchvision's MultiScaleRoIAlign always uses aligned = false; `aligned` is exposed for
// ROI_ALIGN_ALIGNED. Differentiable with respect to the features.
at::Tensor MultiScaleRoiAlign(const std::vector<at::Tensor>& features,
                              const std::vector<at::Tensor>& boxes,
                              const std::vector<std::pair<int64_t, int64_t>>& image_sizes,
                              int64_t pooled_height, int64_t pooled_width, int64_t sampling_ratio,
                              bool aligned = false);

// boxes per image [K_i, 4] -> rois [sum K_i, 5] (image index, x1, y1, x2, y2) in the boxes' dtype.
at::Tensor BoxesToRois(const std::vector<at::Tensor>& boxes);

}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_ROI_ALIGN_H_
