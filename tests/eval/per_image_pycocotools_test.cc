// Differential test of the bootstrap's accumulation: seeded resamples (multisets of the evaluated
// images) of the random cases of pycocotools_diff.py and of the shared a_ties case (almost every
// score tied), each built for pycocotools as a dataset with every copy of an image a new image
// (tests/eval/bootstrap_pycocotools_diff.py). ResampleAccumulator, working only from the per-image
// results of the original evaluation, must give pycocotools' 12 numbers and per-category AP within
// 1e-9. Skipped, with the reason, when no Python with pycocotools is found.
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "eval/coco_eval.h"
#include "eval/coco_json.h"
#include "eval/per_image.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/eval/find_python.h"

namespace mrcnn::eval {
namespace {

using nlohmann::json;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing " << path;
  std::stringstream s;
  s << in.rdbuf();
  return json::parse(s.str());
}

TEST(PerImagePycocotoolsTest, ResamplesMatchPycocotoolsOnDuplicatedImages) {
  const std::string python = FindPycocotoolsPython();
  if (python.empty()) GTEST_SKIP() << kNoPycocotools;
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string out = std::string(tmp ? tmp : "/tmp") + "/bootstrap_diff";
  const std::string ties = "tests/testdata/coco_eval/";
  const std::string cmd = "'" + python + "' tests/eval/bootstrap_pycocotools_diff.py --seeds 1-60" +
                          " --resamples 5 --case ties_bbox " + ties + "gt_a_ties.json " + ties +
                          "dt_a_ties.json bbox --case ties_segm " + ties + "gt_a_ties.json " +
                          ties + "dt_a_ties.json segm --out '" + out + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;

  int resamples = 0, with_repeats = 0;
  for (const std::string name : ReadJson(out + "/cases.json")) {
    SCOPED_TRACE("case " + name);
    const std::string dir = out + "/" + name + "/";
    const json config = ReadJson(dir + "config.json");
    absl::StatusOr<CocoDataset> gt = LoadCocoGroundTruth(dir + "gt.json");
    ASSERT_TRUE(gt.ok()) << gt.status();
    const bool ignore_unknown = config["ignore_unknown_categories"];
    absl::StatusOr<std::vector<Detection>> dts = LoadCocoResults(dir + "dt.json", *gt, ignore_unknown);
    ASSERT_TRUE(dts.ok()) << dts.status();
    Params params;
    params.use_cats = config["use_cats"].get<int>() == 1;
    params.max_dets = config["max_dets"].get<std::vector<int>>();
    params.img_ids = config["img_ids"].get<std::vector<int64_t>>();
    params.cat_ids = config["cat_ids"].get<std::vector<int64_t>>();
    EvalOptions options;
    options.ignore_unknown_categories = ignore_unknown;
    options.keep_per_image = true;
    absl::StatusOr<CocoEvalResult> r =
        EvaluateCoco(*gt, *dts, ParseIouType(config["iou_type"]).value(), params, options);
    ASSERT_TRUE(r.ok()) << r.status();
    absl::StatusOr<ResampleAccumulator> acc = ResampleAccumulator::Create(r->per_image);
    ASSERT_TRUE(acc.ok()) << acc.status();
    for (const json& resample : ReadJson(dir + "resamples.json")) {
      const std::vector<int> counts = resample["counts"];
      SCOPED_TRACE("counts " + resample["counts"].dump());
      ASSERT_EQ(static_cast<int>(counts.size()), acc->num_images());
      const ResampleStats s = acc->Accumulate(counts);
      for (int j = 0; j < 12; ++j) {
        EXPECT_NEAR(s.stats[j], resample["stats"][j].get<double>(), 1e-9) << kStatNames[j];
      }
      for (size_t k = 0; k < r->cat_ids.size(); ++k) {
        EXPECT_NEAR(s.per_category_ap[k],
                    resample["per_category_ap"][std::to_string(r->cat_ids[k])].get<double>(), 1e-9)
            << "category " << r->cat_ids[k];
      }
      ++resamples;
      for (int c : counts) {
        if (c > 1) {
          ++with_repeats;
          break;
        }
      }
    }
  }
  // Most resamples repeat some image; the test is about those.
  EXPECT_GT(with_repeats, 150);
  RecordProperty("resamples", resamples);
  RecordProperty("resamples_with_repeated_images", with_repeats);
}

}  // namespace
}  // namespace mrcnn::eval
