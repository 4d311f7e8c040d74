// How closely two detection lists of the same images agree: the same model run in two precisions
// (fp32 against bf16), on two devices, or two builds. Per image, detections of `a` are taken in
// descending score order and each is paired with the unpaired detection of `b` whose box overlaps it
// most (any class), if that IoU is at least `min_iou` (greedy, as COCO's matching pairs detections
// with ground truth). Over the pairs: the mean box IoU, the mean mask IoU (where both have masks), and
// the share with the same category. Detections left unpaired on either side are counted.
//
//   DetectionAgreement g = CompareDetections(fp32_dets, bf16_dets);
//   std::cout << g.Summary();  // "pairs 311 of 312 / 313, box IoU 0.9931, mask IoU ..., same class 100.00%"
#ifndef EVAL_AGREEMENT_H_
#define EVAL_AGREEMENT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "eval/coco_eval.h"

namespace mrcnn::eval {

struct DetectionAgreement {
  int64_t detections_a = 0, detections_b = 0;
  int64_t pairs = 0;            // detections of a paired with one of b
  int64_t same_category = 0;    // pairs whose category_id agrees
  int64_t mask_pairs = 0;       // pairs where both have a mask of the same size
  double mean_box_iou = 0;      // over pairs (0 when there are none)
  double min_box_iou = 0;       // the worst pair's box IoU (0 when there are none)
  double mean_mask_iou = 0;     // over mask_pairs
  double max_score_difference = 0;  // the largest |score_a - score_b| over pairs
  double same_category_share() const { return pairs > 0 ? static_cast<double>(same_category) / pairs : 0; }
  std::string Summary() const;
};

// Detections without a box are skipped (they cannot be paired); `min_iou` in (0, 1].
DetectionAgreement CompareDetections(const std::vector<Detection>& a, const std::vector<Detection>& b,
                                     double min_iou = 0.5);

}  // namespace mrcnn::eval

#endif  // EVAL_AGREEMENT_H_
