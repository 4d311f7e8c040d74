// Evaluates a COCO results file against COCO ground truth, printing pycocotools' 12-line summary.
//
//   bazel run //eval:coco_eval -- --gt=GT.json --results=DT.json --iou_type=bbox|segm
//       [--json=OUT.json] [--threads=N] [--ignore_unknown_categories] [--no_use_cats]
//       [--max_dets=1,10,100]
#include <fstream>
#include <iostream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "eval/coco_eval.h"
#include "eval/coco_json.h"
#include "gflags/gflags.h"
#include "mrcnn/config/help.h"
#include "mrcnn/config/untrusted.h"

DEFINE_string(gt, "", "COCO ground-truth JSON (instances format).");
DEFINE_string(results, "", "COCO results JSON (list of detections).");
DEFINE_string(iou_type, "bbox", "bbox or segm.");
DEFINE_string(json, "",
              "Also write the stats and per-category AP as JSON to this file ('-': stdout, "
              "instead of the summary).");
DEFINE_int32(threads, 0, "Threads for the per-image evaluation (0: all cores).");
DEFINE_bool(ignore_unknown_categories, false,
            "Drop results whose category is not in the ground truth (pycocotools ignores them) "
            "instead of failing.");
DEFINE_bool(use_cats, true, "Match detections to ground truth of the same category only.");
DEFINE_string(max_dets, "1,10,100", "Comma-separated detection limits per image.");

namespace {
int Main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "COCO box/mask AP with pycocotools' numbers.\n"
      "Usage: coco_eval --gt=GT.json --results=DT.json --iou_type=bbox|segm [--json=OUT.json]");
  mrcnn::ParseFlags(&argc, &argv);
  if (argc > 1) {
    std::cerr << "coco_eval: unexpected argument '" << argv[1] << "'\n";
    return 2;
  }
  if (FLAGS_gt.empty() || FLAGS_results.empty()) {
    std::cerr << "coco_eval: --gt and --results are required\n";
    return 2;
  }
  namespace ev = mrcnn::eval;
  absl::StatusOr<ev::IouType> iou_type = ev::ParseIouType(FLAGS_iou_type);
  if (!iou_type.ok()) {
    std::cerr << "coco_eval: --iou_type: " << iou_type.status().message() << "\n";
    return 2;
  }
  ev::Params params;
  params.use_cats = FLAGS_use_cats;
  params.max_dets.clear();
  for (absl::string_view part : absl::StrSplit(FLAGS_max_dets, ',')) {
    int v = 0;
    if (!absl::SimpleAtoi(part, &v) || v < 0) {
      std::cerr << "coco_eval: --max_dets: '" << part << "' is not a non-negative integer\n";
      return 2;
    }
    params.max_dets.push_back(v);
  }
  ev::EvalOptions options;
  options.num_threads =
      FLAGS_threads > 0 ? FLAGS_threads : std::max(1u, std::thread::hardware_concurrency());
  options.ignore_unknown_categories = FLAGS_ignore_unknown_categories;

  absl::StatusOr<ev::CocoDataset> gt = ev::LoadCocoGroundTruth(FLAGS_gt);
  if (!gt.ok()) {
    std::cerr << "coco_eval: " << gt.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<std::vector<ev::Detection>> dts =
      ev::LoadCocoResults(FLAGS_results, *gt, FLAGS_ignore_unknown_categories);
  if (!dts.ok()) {
    std::cerr << "coco_eval: " << dts.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<ev::CocoEvaluator> evaluator =
      ev::CocoEvaluator::Create(*std::move(gt), *iou_type, params, options);
  if (!evaluator.ok()) {
    std::cerr << "coco_eval: " << FLAGS_gt << ": " << evaluator.status().message() << "\n";
    return 1;
  }
  absl::StatusOr<ev::CocoEvalResult> result = evaluator->Evaluate(*dts);
  if (!result.ok()) {
    std::cerr << "coco_eval: " << FLAGS_results << ": " << result.status().message() << "\n";
    return 1;
  }
  if (FLAGS_json == "-") {
    std::cout << ev::CocoEvalResultToJson(*result).dump(2) << "\n";
    return 0;
  }
  std::cout << "Evaluate annotation type *" << ev::IouTypeName(*iou_type) << "*\n"
            << result->Summary();
  if (!FLAGS_json.empty()) {
    std::ofstream out(FLAGS_json);
    out << ev::CocoEvalResultToJson(*result).dump(2) << "\n";
    if (!out) {
      std::cerr << "coco_eval: cannot write " << FLAGS_json << "\n";
      return 1;
    }
  }
  return 0;
}
}  // namespace

int main(int argc, char** argv) { return mrcnn::GuardedMain("coco_eval", Main, argc, argv); }
