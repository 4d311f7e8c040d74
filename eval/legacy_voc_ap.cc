#include "eval/legacy_voc_ap.h"

#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"

namespace mrcnn::eval {

absl::StatusOr<LegacyVocApResult> LegacyMatterportComputeAp(const std::vector<int>& gt_class_ids,
                                                            const std::vector<Rle>& gt_masks,
                                                            const std::vector<int>& pred_class_ids,
                                                            const std::vector<double>& pred_scores,
                                                            const std::vector<Rle>& pred_masks,
                                                            double iou_threshold) {
  if (gt_class_ids.size() != gt_masks.size()) {
    return absl::InvalidArgumentError(absl::StrCat("legacy compute_ap: ", gt_class_ids.size(),
                                                   " ground-truth class ids but ", gt_masks.size(),
                                                   " masks"));
  }
  if (pred_class_ids.size() != pred_masks.size() || pred_scores.size() != pred_masks.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "legacy compute_ap: ", pred_class_ids.size(), " prediction class ids, ", pred_scores.size(),
        " scores and ", pred_masks.size(), " masks; they must match"));
  }
  if (gt_masks.empty()) {
    return absl::InvalidArgumentError(
        "legacy compute_ap: the image has no ground truth, so recall (and AP) is undefined");
  }
  const Rle& first = gt_masks[0];
  for (const std::vector<Rle>* list : {&gt_masks, &pred_masks}) {
    for (size_t j = 0; j < list->size(); ++j) {
      const Rle& m = (*list)[j];
      if (m.height != first.height || m.width != first.width) {
        return absl::InvalidArgumentError(
            absl::StrCat("legacy compute_ap: ", list == &gt_masks ? "ground-truth" : "predicted",
                         " mask ", j, " is ", m.height, "x", m.width,
                         " but ground-truth mask 0 is ", first.height, "x", first.width));
      }
      if (absl::Status s = ValidateRle(m); !s.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("legacy compute_ap: mask ", j, ": ", s.message()));
      }
    }
  }
  const size_t N = pred_masks.size(), G = gt_masks.size();
  // numpy's argsort(scores)[::-1]: ascending (ties in index order, as numpy's small-array sort
  // keeps them), then reversed.
  std::vector<size_t> order(N);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return pred_scores[a] < pred_scores[b]; });
  std::reverse(order.begin(), order.end());

  LegacyVocApResult result;
  result.overlaps.assign(N * G, 0.f);
  std::vector<uint64_t> gt_area(G);
  for (size_t g = 0; g < G; ++g) gt_area[g] = RleArea(gt_masks[g]);
  for (size_t n = 0; n < N; ++n) {
    const Rle& pm = pred_masks[order[n]];
    const uint64_t pa = RleArea(pm);
    for (size_t g = 0; g < G; ++g) {
      // Intersection from the union of the two masks: |A and B| = |A| + |B| - |A or B|.
      const Rle uni = RleMerge({pm, gt_masks[g]}, /*intersect=*/false).value();
      const uint64_t u = RleArea(uni);
      const uint64_t inter = pa + gt_area[g] - u;
      result.overlaps[n * G + g] = u == 0 ? 0.f : static_cast<float>(inter) / static_cast<float>(u);
    }
  }

  std::vector<long> gt_match(G, -1), pred_match(N, -1);
  for (size_t n = 0; n < N; ++n) {
    std::vector<size_t> by_iou(G);
    std::iota(by_iou.begin(), by_iou.end(), 0);
    const float* row = result.overlaps.data() + n * G;  // not &overlaps[...]: empty when G == 0
    std::stable_sort(by_iou.begin(), by_iou.end(),
                     [&](size_t a, size_t b) { return row[a] < row[b]; });
    std::reverse(by_iou.begin(), by_iou.end());
    for (size_t g : by_iou) {
      if (gt_match[g] > 0) continue;  // matterport's test: a match to prediction 0 looks free
      if (static_cast<double>(row[g]) < iou_threshold) break;
      if (pred_class_ids[order[n]] == gt_class_ids[g]) {
        gt_match[g] = static_cast<long>(n);
        pred_match[n] = static_cast<long>(g);
        break;
      }
    }
  }

  result.precisions.assign(N + 2, 0);
  result.recalls.assign(N + 2, 0);
  long matched = 0;
  for (size_t n = 0; n < N; ++n) {
    matched += pred_match[n] > -1;
    result.precisions[n + 1] = static_cast<double>(matched) / static_cast<double>(n + 1);
    result.recalls[n + 1] = static_cast<float>(matched) / static_cast<float>(G);
  }
  result.recalls[N + 1] = 1;
  for (size_t i = N + 1; i-- > 0;) {
    result.precisions[i] = std::max(result.precisions[i], result.precisions[i + 1]);
  }
  double ap = 0;
  for (size_t i = 1; i < N + 2; ++i) {
    if (result.recalls[i - 1] != result.recalls[i]) {
      ap += (result.recalls[i] - result.recalls[i - 1]) * result.precisions[i];
    }
  }
  result.ap = ap;
  return result;
}

}  // namespace mrcnn::eval
