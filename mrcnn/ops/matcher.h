// Matcher: assigns each prediction (anchor or proposal) to the ground-truth box it overlaps most,
// as torchvision.models.detection._utils.Matcher.
//
//   Matcher m(0.7, 0.3, /*allow_low_quality_matches=*/true);
//   at::Tensor matches = m(BoxIoU(gt_boxes, anchors));  // int64 [A]: gt index, or -1 / -2
//
// For each prediction with best IoU v against gt g: v >= high -> g; low <= v < high ->
// kBetweenThresholds
// (-2, ignored); v < low -> kBelowLowThreshold (-1, background). With allow_low_quality_matches,
// every prediction that reaches some gt's highest IoU (ties included) keeps its best gt even below
// high. Ties in a prediction's best gt go to the lowest gt index.
#ifndef MRCNN_OPS_MATCHER_H_
#define MRCNN_OPS_MATCHER_H_

#include <ATen/ATen.h>

#include <cstdint>

namespace mrcnn {
namespace ops {

class Matcher {
 public:
  static constexpr int64_t kBelowLowThreshold = -1;
  static constexpr int64_t kBetweenThresholds = -2;

  // Throws c10::Error unless low <= high.
  Matcher(double high_threshold, double low_threshold, bool allow_low_quality_matches);

  // match_quality [G, P] (IoU of G gt boxes with P predictions, floating) -> int64 [P]. With G = 0
  // every prediction is kBelowLowThreshold (torchvision raises there; its callers then label all
  // anchors background, which is what this gives).
  at::Tensor operator()(const at::Tensor& match_quality) const;

 private:
  double high_;
  double low_;
  bool allow_low_quality_;
};

}  // namespace ops
}  // namespace mrcnn

#endif  // MRCNN_OPS_MATCHER_H_
