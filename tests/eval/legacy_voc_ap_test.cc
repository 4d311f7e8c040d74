// matterport's compute_ap (legacy VOC-style metric) on hand-calculated cases.
#include "eval/legacy_voc_ap.h"

#include "gtest/gtest.h"

namespace mrcnn::eval {
namespace {

// A 10x10 mask with the rectangle [x0, x0 + w) x [y0, y0 + h) set.
Rle Rect(int x0, int y0, int w, int h) {
  std::vector<uint8_t> m(100, 0);
  for (int y = y0; y < y0 + h; ++y) {
    for (int x = x0; x < x0 + w; ++x) m[y * 10 + x] = 1;
  }
  return RleFromRowMajor(m.data(), 10, 10);
}

TEST(LegacyVocApTest, HitMissHit) {
  // Ranked: class-1 hit, class-1 miss, class-2 hit. Precision 1, 1/2, 2/3 -> envelope 1, 2/3, 2/3;
  // recall .5, .5, 1. AP = .5 * 1 + .5 * 2/3.
  const Rle a = Rect(0, 0, 4, 4), b = Rect(6, 6, 4, 4), c = Rect(0, 6, 3, 3);
  LegacyVocApResult r =
      LegacyMatterportComputeAp({1, 2}, {a, b}, {2, 1, 1}, {0.7, 0.9, 0.8}, {b, a, c}).value();
  EXPECT_NEAR(r.ap, 0.5 + 0.5 * 2.0 / 3.0, 1e-12);
  EXPECT_EQ(r.recalls, (std::vector<double>{0, 0.5, 0.5, 1, 1}));
  ASSERT_EQ(r.precisions.size(), 5u);
  EXPECT_NEAR(r.precisions[2], 2.0 / 3.0, 1e-12);
  // Overlaps rows follow the score order: a, c, b.
  EXPECT_EQ(r.overlaps, (std::vector<float>{1, 0, 0, 0, 0, 1}));
}

TEST(LegacyVocApTest, ThresholdIsInclusive) {
  // Prediction covers half of the object: IoU 8/16 = 0.5 exactly.
  const Rle a = Rect(0, 0, 4, 4), half = Rect(0, 0, 4, 2);
  EXPECT_NEAR(LegacyMatterportComputeAp({1}, {a}, {1}, {0.9}, {half}, 0.5).value().ap, 1.0, 1e-12);
  EXPECT_NEAR(LegacyMatterportComputeAp({1}, {a}, {1}, {0.9}, {half}, 0.6).value().ap, 0.0, 1e-12);
  // Wrong class: no match.
  EXPECT_NEAR(LegacyMatterportComputeAp({1}, {a}, {2}, {0.9}, {a}).value().ap, 0.0, 1e-12);
  // No predictions: AP 0.
  EXPECT_NEAR(LegacyMatterportComputeAp({1}, {a}, {}, {}, {}).value().ap, 0.0, 1e-12);
}

TEST(LegacyVocApTest, ReproducesMatterportsFirstPredictionQuirk) {
  // matterport skips a ground truth only when gt_match > 0, so the object taken by prediction 0
  // (gt_match == 0) is taken again by the duplicate; recall reaches 1.5 and AP 1.5 — its number.
  const Rle a = Rect(0, 0, 4, 4), b = Rect(6, 6, 4, 4);
  LegacyVocApResult r =
      LegacyMatterportComputeAp({1, 1}, {a, b}, {1, 1, 1}, {0.9, 0.8, 0.7}, {a, a, b}).value();
  EXPECT_EQ(r.recalls, (std::vector<double>{0, 0.5, 1, 1.5, 1}));
  EXPECT_NEAR(r.ap, 1.5, 1e-12);
}

TEST(LegacyVocApTest, Errors) {
  const Rle a = Rect(0, 0, 4, 4);
  absl::StatusOr<LegacyVocApResult> r = LegacyMatterportComputeAp({}, {}, {1}, {0.5}, {a});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("no ground truth"), std::string::npos) << r.status();
  r = LegacyMatterportComputeAp({1}, {a}, {1, 2}, {0.5}, {a});
  EXPECT_FALSE(r.ok());
  r = LegacyMatterportComputeAp({1}, {a}, {1}, {0.5}, {Rle{5, 20, {100}}});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("predicted mask 0 is 5x20"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace mrcnn::eval
