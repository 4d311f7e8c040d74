// ResampleAccumulator and the per-image file: every image once gives pycocotools' numbers (the shared
// cases' expected files) and the evaluation's own; leaving images out equals evaluating only the
// others (Params::img_ids); a save/load round trip keeps every value; damaged files are refused by
// name. The differential test against pycocotools on repeated images is per_image_pycocotools_test.
#include "eval/per_image.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "eval/coco_json.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace mrcnn::eval {
namespace {

using nlohmann::json;

const std::string kDir = "tests/testdata/coco_eval/";

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return json::parse(s.str());
}

struct Case {
  CocoDataset gt;
  std::vector<Detection> dts;
};

Case LoadCase(const std::string& name) {
  Case c;
  c.gt = LoadCocoGroundTruth(kDir + "gt_" + name + ".json").value();
  c.dts = LoadCocoResults(kDir + "dt_" + name + ".json", c.gt, true).value();
  return c;
}

EvalOptions Keeping() {
  EvalOptions o;
  o.ignore_unknown_categories = true;
  o.keep_per_image = true;
  o.num_threads = 2;
  return o;
}

class PerImageCaseTest : public testing::TestWithParam<std::string> {};

TEST_P(PerImageCaseTest, EveryImageOnceGivesPycocotoolsNumbers) {
  const Case c = LoadCase(GetParam());
  const json expected = ReadJson(kDir + "expected_" + GetParam() + ".json");
  for (IouType type : {IouType::kBbox, IouType::kSegm}) {
    SCOPED_TRACE(IouTypeName(type));
    CocoEvalResult r = EvaluateCoco(c.gt, c.dts, type, Params(), Keeping()).value();
    ASSERT_NE(r.per_image, nullptr);
    ResampleAccumulator acc = ResampleAccumulator::Create(r.per_image).value();
    const ResampleStats s = acc.Accumulate(std::vector<int>(acc.num_images(), 1));
    const json& want = expected[IouTypeName(type)];
    for (int j = 0; j < 12; ++j) {
      EXPECT_NEAR(s.stats[j], want["stats"][j].get<double>(), 1e-9) << kStatNames[j];
      EXPECT_NEAR(s.stats[j], r.stats[j], 1e-12) << kStatNames[j];
    }
    for (size_t k = 0; k < r.cat_ids.size(); ++k) {
      EXPECT_NEAR(s.per_category_ap[k],
                  want["per_category_ap"][std::to_string(r.cat_ids[k])].get<double>(), 1e-9);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(SharedCases, PerImageCaseTest,
                         testing::Values("a_tiny", "a_small", "a_ties", "a_medium"));

TEST(PerImageTest, LeavingImagesOutEqualsEvaluatingTheOthers) {
  const Case c = LoadCase("a_ties");
  std::mt19937 rng(7);
  for (IouType type : {IouType::kBbox, IouType::kSegm}) {
    CocoEvalResult r = EvaluateCoco(c.gt, c.dts, type, Params(), Keeping()).value();
    ResampleAccumulator acc = ResampleAccumulator::Create(r.per_image).value();
    for (int trial = 0; trial < 5; ++trial) {
      std::vector<int> counts(acc.num_images());
      Params subset;
      for (int i = 0; i < acc.num_images(); ++i) {
        counts[i] = rng() % 3 == 0 ? 0 : 1;
        if (counts[i]) subset.img_ids.push_back(r.per_image->img_ids[i]);
      }
      CocoEvalResult direct = EvaluateCoco(c.gt, c.dts, type, subset, Keeping()).value();
      const ResampleStats s = acc.Accumulate(counts);
      for (int j = 0; j < 12; ++j) EXPECT_NEAR(s.stats[j], direct.stats[j], 1e-12) << kStatNames[j];
    }
  }
}

TEST(PerImageTest, NoImageGivesMinusOneThroughout) {
  const Case c = LoadCase("a_small");
  CocoEvalResult r = EvaluateCoco(c.gt, c.dts, IouType::kBbox, Params(), Keeping()).value();
  ResampleAccumulator acc = ResampleAccumulator::Create(r.per_image).value();
  const ResampleStats s = acc.Accumulate(std::vector<int>(acc.num_images(), 0));
  for (double v : s.stats) EXPECT_EQ(v, -1);
}

TEST(PerImageTest, SaveLoadRoundTripAndDamagedFiles) {
  const Case c = LoadCase("a_small");
  CocoEvalResult r = EvaluateCoco(c.gt, c.dts, IouType::kSegm, Params(), Keeping()).value();
  const std::string path = std::string(std::getenv("TEST_TMPDIR")) + "/segm.pie";
  ASSERT_TRUE(SavePerImageEval(*r.per_image, path).ok());
  absl::StatusOr<std::shared_ptr<const PerImageEval>> back = LoadPerImageEval(path);
  ASSERT_TRUE(back.ok()) << back.status();
  const PerImageEval& a = *r.per_image;
  const PerImageEval& b = **back;
  EXPECT_EQ(b.iou_type, IouType::kSegm);
  EXPECT_EQ(a.img_ids, b.img_ids);
  EXPECT_EQ(a.cat_ids, b.cat_ids);
  EXPECT_EQ(a.iou_thrs, b.iou_thrs);
  EXPECT_EQ(a.rec_thrs, b.rec_thrs);
  EXPECT_EQ(a.max_dets, b.max_dets);
  EXPECT_EQ(a.area_rng, b.area_rng);
  EXPECT_EQ(a.area_rng_lbl, b.area_rng_lbl);
  ASSERT_EQ(a.cells.size(), b.cells.size());
  for (size_t j = 0; j < a.cells.size(); ++j) {
    EXPECT_EQ(a.cells[j].k, b.cells[j].k);
    EXPECT_EQ(a.cells[j].i, b.cells[j].i);
    EXPECT_EQ(a.cells[j].scores, b.cells[j].scores);
    EXPECT_EQ(a.cells[j].num_counted_gt, b.cells[j].num_counted_gt);
    EXPECT_EQ(a.cells[j].flags, b.cells[j].flags);
  }
  const ResampleStats s =
      ResampleAccumulator::Create(*back).value().Accumulate(std::vector<int>(a.img_ids.size(), 1));
  for (int j = 0; j < 12; ++j) EXPECT_NEAR(s.stats[j], r.stats[j], 1e-12);

  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    bytes = ss.str();
  }
  const auto write = [&](const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
  };
  const auto expect_error = [&](const std::string& what) {
    absl::StatusOr<std::shared_ptr<const PerImageEval>> l = LoadPerImageEval(path);
    ASSERT_FALSE(l.ok());
    EXPECT_NE(l.status().message().find(path), std::string::npos) << l.status();
    EXPECT_NE(l.status().message().find(what), std::string::npos) << l.status();
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  write(flipped);
  expect_error("checksum");
  write(bytes.substr(0, bytes.size() - 100));
  expect_error("checksum");
  write("MRCNNPIE");
  expect_error("not a per-image evaluation file");
  write("{\"json\": true, \"padding\": 12345678}");
  expect_error("not a per-image evaluation file");
  std::filesystem::remove(path);
  EXPECT_EQ(LoadPerImageEval(path).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace mrcnn::eval
