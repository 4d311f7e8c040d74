// CompareDetections against hand-computed pairings and IoUs.
#include "eval/agreement.h"

#include <gtest/gtest.h>

#include <vector>

#include "eval/rle.h"

namespace mrcnn::eval {
namespace {

Detection Det(int64_t image, int64_t category, double score, double x, double y, double w, double h) {
  Detection d;
  d.image_id = image;
  d.category_id = category;
  d.score = score;
  d.bbox = Box{x, y, w, h};
  return d;
}

TEST(CompareDetections, IdenticalListsAgreeFully) {
  std::vector<Detection> a = {Det(1, 1, 0.9, 0, 0, 10, 10), Det(1, 2, 0.8, 20, 20, 5, 5),
                              Det(2, 1, 0.7, 3, 3, 4, 4)};
  DetectionAgreement g = CompareDetections(a, a);
  EXPECT_EQ(g.pairs, 3);
  EXPECT_EQ(g.same_category, 3);
  EXPECT_DOUBLE_EQ(g.mean_box_iou, 1.0);
  EXPECT_DOUBLE_EQ(g.min_box_iou, 1.0);
  EXPECT_DOUBLE_EQ(g.max_score_difference, 0.0);
  EXPECT_DOUBLE_EQ(g.same_category_share(), 1.0);
}

TEST(CompareDetections, HandComputedIouClassAndScore) {
  // a: 10x10 at the origin; b: the same box shifted by 1 px right: intersection 9x10 = 90, union 110.
  std::vector<Detection> a = {Det(1, 1, 0.9, 0, 0, 10, 10), Det(1, 1, 0.5, 50, 50, 10, 10)};
  std::vector<Detection> b = {Det(1, 1, 0.85, 1, 0, 10, 10), Det(1, 3, 0.55, 50, 50, 10, 5)};
  DetectionAgreement g = CompareDetections(a, b);
  EXPECT_EQ(g.detections_a, 2);
  EXPECT_EQ(g.detections_b, 2);
  EXPECT_EQ(g.pairs, 2);
  // Second pair: b's box is the top half of a's: IoU 50 / 100.
  EXPECT_NEAR(g.mean_box_iou, (90.0 / 110.0 + 0.5) / 2, 1e-12);
  EXPECT_NEAR(g.min_box_iou, 0.5, 1e-12);
  EXPECT_EQ(g.same_category, 1);
  EXPECT_NEAR(g.max_score_difference, 0.05, 1e-12);
}

TEST(CompareDetections, BelowThresholdOrOtherImageStaysUnpaired) {
  // IoU of these two is 25 / 175 < 0.5; the third is on an image b has nothing for.
  std::vector<Detection> a = {Det(1, 1, 0.9, 0, 0, 10, 10), Det(2, 1, 0.9, 0, 0, 10, 10)};
  std::vector<Detection> b = {Det(1, 1, 0.9, 5, 5, 10, 10)};
  DetectionAgreement g = CompareDetections(a, b);
  EXPECT_EQ(g.pairs, 0);
  EXPECT_DOUBLE_EQ(g.mean_box_iou, 0.0);
  EXPECT_DOUBLE_EQ(g.min_box_iou, 0.0);
  EXPECT_DOUBLE_EQ(g.same_category_share(), 0.0);
  // With a low threshold they pair.
  EXPECT_EQ(CompareDetections(a, b, 0.1).pairs, 1);
}

TEST(CompareDetections, GreedyInScoreOrderEachDetectionUsedOnce) {
  // Both of a's detections overlap b's only one; the higher-scored detection of a takes it.
  std::vector<Detection> a = {Det(1, 1, 0.4, 0, 0, 10, 10), Det(1, 2, 0.9, 0, 0, 10, 9)};
  std::vector<Detection> b = {Det(1, 2, 0.9, 0, 0, 10, 10)};
  DetectionAgreement g = CompareDetections(a, b);
  EXPECT_EQ(g.pairs, 1);
  EXPECT_NEAR(g.mean_box_iou, 0.9, 1e-12);
  EXPECT_EQ(g.same_category, 1);
}

TEST(CompareDetections, MaskIouOverPairsWithMasks) {
  // 4x4 masks: a covers the left half (8 px), b the left three columns (12 px): IoU 8 / 12.
  std::vector<uint8_t> ma(16, 0), mb(16, 0);
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 2; ++x) ma[y * 4 + x] = 1;
    for (int x = 0; x < 3; ++x) mb[y * 4 + x] = 1;
  }
  Detection a = Det(1, 1, 0.9, 0, 0, 2, 4), b = Det(1, 1, 0.9, 0, 0, 3, 4);
  a.mask = RleFromRowMajor(ma.data(), 4, 4);
  b.mask = RleFromRowMajor(mb.data(), 4, 4);
  DetectionAgreement g = CompareDetections({a}, {b});
  EXPECT_EQ(g.pairs, 1);
  EXPECT_EQ(g.mask_pairs, 1);
  EXPECT_NEAR(g.mean_mask_iou, 8.0 / 12.0, 1e-12);
  EXPECT_NEAR(g.mean_box_iou, 8.0 / 12.0, 1e-12);
}

}  // namespace
}  // namespace mrcnn::eval
