#include "eval/agreement.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_format.h"
#include "eval/rle.h"

namespace mrcnn::eval {
namespace {

// Indices of `dets` with a box, per image, in descending score order (stable: ties keep input order).
std::map<int64_t, std::vector<size_t>> ByImage(const std::vector<Detection>& dets) {
  std::map<int64_t, std::vector<size_t>> out;
  for (size_t i = 0; i < dets.size(); ++i) {
    if (dets[i].bbox.has_value()) out[dets[i].image_id].push_back(i);
  }
  for (auto& [image, idx] : out) {
    std::stable_sort(idx.begin(), idx.end(), [&](size_t x, size_t y) { return dets[x].score > dets[y].score; });
  }
  return out;
}

}  // namespace

std::string DetectionAgreement::Summary() const {
  return absl::StrFormat(
      "pairs %d (of %d / %d detections), box IoU mean %.4f min %.4f, mask IoU mean %.4f (%d pairs), "
      "same category %.2f%%, largest score difference %.4f",
      pairs, detections_a, detections_b, mean_box_iou, min_box_iou, mean_mask_iou, mask_pairs,
      100.0 * same_category_share(), max_score_difference);
}

DetectionAgreement CompareDetections(const std::vector<Detection>& a, const std::vector<Detection>& b,
                                     double min_iou) {
  DetectionAgreement g;
  g.detections_a = static_cast<int64_t>(a.size());
  g.detections_b = static_cast<int64_t>(b.size());
  const std::map<int64_t, std::vector<size_t>> in_a = ByImage(a), in_b = ByImage(b);
  double box_iou_sum = 0, mask_iou_sum = 0;
  g.min_box_iou = 1;
  for (const auto& [image, ia] : in_a) {
    auto it = in_b.find(image);
    if (it == in_b.end()) continue;
    const std::vector<size_t>& ib = it->second;
    std::vector<bool> used(ib.size(), false);
    for (size_t i : ia) {
      int best = -1;
      double best_iou = min_iou;
      for (size_t j = 0; j < ib.size(); ++j) {
        if (used[j]) continue;
        const double iou = BoxIou(*a[i].bbox, *b[ib[j]].bbox, /*gt_is_crowd=*/false);
        if (iou >= best_iou) {  // ties go to the higher-scored (earlier) detection of b
          if (best < 0 || iou > best_iou) {
            best = static_cast<int>(j);
            best_iou = iou;
          }
        }
      }
      if (best < 0) continue;
      used[best] = true;
      const Detection& da = a[i];
      const Detection& db = b[ib[best]];
      ++g.pairs;
      box_iou_sum += best_iou;
      g.min_box_iou = std::min(g.min_box_iou, best_iou);
      if (da.category_id == db.category_id) ++g.same_category;
      g.max_score_difference = std::max(g.max_score_difference, std::abs(da.score - db.score));
      if (da.mask.has_value() && db.mask.has_value()) {
        const double m = MaskIou(*da.mask, *db.mask, /*gt_is_crowd=*/false);
        if (m >= 0) {
          ++g.mask_pairs;
          mask_iou_sum += m;
        }
      }
    }
  }
  if (g.pairs > 0) {
    g.mean_box_iou = box_iou_sum / g.pairs;
  } else {
    g.min_box_iou = 0;
  }
  if (g.mask_pairs > 0) g.mean_mask_iou = mask_iou_sum / g.mask_pairs;
  return g;
}

}  // namespace mrcnn::eval
