// Anchors of the RPN, one set per FPN level, in the order the RPN head emits its outputs:
// level-major; within a level, feature cells row by row from the top left; per cell, one anchor per
// (ratio, scale) pair, for each ratio in the given order, for each scale of the level (with one
// scale per level, as matterport's RPN_ANCHOR_SCALES, just the ratios in order).
//
// RPN_ANCHOR_STRIDE = s (any s >= 1, matterport's meaning) puts anchors on every s-th cell in both axes
// (rows and columns 0, s, 2s, ...: matterport's np.arange(0, shape, anchor_stride) * feature_stride),
// and the RPN head's outputs are subsampled to match with SubsampleToAnchorStride.
//
// Two shape conventions; both centre the anchors of cell (i, j) at (j * stride, i * stride):
//   "torchvision": ratio = height / width, base anchors rounded to integers; at anchor stride 1 the
//                  anchors equal torchvision's AnchorGenerator exactly.
//   "matterport":  ratio = width / height, unrounded (matterport's utils.generate_anchors).
//
//   AnchorOptions opt = AnchorOptionsFromConfig(config);
//   AnchorGenerator gen = AnchorGenerator::Create(opt).value();
//   std::vector<at::Tensor> anchors = gen.Anchors({{200, 272}, {100, 136}, ...}, {4, 8, ...});
//   // anchors[l]: [H_l' * W_l' * A, 4] float32, (x1, y1, x2, y2); A = ratios * scales of level l.
//
// Anchors for a given set of feature shapes are computed once and cached (thread-safe); the
// returned tensors share the cache's storage, so treat them as read-only (clone before modifying in
// place).
#ifndef MRCNN_OPS_ANCHORS_H_
#define MRCNN_OPS_ANCHORS_H_

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "mrcnn/config/config.h"

namespace mrcnn {
namespace ops {

struct AnchorOptions {
  // Anchor sizes (the square root of the area, pixels) per level: one inner list per FPN level.
  std::vector<std::vector<double>> sizes_per_level;
  std::vector<double> ratios;  // shared by all levels
  int anchor_stride = 1;       // s >= 1: every s-th feature cell in both axes
  AnchorConvention convention = AnchorConvention::kTorchvision;
};

// sizes_per_level = one level per RPN_ANCHOR_SCALES entry; RPN_ANCHOR_RATIOS, RPN_ANCHOR_STRIDE,
// RPN_ANCHOR_CONVENTION.
AnchorOptions AnchorOptionsFromConfig(const Config& config);

class AnchorGenerator {
 public:
  // Checks the options (non-empty, positive sizes and ratios, positive stride).
  static absl::StatusOr<AnchorGenerator> Create(const AnchorOptions& options);

  // Base anchors of each level centred at (0, 0): [A_l, 4] float32.
  const std::vector<at::Tensor>& cell_anchors() const { return cell_anchors_; }
  int NumAnchorsPerCell(int level) const;
  const AnchorOptions& options() const { return options_; }

  // feature_sizes: (height, width) per level; strides: the feature stride (pixels per cell) per
  // level, one number for both axes or {stride_h, stride_w} via the overload. Returns per level
  // [ceil(H/s) * ceil(W/s) * A_l, 4] float32 CPU anchors, s = anchor_stride. Throws c10::Error when
  // the number of levels does not match or a size is negative. Cached per argument set.
  std::vector<at::Tensor> Anchors(const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
                                  const std::vector<int64_t>& strides) const;
  std::vector<at::Tensor> Anchors(const std::vector<std::pair<int64_t, int64_t>>& feature_sizes,
                                  const std::vector<std::pair<int64_t, int64_t>>& strides) const;

  // torchvision's rule for the strides: image_size / feature_size per axis (integer division), with
  // image_size the padded batch's (height, width).
  static std::vector<std::pair<int64_t, int64_t>> InferStrides(
      std::pair<int64_t, int64_t> image_size,
      const std::vector<std::pair<int64_t, int64_t>>& feature_sizes);

  // Number of cached anchor sets (for tests).
  size_t CacheSize() const;

 private:
  AnchorGenerator(AnchorOptions options, std::vector<at::Tensor> cell_anchors);

  AnchorOptions options_;
  std::vector<at::Tensor> cell_anchors_;
  // Shared so the generator stays copyable; the cache is keyed by the flattened sizes and strides.
  struct Cache {
    std::mutex mu;
    std::map<std::vector<int64_t>, std::vector<at::Tensor>> entries;
  };
  std::shared_ptr<Cache> cache_;
};

// Subsamples an RPN head output to the anchor stride: [N, C, H, W] -> [N, C, ceil(H/s), ceil(W/s)],
// keeping rows and columns 0, s, 2s, ... (s = anchor_stride; s = 1 returns the input).
// Differentiable.
at::Tensor SubsampleToAnchorStride(const at::Tensor& head_output, int anchor_stride);

}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_ANCHORS_H_
