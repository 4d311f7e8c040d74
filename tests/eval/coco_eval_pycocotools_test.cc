// Differential test: random cases (tests/eval/pycocotools_diff.py, seeded) evaluated by pycocotools
// at test time and by us; every summary number, per-category AP and the full precision and recall
// arrays must agree within 1e-9. Skipped, with the reason, when no Python with pycocotools is
// found.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "eval/coco_eval.h"
#include "eval/coco_json.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/eval/find_python.h"

namespace mrcnn::eval {
namespace {

using nlohmann::json;

constexpr int kFirstSeed = 1;
constexpr int kLastSeed = 80;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing " << path;
  std::stringstream s;
  s << in.rdbuf();
  return json::parse(s.str());
}

TEST(CocoEvalPycocotoolsTest, RandomCasesMatch) {
  const std::string python = FindPycocotoolsPython();
  if (python.empty()) GTEST_SKIP() << kNoPycocotools;
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string out = std::string(tmp ? tmp : "/tmp") + "/pycocotools_diff";
  const std::string cmd = "'" + python + "' tests/eval/pycocotools_diff.py --seeds " +
                          std::to_string(kFirstSeed) + "-" + std::to_string(kLastSeed) +
                          " --out '" + out + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  int compared_values = 0;
  int inexact_values = 0;  // within 1e-9 but not bit-identical (recorded, not asserted)
  for (int seed = kFirstSeed; seed <= kLastSeed; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const std::string dir = out + "/" + std::to_string(seed) + "/";
    const json config = ReadJson(dir + "config.json");
    const json expected = ReadJson(dir + "expected.json");
    absl::StatusOr<CocoDataset> gt = LoadCocoGroundTruth(dir + "gt.json");
    ASSERT_TRUE(gt.ok()) << gt.status();
    const bool ignore_unknown = config["ignore_unknown_categories"];
    absl::StatusOr<std::vector<Detection>> dts =
        LoadCocoResults(dir + "dt.json", *gt, ignore_unknown);
    ASSERT_TRUE(dts.ok()) << dts.status();
    Params params;
    params.use_cats = config["use_cats"].get<int>() == 1;
    params.max_dets = config["max_dets"].get<std::vector<int>>();
    params.img_ids = config["img_ids"].get<std::vector<int64_t>>();
    params.cat_ids = config["cat_ids"].get<std::vector<int64_t>>();
    EvalOptions options;
    options.num_threads = 1 + seed % 3;
    options.ignore_unknown_categories = ignore_unknown;
    absl::StatusOr<IouType> type = ParseIouType(config["iou_type"]);
    ASSERT_TRUE(type.ok());
    absl::StatusOr<CocoEvalResult> r = EvaluateCoco(*gt, *dts, *type, params, options);
    ASSERT_TRUE(r.ok()) << r.status();

    for (int j = 0; j < 12; ++j) {
      EXPECT_NEAR(r->stats[j], expected["stats"][j].get<double>(), 1e-9) << kStatNames[j];
    }
    EXPECT_EQ(r->cat_ids, expected["cat_ids"].get<std::vector<int64_t>>());
    for (const auto& [id, ap] : expected["per_category_ap"].items()) {
      EXPECT_NEAR(r->per_category_ap.at(std::stoll(id)), ap.get<double>(), 1e-9)
          << "category " << id;
    }
    EXPECT_EQ((std::vector<int>{r->T, r->R, r->K, r->A, r->M}),
              expected["precision_shape"].get<std::vector<int>>());
    const std::vector<double> precision = expected["precision"];
    const std::vector<double> recall = expected["recall"];
    ASSERT_EQ(r->precision.size(), precision.size());
    ASSERT_EQ(r->recall.size(), recall.size());
    int bad = 0;
    for (int j = 0; j < 12; ++j)
      inexact_values += r->stats[j] != expected["stats"][j].get<double>();
    for (size_t j = 0; j < precision.size(); ++j) {
      inexact_values += r->precision[j] != precision[j];
      if (std::abs(r->precision[j] - precision[j]) > 1e-9 && ++bad <= 5) {
        ADD_FAILURE() << "precision[" << j << "] = " << r->precision[j] << ", pycocotools "
                      << precision[j];
      }
    }
    for (size_t j = 0; j < recall.size(); ++j) {
      inexact_values += r->recall[j] != recall[j];
      if (std::abs(r->recall[j] - recall[j]) > 1e-9 && ++bad <= 5) {
        ADD_FAILURE() << "recall[" << j << "] = " << r->recall[j] << ", pycocotools " << recall[j];
      }
    }
    EXPECT_EQ(bad, 0);
    compared_values += static_cast<int>(precision.size() + recall.size());
  }
  RecordProperty("compared_values", compared_values);
  RecordProperty("inexact_values", inexact_values);
}

}  // namespace
}  // namespace mrcnn::eval
