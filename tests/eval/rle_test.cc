// RLE masks against pycocotools' own answers (tests/testdata/coco_eval/rle_cases.json, made by
// gen_rle_cases.py with pycocotools), plus round-trip properties and the error paths.
#include "eval/rle.h"

#include <fstream>
#include <random>
#include <sstream>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace mrcnn::eval {
namespace {

using nlohmann::json;

json LoadCases() {
  std::ifstream in("tests/testdata/coco_eval/rle_cases.json");
  EXPECT_TRUE(in) << "missing tests/testdata/coco_eval/rle_cases.json";
  std::stringstream s;
  s << in.rdbuf();
  return json::parse(s.str());
}

const json& Cases() {
  static const json* cases = new json(LoadCases());
  return *cases;
}

Rle FromString(const json& counts, const json& size) {
  absl::StatusOr<Rle> r = RleFromCompressedString(counts.get<std::string>(), size[0], size[1]);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Rle{};
}

std::vector<double> ToVector(const json& j) { return j.get<std::vector<double>>(); }

TEST(RleTest, EncodeAreaBoxDecodeMatchPycocotools) {
  for (const json& c : Cases()["masks"]) {
    const int h = c["size"][0], w = c["size"][1];
    std::vector<uint8_t> row_major;
    for (const json& row : c["rows"]) {
      for (char ch : row.get<std::string>()) row_major.push_back(ch == '1');
    }
    const Rle rle = RleFromRowMajor(row_major.data(), h, w);
    EXPECT_EQ(RleToCompressedString(rle), c["counts"].get<std::string>());
    EXPECT_EQ(RleArea(rle), c["area"].get<uint64_t>());
    const Box b = RleToBox(rle);
    EXPECT_EQ((std::vector<double>{b.x, b.y, b.w, b.h}), ToVector(c["bbox"]));
    // Round trips: string -> RLE -> pixels, and the column-major encoder agrees.
    const Rle parsed = FromString(c["counts"], c["size"]);
    EXPECT_EQ(parsed.counts, rle.counts);
    EXPECT_EQ(RleToRowMajor(parsed), row_major);
    const std::vector<uint8_t> column_major = RleToColumnMajor(parsed);
    EXPECT_EQ(RleFromColumnMajor(column_major.data(), h, w).counts, rle.counts);
  }
}

TEST(RleTest, PolygonRasterisationMatchesPycocotools) {
  int n = 0;
  for (const json& c : Cases()["polygons"]) {
    const int h = c["size"][0], w = c["size"][1];
    const auto polygons = c["polygons"].get<std::vector<std::vector<double>>>();
    for (size_t p = 0; p < polygons.size(); ++p) {
      absl::StatusOr<Rle> one = RleFromPolygon(polygons[p], h, w);
      ASSERT_TRUE(one.ok()) << one.status();
      EXPECT_EQ(RleToCompressedString(*one), c["each"][p].get<std::string>())
          << "case " << n << " polygon " << p << ": " << c["polygons"][p].dump();
    }
    absl::StatusOr<Rle> merged = RleFromPolygons(polygons, h, w);
    ASSERT_TRUE(merged.ok()) << merged.status();
    EXPECT_EQ(RleToCompressedString(*merged), c["merged"].get<std::string>()) << "case " << n;
    EXPECT_EQ(RleArea(*merged), c["area"].get<uint64_t>());
    const Box b = RleToBox(*merged);
    EXPECT_EQ((std::vector<double>{b.x, b.y, b.w, b.h}), ToVector(c["bbox"]));
    ++n;
  }
}

TEST(RleTest, BoxRasterisationMatchesPycocotools) {
  for (const json& c : Cases()["boxes"]) {
    const std::vector<double> v = ToVector(c["box"]);
    absl::StatusOr<Rle> r = RleFromBox(Box{v[0], v[1], v[2], v[3]}, c["size"][0], c["size"][1]);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(RleToCompressedString(*r), c["counts"].get<std::string>()) << c["box"].dump();
  }
}

TEST(RleTest, UncompressedCountsCompressLikePycocotools) {
  for (const json& c : Cases()["uncompressed"]) {
    Rle r{c["size"][0], c["size"][1], c["runs"].get<std::vector<uint32_t>>()};
    EXPECT_TRUE(ValidateRle(r).ok());
    EXPECT_EQ(RleToCompressedString(r), c["counts"].get<std::string>());
  }
}

TEST(RleTest, MergeMatchesPycocotools) {
  for (const json& c : Cases()["merges"]) {
    std::vector<Rle> inputs;
    for (const json& s : c["inputs"]) inputs.push_back(FromString(s, c["size"]));
    absl::StatusOr<Rle> uni = RleMerge(inputs, false);
    absl::StatusOr<Rle> inter = RleMerge(inputs, true);
    ASSERT_TRUE(uni.ok() && inter.ok());
    EXPECT_EQ(RleToCompressedString(*uni), c["union"].get<std::string>());
    EXPECT_EQ(RleToCompressedString(*inter), c["intersection"].get<std::string>());
  }
}

TEST(RleTest, MaskIouWithCrowdRuleMatchesPycocotools) {
  for (const json& c : Cases()["mask_ious"]) {
    for (size_t d = 0; d < c["dt"].size(); ++d) {
      const Rle dt = FromString(c["dt"][d], c["size"]);
      for (size_t g = 0; g < c["gt"].size(); ++g) {
        const Rle gt = FromString(c["gt"][g], c["size"]);
        // Bit-identical: same integer counts, same division.
        EXPECT_EQ(MaskIou(dt, gt, c["iscrowd"][g].get<int>() == 1), c["iou"][d][g].get<double>());
      }
    }
  }
}

TEST(RleTest, BoxIouWithCrowdRuleMatchesPycocotools) {
  for (const json& c : Cases()["box_ious"]) {
    for (size_t d = 0; d < c["dt"].size(); ++d) {
      const std::vector<double> a = ToVector(c["dt"][d]);
      for (size_t g = 0; g < c["gt"].size(); ++g) {
        const std::vector<double> b = ToVector(c["gt"][g]);
        EXPECT_EQ(BoxIou({a[0], a[1], a[2], a[3]}, {b[0], b[1], b[2], b[3]},
                         c["iscrowd"][g].get<int>() == 1),
                  c["iou"][d][g].get<double>());
      }
    }
  }
}

TEST(RleTest, HandExamples) {
  // 3x2 mask, column-major pixels 0 1 1 | 0 0 1: runs 1,2,2,1.
  const uint8_t column_major[6] = {0, 1, 1, 0, 0, 1};
  const Rle r = RleFromColumnMajor(column_major, 3, 2);
  EXPECT_EQ(r.counts, (std::vector<uint32_t>{1, 2, 2, 1}));
  EXPECT_EQ(RleArea(r), 3u);
  const Box b = RleToBox(r);
  EXPECT_EQ((std::vector<double>{b.x, b.y, b.w, b.h}), (std::vector<double>{0, 1, 2, 2}));
  // A mask starting with a foreground pixel starts with a zero-length background run.
  const uint8_t starts_on[2] = {1, 0};
  EXPECT_EQ(RleFromColumnMajor(starts_on, 2, 1).counts, (std::vector<uint32_t>{0, 1, 1}));
  // Crowd rule: a detection inside a crowd region has IoU 1 whatever the region's size.
  EXPECT_DOUBLE_EQ(BoxIou({10, 10, 5, 5}, {0, 0, 100, 100}, true), 1.0);
  EXPECT_DOUBLE_EQ(BoxIou({10, 10, 5, 5}, {0, 0, 100, 100}, false), 25.0 / 10000.0);
  // Masks of different sizes whose boxes overlap: pycocotools' -1.
  const uint8_t full[4] = {1, 1, 1, 1};
  EXPECT_EQ(MaskIou(RleFromColumnMajor(full, 2, 2), RleFromColumnMajor(full, 4, 1), false), -1);
}

TEST(RleTest, CompressedStringErrors) {
  // Outside '0'..'o'.
  absl::StatusOr<Rle> r = RleFromCompressedString("12~", 2, 2);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("outside"), std::string::npos) << r.status();
  // A continuation bit on the last character: truncated.
  r = RleFromCompressedString("0P", 2, 2);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("ends inside"), std::string::npos) << r.status();
  // Runs that do not cover the mask.
  EXPECT_TRUE(RleFromCompressedString("13", 2, 2).ok());
  r = RleFromCompressedString("14", 2, 2);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sum to 5 pixels but its size 2x2 has 4"), std::string::npos)
      << r.status();
  r = RleFromCompressedString("12", 3, 3);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("sum to 3"), std::string::npos) << r.status();
  // A run decoded as negative ('O' alone is -1).
  r = RleFromCompressedString("23O", 1, 10);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("invalid length -1"), std::string::npos) << r.status();
  // Negative size.
  EXPECT_FALSE(RleFromCompressedString("", -1, 2).ok());
}

TEST(RleTest, PolygonErrors) {
  EXPECT_FALSE(RleFromPolygon({1, 2, 3, 4}, 10, 10).ok());          // 2 points
  EXPECT_FALSE(RleFromPolygon({1, 2, 3, 4, 5}, 10, 10).ok());       // odd
  EXPECT_FALSE(RleFromPolygon({1, 2, 3, 4, 5, NAN}, 10, 10).ok());  // not finite
  EXPECT_FALSE(RleFromPolygon({1, 2, 3, 4, 5, 6}, 0, 10).ok());     // empty image
  EXPECT_FALSE(RleFromPolygons({}, 10, 10).ok());
  absl::StatusOr<Rle> r = RleFromPolygons({{1, 1, 5, 1, 5, 5}, {1, 2}}, 10, 10);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("polygon 1"), std::string::npos) << r.status();
  EXPECT_FALSE(RleMerge({Rle{2, 2, {4}}, Rle{2, 3, {6}}}).ok());
  // Invalid runs: an error for merge, and IoU terminates.
  EXPECT_FALSE(RleMerge({Rle{2, 2, {4}}, Rle{2, 2, {1, 1}}}).ok());
  EXPECT_GE(MaskIou(Rle{2, 2, {0, 4}}, Rle{2, 2, {0, 2}}, false), 0);
}

// Random strings never crash the parser; whatever parses re-encodes to the same runs.
TEST(RleTest, CompressedStringParserIsTotal) {
  std::mt19937 rng(7);
  int parsed = 0;
  for (int trial = 0; trial < 20000; ++trial) {
    std::string s(rng() % 12, ' ');
    for (char& c : s) c = static_cast<char>(rng() % 10 == 0 ? 32 + rng() % 95 : 48 + rng() % 64);
    const int h = 1 + rng() % 6, w = 1 + rng() % 6;
    absl::StatusOr<Rle> r = RleFromCompressedString(s, h, w);
    if (!r.ok()) continue;
    ++parsed;
    absl::StatusOr<Rle> again = RleFromCompressedString(RleToCompressedString(*r), h, w);
    ASSERT_TRUE(again.ok()) << s;
    EXPECT_EQ(again->counts, r->counts) << s;
    EXPECT_LE(RleArea(*r), static_cast<uint64_t>(h * w));
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace mrcnn::eval
