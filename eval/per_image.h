// Per-image COCO matching results (PerImageEval, eval/coco_eval.h) kept beside an evaluation, and
// AP/AR recomputed from them over any multiset of the evaluated images: the bootstrap's resamples.
//
// Matching (IoUs, greedy assignment) is done once by CocoEvaluator::Evaluate with
// EvalOptions::keep_per_image; a resample only redoes pycocotools' accumulate() and summarize():
//
//   CocoEvalResult r = evaluator.Evaluate(detections).value();       // keep_per_image set
//   ResampleAccumulator acc = ResampleAccumulator::Create(r.per_image).value();
//   std::vector<int> counts(acc.num_images(), 0);                   // image i drawn counts[i] times
//   ...
//   ResampleStats s = acc.Accumulate(counts);                        // s.stats[0]: AP
//
// A multiset equals, in pycocotools, a dataset in which each copy of an image is a new image (new id,
// its annotations copied) and the copies of image i sort after those of images before i and before
// those of images after it: the order in which pycocotools concatenates images decides ties between
// equal scores, so it is part of the definition. With every count 1 the result is the evaluation's own.
//
// On disk (SavePerImageEval / LoadPerImageEval) the results are a small binary file ("MRCNNPIE",
// version 1, little-endian, FNV-1a checksum at the end): about 9 bytes per kept detection plus
// A x T bytes of flags per detection.
#ifndef EVAL_PER_IMAGE_H_
#define EVAL_PER_IMAGE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "eval/coco_eval.h"

namespace mrcnn::eval {

// summarize()'s 12 numbers and the per-category AP (area all, 100 detections; -1 when absent) of one
// multiset of images.
struct ResampleStats {
  std::array<double, 12> stats{};
  std::vector<double> per_category_ap;  // [K], in PerImageEval::cat_ids order
};

class ResampleAccumulator {
 public:
  // Checks the results' shapes (every cell's arrays sized by its parameters) and sorts each
  // category's detections once.
  static absl::StatusOr<ResampleAccumulator> Create(std::shared_ptr<const PerImageEval> results);

  int num_images() const { return static_cast<int>(results_->img_ids.size()); }
  const PerImageEval& results() const { return *results_; }

  // counts: [I] how many times each evaluated image (PerImageEval::img_ids order) is in the
  // multiset; 0 leaves it out. CHECKs the size (a programmer error).
  ResampleStats Accumulate(const std::vector<int>& counts) const;

 private:
  // One category's detections for one detection limit, in the order pycocotools' accumulate()
  // sorts the concatenation of every image's top `limit` detections: score descending, then image,
  // then the detection's place in its image. Per (area range, IoU threshold) only the detections that
  // are not ignored are kept, in runs of equal score within one image: a multiset repeats each run as
  // a whole (copies of an image are concatenated one after another).
  struct Sequence {
    struct Run {
      int begin, end;  // true_positive[begin, end)
      int image;       // i
      int false_positives_only;  // the run's length when it has no true positive, else -1
    };
    std::vector<Run> runs;
    std::vector<uint8_t> true_positive;  // 1: true positive, 0: false positive
  };
  struct CategoryOrder {
    std::vector<Sequence> sequences;  // [A * T]
  };
  explicit ResampleAccumulator(std::shared_ptr<const PerImageEval> results);
  std::shared_ptr<const PerImageEval> results_;
  // Indices into results_->max_dets whose precision the AP numbers read (those of 100 detections
  // and maxDets[2]); every other limit only needs recall.
  std::vector<int> precision_limits_;
  // [K * precision_limits_.size()]: each category's kept detections in merged order.
  std::vector<CategoryOrder> orders_;
  // [K]: the cells of category k in results_->cells are [cell_begin_[k], cell_begin_[k + 1]).
  std::vector<size_t> cell_begin_;
  // Per cell: its image and its ground truth that counts per area range ([cells, A]), stored apart
  // from the cells so that a resample reads them contiguously.
  std::vector<int> cell_image_;
  std::vector<int> cell_counted_gt_;
  // The (area range, detection limit) pairs whose recall the AR numbers read and the precision walk
  // does not give (limits outside precision_limits_), and per cell the matched detections that
  // count there: [cells, recall_slots_.size(), T].
  std::vector<std::pair<int, int>> recall_slots_;
  std::vector<int> true_positives_;
};

// Writes `results` to `path` (replacing it). Errors name the file.
absl::Status SavePerImageEval(const PerImageEval& results, const std::string& path);

// Reads a file written by SavePerImageEval. A truncated, corrupted or foreign file is an error that
// names the file and what is wrong with it.
absl::StatusOr<std::shared_ptr<const PerImageEval>> LoadPerImageEval(const std::string& path);

}  // namespace mrcnn::eval

#endif  // EVAL_PER_IMAGE_H_
