// COCO detection evaluation (box and mask mean average precision) giving pycocotools' numbers.
//
// This is pycocotools' COCOeval for iouType "bbox" and "segm": per image and category, detections
// sorted by score (stable) and cut to the largest maxDets are matched greedily to ground truth at
// each IoU threshold (crowd regions may absorb several detections and are ignored, as are objects
// outside the area range); then precision is accumulated over images at 101 recall points with the
// precision envelope, and summarised into the 12 standard numbers. Absent categories give -1.
//
// The ground truth is prepared once (indexing, polygon rasterisation), so a trainer can evaluate
// every epoch cheaply:
//
//   EvalOptions options;
//   options.num_threads = 4;
//   CocoEvaluator evaluator =
//       CocoEvaluator::Create(dataset, IouType::kSegm, Params(), options).value();
//   CocoEvalResult r = evaluator.Evaluate(detections).value();
//   std::cout << r.Summary();  // the familiar 12 lines
//   double ap = r.stats[0];    // AP @[ IoU=0.50:0.95 | area=all | maxDets=100 ]
//
// Differences from pycocotools, all on inputs pycocotools mishandles: invalid input (unknown image
// ids, malformed masks, negative box sizes, ...) is an error instead of an assertion or a silently
// odd number; detections of categories missing from the ground truth are an error unless
// `ignore_unknown_categories` is set (pycocotools ignores them); matches are tracked by flags
// rather than by annotation ids, so a ground-truth id of 0 is not mistaken for "unmatched".
#ifndef EVAL_COCO_EVAL_H_
#define EVAL_COCO_EVAL_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/rle.h"

namespace mrcnn::eval {

enum class IouType { kBbox, kSegm };

// "bbox" / "segm".
const char* IouTypeName(IouType type);
absl::StatusOr<IouType> ParseIouType(const std::string& name);

struct CocoImage {
  int64_t id = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::string file_name;
};

struct CocoCategory {
  int64_t id = 0;
  std::string name;
};

// An object's shape: polygons (their union; COCO's list of flat [x0, y0, x1, y1, ...] lists) or an
// RLE mask of the image's size. Either may be empty when only boxes are evaluated.
struct CocoSegmentation {
  std::vector<std::vector<double>> polygons;
  std::optional<Rle> rle;
};

// One ground-truth object. `area` decides the small/medium/large split (COCO stores it; it is not
// recomputed from the box or the mask).
struct CocoAnnotation {
  int64_t id = 0;
  int64_t image_id = 0;
  int64_t category_id = 0;
  Box bbox;
  double area = 0;
  bool iscrowd = false;
  CocoSegmentation segmentation;
};

struct CocoDataset {
  std::vector<CocoImage> images;
  std::vector<CocoCategory> categories;
  std::vector<CocoAnnotation> annotations;
};

// One detection. Its position in the list is its identity: equal scores within an image keep list
// order. Box evaluation uses `bbox` (or the mask's tight box when absent); mask evaluation uses
// `mask` (or the box drawn as a polygon when absent, as pycocotools does for box-only results).
// `area` decides the area range of an unmatched detection; when unset it is bbox w*h if a box is
// given, otherwise the mask's pixel count (pycocotools' loadRes rule).
struct Detection {
  int64_t image_id = 0;
  int64_t category_id = 0;
  double score = 0;
  std::optional<Box> bbox;
  std::optional<Rle> mask;
  std::optional<double> area;
};

// pycocotools' Params for detection, with its defaults. Ids and maxDets are sorted and deduplicated
// before use, as COCOeval.evaluate() does.
struct Params {
  Params();
  std::vector<int64_t> img_ids;                 // empty: every ground-truth image
  std::vector<int64_t> cat_ids;                 // empty: every ground-truth category
  std::vector<double> iou_thrs;                 // numpy.linspace(0.5, 0.95, 10)
  std::vector<double> rec_thrs;                 // numpy.linspace(0, 1, 101)
  std::vector<int> max_dets;                    // 1, 10, 100
  std::vector<std::array<double, 2>> area_rng;  // [0, 1e10], [0, 32^2], [32^2, 96^2], [96^2, 1e10]
  std::vector<std::string> area_rng_lbl;        // all, small, medium, large
  bool use_cats = true;
};

struct EvalOptions {
  int num_threads = 1;  // images are evaluated in parallel on this many std::threads
  // Keep the per-image matching results (CocoEvalResult::per_image), so that AP over any multiset of
  // the evaluated images can be recomputed later without the detections (eval/per_image.h).
  bool keep_per_image = false;
  // Drop detections whose category is not in the ground truth (pycocotools' behaviour) instead of
  // failing.
  bool ignore_unknown_categories = false;
};

// evaluateImg's result for one (category, image) cell that has ground truth or detections: what
// pycocotools keeps in evalImgs, for every area range and IoU threshold at once.
struct ImageCategoryMatches {
  int k = 0;                        // index into PerImageEval::cat_ids
  int i = 0;                        // index into PerImageEval::img_ids
  std::vector<double> scores;       // [D] the detections kept (top maxDets), highest score first
  // [A] ground truth that is not ignored in each area range. pycocotools' gtIgnore flags enter
  // accumulate() only through this count.
  std::vector<int> num_counted_gt;
  std::vector<uint8_t> flags;  // [A, T, D]: bit 0 matched, bit 1 ignored (dtMatches > 0, dtIgnore)
};

// Every cell of one evaluation, with the parameters that shape them; cells ordered by (k, i).
struct PerImageEval {
  IouType iou_type = IouType::kBbox;
  std::vector<int64_t> img_ids;  // [I] the evaluated images, ascending
  std::vector<int64_t> cat_ids;  // [K] {-1} when use_cats is false
  std::vector<double> iou_thrs;  // [T]
  std::vector<double> rec_thrs;  // [R]
  std::vector<int> max_dets;     // [M]
  std::vector<std::array<double, 2>> area_rng;  // [A]
  std::vector<std::string> area_rng_lbl;        // [A]
  std::vector<ImageCategoryMatches> cells;
};

// Names of the 12 summary numbers, in pycocotools' order.
extern const std::array<const char*, 12> kStatNames;

struct CocoEvalResult {
  IouType iou_type = IouType::kBbox;
  Params params;                 // as used: ids resolved, sorted and deduplicated
  std::vector<int64_t> cat_ids;  // index k of the arrays; {-1} when use_cats is false
  int T = 0, R = 0, K = 0, A = 0, M = 0;
  std::vector<double> precision;   // [T, R, K, A, M] row-major; -1 where no ground truth counts
  std::vector<double> recall;      // [T, K, A, M]
  std::vector<double> scores;      // [T, R, K, A, M] score at each recall threshold
  std::array<double, 12> stats{};  // AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl
  // Mean precision over IoU and recall thresholds at area "all", 100 detections; -1 when absent.
  std::map<int64_t, double> per_category_ap;
  // With EvalOptions::keep_per_image: the matching results this accumulation was made from.
  std::shared_ptr<const PerImageEval> per_image;

  double Precision(int t, int r, int k, int a, int m) const {
    return precision[(((static_cast<size_t>(t) * R + r) * K + k) * A + a) * M + m];
  }
  double Recall(int t, int k, int a, int m) const {
    return recall[((static_cast<size_t>(t) * K + k) * A + a) * M + m];
  }
  // pycocotools' summarize() printout: 12 lines " Average Precision  (AP) @[ IoU=0.50:0.95 | ...".
  std::string Summary() const;
};

class CocoEvaluator {
 public:
  // Checks and indexes the ground truth; for kSegm also rasterises every object's mask.
  static absl::StatusOr<CocoEvaluator> Create(CocoDataset ground_truth, IouType iou_type,
                                              Params params = Params(), EvalOptions options = {});

  // Evaluates one set of detections against the ground truth. Errors name the detection (its index
  // in the list) and the reason.
  absl::StatusOr<CocoEvalResult> Evaluate(const std::vector<Detection>& detections) const;

  const CocoDataset& ground_truth() const;
  CocoEvaluator(CocoEvaluator&&) noexcept;
  CocoEvaluator& operator=(CocoEvaluator&&) noexcept;
  ~CocoEvaluator();

 private:
  friend absl::StatusOr<CocoEvalResult> EvaluateCoco(const CocoDataset&,
                                                     const std::vector<Detection>&, IouType,
                                                     const Params&, const EvalOptions&);
  struct State;
  // pycocotools' evaluate() in two steps over the State (coco_eval.cc); accumulate() and summarize()
  // need only their results.
  struct Stages;
  explicit CocoEvaluator(std::unique_ptr<State> state);
  // Uses `ground_truth` in place; it must outlive the evaluator.
  static absl::StatusOr<CocoEvaluator> CreateBorrowing(const CocoDataset& ground_truth,
                                                       IouType iou_type, Params params,
                                                       EvalOptions options);
  static absl::StatusOr<CocoEvaluator> Prepare(std::unique_ptr<State> state, IouType iou_type,
                                               Params params, EvalOptions options);
  std::unique_ptr<State> state_;
};

// One call: Create + Evaluate.
absl::StatusOr<CocoEvalResult> EvaluateCoco(const CocoDataset& ground_truth,
                                            const std::vector<Detection>& detections,
                                            IouType iou_type, const Params& params = Params(),
                                            const EvalOptions& options = {});

}  // namespace mrcnn::eval

#endif  // EVAL_COCO_EVAL_H_
