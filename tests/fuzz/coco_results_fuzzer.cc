// COCO results (eval/coco_json.h ParseCocoResults): the input is a results file, read against a small
// fixed ground truth (images 1: 10x12 and 2: 6x5, categories 1 and 2). Parsed detections are then
// evaluated (bbox and segm) as the coco_eval tool does. The first byte's low bit
// picks ignore_unknown_categories; the rest is the file.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "eval/coco_eval.h"
#include "eval/coco_json.h"

namespace {

// Each image has one polygon object and one box-only crowd region.
constexpr char kGroundTruth[] = R"({
  "images": [{"id": 1, "height": 10, "width": 12}, {"id": 2, "height": 6, "width": 5}],
  "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
  "annotations": [
    {"id": 1, "image_id": 1, "category_id": 1, "area": 20, "bbox": [2, 2, 5, 4],
     "segmentation": [[2, 2, 7, 2, 7, 6, 2, 6]], "iscrowd": 0},
    {"id": 2, "image_id": 1, "category_id": 2, "area": 9, "bbox": [8, 5, 3, 3],
     "segmentation": {"size": [10, 12], "counts": [85, 3, 7, 3, 7, 3, 12]}, "iscrowd": 1},
    {"id": 3, "image_id": 2, "category_id": 2, "area": 6, "bbox": [1, 1, 3, 2],
     "segmentation": [[1, 1, 4, 1, 4, 3, 1, 3]], "iscrowd": 0}
  ]
})";

const mrcnn::eval::CocoDataset& GroundTruth() {
  static const mrcnn::eval::CocoDataset* gt = [] {
    absl::StatusOr<mrcnn::eval::CocoDataset> parsed =
        mrcnn::eval::ParseCocoGroundTruth(kGroundTruth, "fixed ground truth");
    if (!parsed.ok()) std::abort();  // the harness is broken
    return new mrcnn::eval::CocoDataset(*std::move(parsed));
  }();
  return *gt;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mrcnn::eval;
  if (size < 1) return 0;
  const bool ignore_unknown = (data[0] & 1) != 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  absl::StatusOr<std::vector<Detection>> dts =
      ParseCocoResults(text, "results.json", GroundTruth(), ignore_unknown);
  if (!dts.ok()) return 0;
  (void)EvaluateCoco(GroundTruth(), *dts, IouType::kBbox);
  // Segm draws box-only results as polygons; far-away boxes are valid but only slow (a 1e6-pixel edge
  // is sampled 5e6 times), so the harness keeps them out.
  for (const Detection& d : *dts) {
    if (!d.mask && d.bbox && !(std::fabs(d.bbox->x) + d.bbox->w <= 4096 &&
                               std::fabs(d.bbox->y) + d.bbox->h <= 4096)) {
      return 0;
    }
  }
  (void)EvaluateCoco(GroundTruth(), *dts, IouType::kSegm);
  return 0;
}
