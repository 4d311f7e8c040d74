// LEGACY metric: matterport Mask R-CNN's `utils.compute_ap`, a VOC-style AP of one image at one
// mask IoU threshold. It is NOT COCO AP and is not comparable with it (no IoU sweep, no 101-point
// interpolation, no crowd or area handling, per image rather than per category over the dataset).
// It is here because users of matterport's tutorial know its numbers; report COCO AP
// (eval/coco_eval.h) as the metric of record.
//
// Reproduced as matterport computes it: predictions sorted by score (numpy's order: for equal
// scores the later prediction first), mask IoU in float32, each prediction matched to the
// highest-IoU ground truth of its class at or above the threshold that is still free, recall in
// float32, precision envelope, area under the step curve. Also reproduced: matterport treats a
// ground truth matched by prediction 0 as still free (its `gt_match[j] > 0` test), so prediction
// 0's match may be taken again. Deliberate difference: two empty masks have IoU 0 (matterport
// divides 0 by 0).
//
//   LegacyVocApResult r = LegacyMatterportComputeAp(gt_class_ids, gt_masks, pred_class_ids,
//                                                   pred_scores, pred_masks, 0.5).value();
//   double ap = r.ap;  // one image's VOC-style AP
#ifndef EVAL_LEGACY_VOC_AP_H_
#define EVAL_LEGACY_VOC_AP_H_

#include <vector>

#include "absl/status/statusor.h"
#include "eval/rle.h"

namespace mrcnn::eval {

struct LegacyVocApResult {
  double ap = 0;
  std::vector<double> precisions;  // padded [0, p_1..p_N, 0], after the envelope
  std::vector<double> recalls;     // padded [0, r_1..r_N, 1]
  // [N predictions (sorted by score), G ground truth] float32 mask IoU, row-major.
  std::vector<float> overlaps;
};

// All masks of one image, of one size. Fails when there is no ground truth (matterport divides by
// zero) or on mismatched lengths or sizes.
absl::StatusOr<LegacyVocApResult> LegacyMatterportComputeAp(const std::vector<int>& gt_class_ids,
                                                            const std::vector<Rle>& gt_masks,
                                                            const std::vector<int>& pred_class_ids,
                                                            const std::vector<double>& pred_scores,
                                                            const std::vector<Rle>& pred_masks,
                                                            double iou_threshold = 0.5);

}  // namespace mrcnn::eval

#endif  // EVAL_LEGACY_VOC_AP_H_
