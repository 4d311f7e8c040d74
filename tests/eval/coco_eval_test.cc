// COCOeval against pycocotools' numbers on the shared cases (tests/testdata/coco_eval, expected
// values computed by pycocotools), hand-calculated small cases, threads, and the error paths.
#include "eval/coco_eval.h"

#include <fstream>
#include <sstream>

#include "eval/coco_json.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace mrcnn::eval {
namespace {

using nlohmann::json;

constexpr double kTol = 1e-9;
const char* kDir = "tests/testdata/coco_eval/";

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "missing " << path;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Case {
  CocoDataset gt;
  std::string dt_text;
  json expected;
};

Case LoadCase(const std::string& name) {
  Case c;
  absl::StatusOr<CocoDataset> gt = LoadCocoGroundTruth(std::string(kDir) + "gt_" + name + ".json");
  EXPECT_TRUE(gt.ok()) << gt.status();
  if (gt.ok()) c.gt = *gt;
  c.dt_text = ReadText(std::string(kDir) + "dt_" + name + ".json");
  c.expected = json::parse(ReadText(std::string(kDir) + "expected_" + name + ".json"));
  return c;
}

// "bbox" and "segm" use the results as written; "segm_mask_area" drops every detection's bbox, so a
// detection's area becomes its mask's pixel count.
CocoEvalResult EvalCase(const Case& c, const std::string& mode, int threads = 1) {
  std::string text = c.dt_text;
  if (mode == "segm_mask_area") {
    json dts = json::parse(text);
    for (json& d : dts) d.erase("bbox");
    text = dts.dump();
  }
  // The shared cases include a detection of a category that is not in the ground truth, which
  // pycocotools ignores; the default (an error) is tested below.
  absl::StatusOr<std::vector<Detection>> dts =
      ParseCocoResults(text, "dt", c.gt, /*ignore_unknown_categories=*/true);
  EXPECT_TRUE(dts.ok()) << dts.status();
  EvalOptions options;
  options.num_threads = threads;
  options.ignore_unknown_categories = true;
  absl::StatusOr<CocoEvalResult> r =
      EvaluateCoco(c.gt, dts.ok() ? *dts : std::vector<Detection>{},
                   mode == "bbox" ? IouType::kBbox : IouType::kSegm, Params(), options);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : CocoEvalResult{};
}

class SharedCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(SharedCaseTest, StatsAndPerCategoryApMatchPycocotools) {
  const Case c = LoadCase(GetParam());
  for (const std::string mode : {"bbox", "segm", "segm_mask_area"}) {
    SCOPED_TRACE(GetParam() + " " + mode);
    const CocoEvalResult r = EvalCase(c, mode);
    const json& want = c.expected[mode];
    ASSERT_EQ(want["stats"].size(), 12u);
    for (int j = 0; j < 12; ++j) {
      EXPECT_NEAR(r.stats[j], want["stats"][j].get<double>(), kTol) << kStatNames[j];
    }
    ASSERT_EQ(r.per_category_ap.size(), want["per_category_ap"].size());
    for (const auto& [id, ap] : want["per_category_ap"].items()) {
      auto it = r.per_category_ap.find(std::stoll(id));
      ASSERT_NE(it, r.per_category_ap.end()) << "category " << id;
      EXPECT_NEAR(it->second, ap.get<double>(), kTol) << "category " << id;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, SharedCaseTest,
                         ::testing::Values("a_tiny", "a_small", "a_medium", "a_ties"));

TEST(CocoEvalTest, ParamsDefaultsAreNumpysExactDoubles) {
  const json expected = json::parse(ReadText(std::string(kDir) + "expected_a_tiny.json"))["params"];
  const Params p;
  EXPECT_EQ(p.iou_thrs, expected["iouThrs"].get<std::vector<double>>());
  EXPECT_EQ(p.rec_thrs, expected["recThrs"].get<std::vector<double>>());
  EXPECT_EQ(p.max_dets, expected["maxDets"].get<std::vector<int>>());
  ASSERT_EQ(p.area_rng.size(), 4u);
  for (int a = 0; a < 4; ++a) {
    EXPECT_EQ(p.area_rng[a][0], expected["areaRng"][a][0].get<double>());
    EXPECT_EQ(p.area_rng[a][1], expected["areaRng"][a][1].get<double>());
    EXPECT_EQ(p.area_rng_lbl[a], expected["areaRngLbl"][a].get<std::string>());
  }
}

TEST(CocoEvalTest, TinyDetailArraysMatchPycocotools) {
  const Case c = LoadCase("a_tiny");
  for (const std::string mode : {"bbox", "segm", "segm_mask_area"}) {
    SCOPED_TRACE(mode);
    const CocoEvalResult r = EvalCase(c, mode);
    const json& d = c.expected["details"][mode];
    EXPECT_EQ(r.cat_ids, d["cat_ids"].get<std::vector<int64_t>>());
    EXPECT_EQ((std::vector<int>{r.T, r.R, r.K, r.A, r.M}),
              d["precision_shape"].get<std::vector<int>>());
    EXPECT_EQ((std::vector<int>{r.T, r.K, r.A, r.M}), d["recall_shape"].get<std::vector<int>>());
    for (int t = 0; t < r.T; ++t) {
      for (int k = 0; k < r.K; ++k) {
        for (int a = 0; a < r.A; ++a) {
          for (int m = 0; m < r.M; ++m) {
            EXPECT_NEAR(r.Recall(t, k, a, m), d["recall"][t][k][a][m].get<double>(), kTol)
                << t << " " << k << " " << a << " " << m;
          }
        }
        for (int rr = 0; rr < r.R; ++rr) {
          EXPECT_NEAR(r.Precision(t, rr, k, 0, 2),
                      d["precision_area_all_maxdet100"][t][rr][k].get<double>(), kTol)
              << t << " " << rr << " " << k;
        }
      }
    }
    for (const json& s : d["precision_samples"]) {
      EXPECT_NEAR(r.Precision(s["t"], s["r"], s["k"], s["a"], s["m"]), s["value"].get<double>(),
                  kTol)
          << s.dump();
    }
  }
}

TEST(CocoEvalTest, ThreadsGiveIdenticalResults) {
  const Case c = LoadCase("a_ties");
  for (const std::string mode : {"bbox", "segm"}) {
    const CocoEvalResult one = EvalCase(c, mode, 1);
    for (int threads : {2, 3, 8}) {
      const CocoEvalResult many = EvalCase(c, mode, threads);
      EXPECT_EQ(one.precision, many.precision) << mode << " " << threads;
      EXPECT_EQ(one.recall, many.recall) << mode << " " << threads;
      EXPECT_EQ(one.scores, many.scores) << mode << " " << threads;
      EXPECT_EQ(one.stats, many.stats) << mode << " " << threads;
    }
  }
}

TEST(CocoEvalTest, EvaluatorIsReusable) {
  const Case c = LoadCase("a_small");
  absl::StatusOr<std::vector<Detection>> dts = ParseCocoResults(c.dt_text, "dt", c.gt, true);
  ASSERT_TRUE(dts.ok());
  absl::StatusOr<CocoEvaluator> ev = CocoEvaluator::Create(c.gt, IouType::kSegm);
  ASSERT_TRUE(ev.ok()) << ev.status();
  const CocoEvalResult first = ev->Evaluate(*dts).value();
  const CocoEvalResult second = ev->Evaluate(*dts).value();
  EXPECT_EQ(first.stats, second.stats);
  for (int j = 0; j < 12; ++j) EXPECT_NEAR(first.stats[j], c.expected["segm"]["stats"][j], kTol);
}

// Hand calculation: one image, one class, two objects, three detections ranked hit, miss, hit.
// Precision after each: 1, 1/2, 2/3 (envelope 1, 2/3, 2/3); recall .5, .5, 1. The 51 recall
// thresholds 0..0.50 read precision 1, the 50 above read 2/3: AP = (51 + 50 * 2/3) / 101 at every
// IoU threshold (the hits are exact).
CocoDataset HandDataset() {
  CocoDataset ds;
  ds.images = {{7, 100, 100, "a.jpg"}};
  ds.categories = {{1, "thing"}};
  CocoAnnotation a;
  a.id = 1;
  a.image_id = 7;
  a.category_id = 1;
  a.bbox = {0, 0, 10, 10};
  a.area = 100;
  CocoAnnotation b = a;
  b.id = 2;
  b.bbox = {50, 50, 40, 40};
  b.area = 1600;
  ds.annotations = {a, b};
  return ds;
}

Detection BoxDet(double score, Box box) {
  Detection d;
  d.image_id = 7;
  d.category_id = 1;
  d.score = score;
  d.bbox = box;
  return d;
}

TEST(CocoEvalTest, HandCalculatedAp) {
  const std::vector<Detection> dts = {BoxDet(0.9, {0, 0, 10, 10}), BoxDet(0.8, {20, 20, 5, 5}),
                                      BoxDet(0.7, {50, 50, 40, 40})};
  const CocoEvalResult r = EvaluateCoco(HandDataset(), dts, IouType::kBbox).value();
  const double ap = (51 + 50 * (2.0 / 3.0)) / 101;
  EXPECT_NEAR(r.stats[0], ap, 1e-12);
  EXPECT_NEAR(r.stats[1], ap, 1e-12);
  EXPECT_NEAR(r.stats[2], ap, 1e-12);
  // Small range: object 1 (area 100) counts; detection 2 (area 25) is a small false positive ranked
  // between: precision 1 up to recall 1, so AP 1. Medium range (1024..9216): object 2 counts, the
  // unmatched small detection 2 is ignored, detection 1 matches object 1, which is ignored there:
  // AP 1. No large object: -1.
  EXPECT_NEAR(r.stats[3], 1.0, 1e-12);
  EXPECT_NEAR(r.stats[4], 1.0, 1e-12);
  EXPECT_EQ(r.stats[5], -1);
  EXPECT_NEAR(r.stats[6], 0.5, 1e-12);  // AR1: only the top detection
  EXPECT_NEAR(r.stats[7], 1.0, 1e-12);
  EXPECT_NEAR(r.stats[8], 1.0, 1e-12);
  EXPECT_NEAR(r.per_category_ap.at(1), ap, 1e-12);
  const std::string summary = r.Summary();
  EXPECT_NE(
      summary.find(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = "
                   "0.835\n"),
      std::string::npos)
      << summary;
  EXPECT_NE(
      summary.find(" Average Recall     (AR) @[ IoU=0.50:0.95 | area= large | maxDets=100 ] = "
                   "-1.000\n"),
      std::string::npos)
      << summary;
}

// A crowd region absorbs any number of detections without counting them as false positives and
// without being a target itself.
TEST(CocoEvalTest, CrowdRegionIgnoresDetectionsInside) {
  CocoDataset ds = HandDataset();
  CocoAnnotation crowd;
  crowd.id = 3;
  crowd.image_id = 7;
  crowd.category_id = 1;
  crowd.bbox = {0, 60, 40, 40};
  crowd.area = 1600;
  crowd.iscrowd = true;
  ds.annotations.push_back(crowd);
  std::vector<Detection> dts = {BoxDet(0.95, {5, 65, 10, 10}), BoxDet(0.94, {20, 70, 10, 10}),
                                BoxDet(0.9, {0, 0, 10, 10}), BoxDet(0.7, {50, 50, 40, 40})};
  const CocoEvalResult r = EvaluateCoco(ds, dts, IouType::kBbox).value();
  EXPECT_NEAR(r.stats[0], 1.0, 1e-12);
  EXPECT_NEAR(r.stats[8], 1.0, 1e-12);
}

// With categories pooled (use_cats off), pycocotools lists the objects category by category in the
// order cat_ids are given, and a detection with equal IoU to two objects takes the later one. Here
// detection 1 overlaps A (category 2) and B (category 1) at IoU 0.6 each; detection 2 is B exactly
// and overlaps A at 1/3. Order [1, 2] lists B, A: detection 1 takes A, detection 2 takes B, AP50 1.
// Order [2, 1] lists A, B: detection 1 takes B, detection 2 misses: precision 1, 1/2 at recall .5,
// AP50 = 51/101. (pycocotools gives 1.0 and 0.5049504950495048.)
TEST(CocoEvalTest, PooledCategoriesKeepTheGivenOrder) {
  CocoDataset ds = HandDataset();
  ds.categories = {{1, "one"}, {2, "two"}};
  ds.annotations[0].category_id = 2;
  ds.annotations[0].bbox = {0, 0, 10, 10};
  ds.annotations[1].category_id = 1;
  ds.annotations[1].bbox = {5, 0, 10, 10};
  ds.annotations[1].area = 100;
  const std::vector<Detection> dts = {BoxDet(0.9, {2.5, 0, 10, 10}), BoxDet(0.8, {5, 0, 10, 10})};
  Params params;
  params.use_cats = false;
  EXPECT_NEAR(EvaluateCoco(ds, dts, IouType::kBbox, params).value().stats[1], 1.0, 1e-12);
  params.cat_ids = {1, 2};
  EXPECT_NEAR(EvaluateCoco(ds, dts, IouType::kBbox, params).value().stats[1], 1.0, 1e-12);
  params.cat_ids = {2, 1};
  EXPECT_NEAR(EvaluateCoco(ds, dts, IouType::kBbox, params).value().stats[1], 51.0 / 101, 1e-12);
}

TEST(CocoEvalTest, EmptyResultsGiveZerosWhereGroundTruthExistsAndMinusOneElsewhere) {
  for (const std::string name : {"a_tiny", "a_small"}) {
    const Case c = LoadCase(name);
    for (const std::string mode : {"bbox", "segm"}) {
      absl::StatusOr<std::vector<Detection>> dts = ParseCocoResults("[]", "dt", c.gt);
      ASSERT_TRUE(dts.ok()) << dts.status();
      EXPECT_TRUE(dts->empty());
      const CocoEvalResult r =
          EvaluateCoco(c.gt, *dts, mode == "bbox" ? IouType::kBbox : IouType::kSegm).value();
      // Whether a setting has counted ground truth depends on the ground truth only, so -1 falls
      // exactly where pycocotools reports -1 for the real detections.
      for (int j = 0; j < 12; ++j) {
        const double with_dets = c.expected[mode]["stats"][j];
        EXPECT_EQ(r.stats[j], with_dets == -1 ? -1.0 : 0.0) << name << " " << mode << " " << j;
      }
      for (const auto& [id, ap] : c.expected[mode]["per_category_ap"].items()) {
        EXPECT_EQ(r.per_category_ap.at(std::stoll(id)), ap.get<double>() == -1 ? -1.0 : 0.0);
      }
    }
  }
}

// --- errors name the file, the item and the reason ---

std::string ErrorOf(const absl::Status& s) { return std::string(s.message()); }

TEST(CocoEvalErrorTest, UnknownImageInResults) {
  const Case c = LoadCase("a_tiny");
  absl::StatusOr<std::vector<Detection>> r = ParseCocoResults(
      R"([{"image_id": 10, "category_id": 1, "bbox": [1,2,3,4], "score": 0.5},
          {"image_id": 12345, "category_id": 1, "bbox": [1,2,3,4], "score": 0.5}])",
      "dt.json", c.gt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorOf(r.status()),
            "dt.json: result 1 (image_id 12345): image_id 12345 is not in the ground truth");
  // In memory.
  absl::StatusOr<CocoEvalResult> e =
      EvaluateCoco(HandDataset(), {BoxDet(0.5, {0, 0, 1, 1}), Detection{99, 1, 0.5, Box{}, {}, {}}},
                   IouType::kBbox);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(ErrorOf(e.status()), "detection 1 (image_id 99): image_id is not in the ground truth");
}

TEST(CocoEvalErrorTest, UnknownCategoryInResults) {
  const Case c = LoadCase("a_tiny");
  absl::StatusOr<std::vector<Detection>> r = ParseCocoResults(c.dt_text, "dt_a_tiny.json", c.gt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorOf(r.status()),
            "dt_a_tiny.json: result 15 (image_id 10): category_id 999 is not in the ground truth's "
            "categories");
  Detection d = BoxDet(0.5, {0, 0, 1, 1});
  d.category_id = 4;
  absl::StatusOr<CocoEvalResult> e = EvaluateCoco(HandDataset(), {d}, IouType::kBbox);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(ErrorOf(e.status()),
            "detection 0 (image_id 7): category_id 4 is not in the ground truth");
  // pycocotools' behaviour on request: the detection has no effect.
  EvalOptions ignore;
  ignore.ignore_unknown_categories = true;
  const CocoEvalResult with = EvaluateCoco(HandDataset(), {BoxDet(0.9, {0, 0, 10, 10}), d},
                                           IouType::kBbox, Params(), ignore)
                                  .value();
  const CocoEvalResult without =
      EvaluateCoco(HandDataset(), {BoxDet(0.9, {0, 0, 10, 10})}, IouType::kBbox).value();
  EXPECT_EQ(with.stats, without.stats);
}

TEST(CocoEvalErrorTest, MalformedJson) {
  absl::StatusOr<CocoDataset> gt = ParseCocoGroundTruth(R"({"images": [})", "gt.json");
  ASSERT_FALSE(gt.ok());
  EXPECT_EQ(ErrorOf(gt.status()).rfind("gt.json: malformed JSON: ", 0), 0u) << gt.status();
  const Case c = LoadCase("a_tiny");
  absl::StatusOr<std::vector<Detection>> r =
      ParseCocoResults(R"([{"image_id": 10,)", "dt.json", c.gt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorOf(r.status()).rfind("dt.json: malformed JSON: ", 0), 0u) << r.status();
  r = ParseCocoResults(R"({"image_id": 10})", "dt.json", c.gt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorOf(r.status()), "dt.json: results must be a JSON list");
  // A number beyond a double's range is an error naming the file and where it stands (pycocotools'
  // json module would read it as inf).
  r = ParseCocoResults(
      "[{\"image_id\": 10, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"score\": 0.5},\n"
      " {\"image_id\": 10, \"category_id\": 1, \"bbox\": [1, 2, 3, 4], \"score\": 1e999}]",
      "dt.json", c.gt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorOf(r.status()),
            "dt.json: [1].score: the number 1e999 overflows a double (line 2, column 68)");
  gt = ParseCocoGroundTruth(R"({"images": [{"id": 1, "width": 1e999, "height": 10}]})", "gt.json");
  ASSERT_FALSE(gt.ok());
  EXPECT_EQ(ErrorOf(gt.status()),
            "gt.json: images[0].width: the number 1e999 overflows a double (line 1, column 32)");
  r = ParseCocoResults(R"([{"image_id": 10, "category_id": 1, "bbox": [1,2,3,4]}])", "dt.json",
                       c.gt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorOf(r.status()), "dt.json: result 0: missing \"score\"");
  absl::StatusOr<CocoDataset> no_file = LoadCocoGroundTruth("/nonexistent/gt.json");
  ASSERT_FALSE(no_file.ok());
  EXPECT_EQ(ErrorOf(no_file.status()), "/nonexistent/gt.json: cannot open file");
  gt = ParseCocoGroundTruth(
      R"({"images": [{"id": 1, "width": 10, "height": 10}], "categories": [{"id": 1}],
          "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [0,0,1,1]}]})",
      "gt.json");
  ASSERT_FALSE(gt.ok());
  EXPECT_EQ(ErrorOf(gt.status()), "gt.json: annotations[0] (id 5): missing \"area\"");
}

TEST(CocoEvalErrorTest, RleSizeDiffersFromImage) {
  const Case c = LoadCase("a_tiny");  // image 10 is 120 high, 160 wide
  absl::StatusOr<std::vector<Detection>> r = ParseCocoResults(
      R"([{"image_id": 10, "category_id": 1, "score": 0.5,
           "segmentation": {"size": [160, 120], "counts": "0R]1"}}])",
      "dt.json", c.gt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      ErrorOf(r.status()),
      "dt.json: result 0 (image_id 10): RLE size [160, 120] differs from image 10's [120, 160]");
  // Right size, runs that do not cover it.
  r = ParseCocoResults(
      R"([{"image_id": 10, "category_id": 1, "score": 0.5,
           "segmentation": {"size": [120, 160], "counts": [5, 10]}}])",
      "dt.json", c.gt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(
      ErrorOf(r.status()),
      "dt.json: result 0 (image_id 10): RLE runs sum to 15 pixels but its size 120x160 has 19200");
  // In memory.
  Detection d = BoxDet(0.5, {0, 0, 1, 1});
  d.mask = Rle{10, 10, {100}};
  absl::StatusOr<CocoEvalResult> e = EvaluateCoco(HandDataset(), {d}, IouType::kBbox);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(ErrorOf(e.status()),
            "detection 0 (image_id 7): mask: RLE size [10, 10] differs from image 7's [100, 100]");
  // Ground truth.
  absl::StatusOr<CocoDataset> gt = ParseCocoGroundTruth(
      R"({"images": [{"id": 1, "width": 10, "height": 8}], "categories": [{"id": 1}],
          "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [0,0,1,1], "area": 1,
                           "iscrowd": 1, "segmentation": {"size": [10, 8], "counts": [80]}}]})",
      "gt.json");
  ASSERT_FALSE(gt.ok());
  EXPECT_EQ(ErrorOf(gt.status()),
            "gt.json: annotations[0] (id 5): RLE size [10, 8] differs from image 1's [8, 10]");
}

TEST(CocoEvalErrorTest, NegativeBoxSize) {
  const Case c = LoadCase("a_tiny");
  absl::StatusOr<std::vector<Detection>> r = ParseCocoResults(
      R"([{"image_id": 10, "category_id": 1, "bbox": [1, 2, -3, 4], "score": 0.5}])", "dt.json",
      c.gt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ErrorOf(r.status()),
            "dt.json: result 0 (image_id 10): bbox [1,2,-3,4] has a negative width or height");
  absl::StatusOr<CocoEvalResult> e =
      EvaluateCoco(HandDataset(), {BoxDet(0.5, {0, 0, 3, -1})}, IouType::kBbox);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(ErrorOf(e.status()),
            "detection 0 (image_id 7): bbox [0, 0, 3, -1] has a negative size");
  CocoDataset ds = HandDataset();
  ds.annotations[1].bbox.w = -2;
  e = EvaluateCoco(ds, {}, IouType::kBbox);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(ErrorOf(e.status()),
            "annotations[1] (id 2): bbox [50, 50, -2, 40] has a negative size");
}

TEST(CocoEvalErrorTest, OtherBadInput) {
  CocoDataset ds = HandDataset();
  ds.annotations[0].image_id = 8;
  absl::StatusOr<CocoEvalResult> e = EvaluateCoco(ds, {}, IouType::kBbox);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(ErrorOf(e.status()), "annotations[0] (id 1): image_id 8 is not in the images list");
  // segm needs shapes.
  e = EvaluateCoco(HandDataset(), {}, IouType::kSegm);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(ErrorOf(e.status()),
            "annotations[0] (id 1): has no segmentation, which segm evaluation needs");
  // Bad polygon.
  ds = HandDataset();
  ds.annotations[1].segmentation.polygons = {{1, 2, 3, 4, 5}};
  ds.annotations[0].segmentation.polygons = {{1, 2, 3, 4, 5, 6}};
  e = EvaluateCoco(ds, {}, IouType::kSegm);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(ErrorOf(e.status()),
            "annotations[1] (id 2): segmentation: polygon 0: polygon has an odd number of "
            "coordinates (5)");
  // NaN score.
  e = EvaluateCoco(HandDataset(), {BoxDet(NAN, {0, 0, 1, 1})}, IouType::kBbox);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(ErrorOf(e.status()), "detection 0 (image_id 7): score is not finite");
  EXPECT_FALSE(ParseIouType("keypoints").ok());
  // A box-only result in mask evaluation is drawn as a polygon; one far outside any image is
  // refused.
  ds = HandDataset();
  ds.annotations[0].segmentation.polygons = {{0, 0, 10, 0, 10, 10, 0, 10}};
  ds.annotations[1].segmentation.polygons = {{50, 50, 90, 50, 90, 90, 50, 90}};
  EXPECT_TRUE(EvaluateCoco(ds, {BoxDet(0.5, {0, 0, 10, 10})}, IouType::kSegm).ok());
  e = EvaluateCoco(ds, {BoxDet(0.5, {0, 0, 1e9, 10})}, IouType::kSegm);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(ErrorOf(e.status()).find("detection 0 (image_id 7): bbox cannot be drawn as a mask"),
            std::string::npos)
      << e.status();
}

}  // namespace
}  // namespace mrcnn::eval
