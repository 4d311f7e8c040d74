// Reading COCO ground truth and results files, and writing evaluation results, as JSON.
//
// Ground truth is COCO's instances format (images, categories, annotations with bbox, area, iscrowd
// and polygon or RLE segmentation). Results are the standard list of {image_id, category_id, score,
// bbox and/or segmentation (RLE)}. Results are read as pycocotools' loadRes reads them: when the
// first result has a bbox, every result needs one and a result's area is the box's w*h; otherwise
// every result needs a segmentation and its area is the mask's pixel count (its bbox, if given, is
// kept). Every error names the file, the item and the reason:
//
//   CocoDataset gt = LoadCocoGroundTruth("instances_val.json").value();
//   std::vector<Detection> dts = LoadCocoResults("results.json", gt).value();
//   CocoEvalResult r = EvaluateCoco(gt, dts, IouType::kBbox).value();
//   std::cout << CocoEvalResultToJson(r).dump(2);
#ifndef EVAL_COCO_JSON_H_
#define EVAL_COCO_JSON_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "eval/coco_eval.h"
#include "nlohmann/json.hpp"

namespace mrcnn::eval {

// `source` names the text in error messages (usually the file name).
absl::StatusOr<CocoDataset> ParseCocoGroundTruth(const std::string& text,
                                                 const std::string& source);
absl::StatusOr<CocoDataset> LoadCocoGroundTruth(const std::string& path);

// Results must name images of `gt` and masks of those images' sizes; a category missing from `gt`
// is an error, or with `ignore_unknown_categories` the result is dropped (as pycocotools ignores
// it).
absl::StatusOr<std::vector<Detection>> ParseCocoResults(const std::string& text,
                                                        const std::string& source,
                                                        const CocoDataset& gt,
                                                        bool ignore_unknown_categories = false);
absl::StatusOr<std::vector<Detection>> LoadCocoResults(const std::string& path,
                                                       const CocoDataset& gt,
                                                       bool ignore_unknown_categories = false);

// Results in the standard format (masks as compressed RLE), e.g. to save a model's detections.
nlohmann::json DetectionsToJson(const std::vector<Detection>& detections);

// {"iou_type", "stats": {"AP": ..., ...}, "stats_list": [12], "per_category_ap": {"<id>": ap},
//  "params": {...}}.
nlohmann::json CocoEvalResultToJson(const CocoEvalResult& result);

}  // namespace mrcnn::eval

#endif  // EVAL_COCO_JSON_H_
