// Differential test: random cases (tests/eval/pycocotools_diff.py, seeded) evaluated by pycocotools
// at test time and by us; every summary number, per-category AP and the full precision and recall
// arrays must agree within 1e-9. Skipped, with the reason, when no Python with pycocotools is
// found.
#include <glob.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "eval/coco_eval.h"
#include "eval/coco_json.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace mrcnn::eval {
namespace {

using nlohmann::json;

constexpr int kFirstSeed = 1;
constexpr int kLastSeed = 80;

bool HasPycocotools(const std::string& python) {
  const std::string cmd = "'" + python + "' -c 'import pycocotools.cocoeval' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// Bazel gives tests a minimal PATH and a temporary HOME, so besides `python3` on PATH try the usual
// places of a pip-installed pycocotools: $PYCOCOTOOLS_PYTHON, pyenv versions under the real home
// directory, /usr/local/bin, /usr/bin.
std::string FindPython() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("PYCOCOTOOLS_PYTHON")) candidates.push_back(env);
  candidates.push_back("python3");
  std::vector<std::string> homes;
  if (const passwd* pw = getpwuid(getuid())) homes.push_back(pw->pw_dir);
  homes.push_back("/root");
  for (const std::string& home : homes) {
    glob_t g;
    const std::string pattern = home + "/.pyenv/versions/*/bin/python3";
    if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) candidates.push_back(g.gl_pathv[i]);
    }
    globfree(&g);
  }
  candidates.push_back("/usr/local/bin/python3");
  candidates.push_back("/usr/bin/python3");
  for (const std::string& c : candidates) {
    if (HasPycocotools(c)) return c;
  }
  return "";
}

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing " << path;
  std::stringstream s;
  s << in.rdbuf();
  return json::parse(s.str());
}

TEST(CocoEvalPycocotoolsTest, RandomCasesMatch) {
  const std::string python = FindPython();
  if (python.empty()) {
    GTEST_SKIP() << "no Python with pycocotools found (tried $PYCOCOTOOLS_PYTHON, python3 on PATH, "
                    "~/.pyenv/versions/*/bin/python3, /usr/local/bin/python3, /usr/bin/python3); "
                    "install it with `pip install pycocotools` (setup.sh does)";
  }
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
